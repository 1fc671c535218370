"""The MCP server from the outside: the official MCP Python SDK client against the
real `ontask` binary, over streamable HTTP and over stdio."""
from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import BIN, Account, Server, _clean_env, connect

pytestmark = pytest.mark.anyio

TOOLS = {
    "add_task", "quick_add", "list_tasks", "get_task", "update_task", "complete_task", "reopen_task", "skip_occurrence",
    "delete_task", "add_reminder", "remove_reminder", "list_tags", "task_history", "list_subtasks",
    "move_task", "assign_task", "list_projects", "create_project", "update_project", "delete_project",
    "list_sections", "add_section", "rename_section", "delete_section", "list_members", "share_project",
    "change_member_role", "remove_member", "list_comments", "add_comment", "edit_comment", "delete_comment",
    "transfer_project", "project_activity",
}
DESTRUCTIVE = {
    "delete_task", "remove_reminder", "delete_project", "delete_section", "remove_member", "delete_comment",
    "transfer_project",
}


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


async def call(client, name: str, arguments: dict) -> dict:
    """Calls a tool that must succeed and answers its structured result."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {text_of(result)}"
    assert result.structured_content is not None
    # The text content carries the same JSON, for clients that only read text.
    assert json.loads(text_of(result)) == result.structured_content
    return result.structured_content


async def fail(client, name: str, arguments: dict) -> str:
    """Calls a tool that must fail as a tool result (not a protocol error)."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} unexpectedly succeeded: {text_of(result)}"
    return text_of(result)


async def test_lists_every_tool_with_schema_and_description(server: Server, account: Account, transport: str):
    async with connect(server, transport, account.rw_token) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 20, tool.name
        assert tool.input_schema["type"] == "object", tool.name
    assert tools["add_task"].input_schema["required"] == ["title"]
    assert set(tools["list_tasks"].input_schema["properties"]) == {
        "status", "priority", "tags", "query", "due_before", "due_after", "overdue", "sort", "order", "limit", "cursor",
        "project", "section", "parent", "assignee",
    }
    assert {"project_id", "section_id", "parent_id", "assignee_id"} <= set(tools["add_task"].input_schema["properties"])
    assert tools["list_tasks"].annotations.read_only_hint is True
    assert {name for name, t in tools.items() if t.annotations.destructive_hint} == DESTRUCTIVE
    # Deleting a project never guesses what happens to its tasks.
    assert sorted(tools["delete_project"].input_schema["required"]) == ["id", "tasks"]
    # The descriptions tell the model who may do what.
    assert "owner" in tools["share_project"].description and "viewer" in tools["share_project"].description
    # Descriptions of arguments reach the model, e.g. the accepted due forms.
    assert "Europe/Berlin" in json.dumps(tools["add_task"].input_schema["properties"]["due"])


async def test_every_tool_changes_tasks_like_rest_does(server: Server, account: Account, transport: str):
    async with connect(server, transport, account.rw_token) as client:
        report = (await call(client, "add_task", {
            "title": "Write report", "description": "Q4 numbers", "priority": "high", "tags": ["work"],
            "due": "2030-01-15T09:00[Europe/Berlin]", "recurrence": "FREQ=MONTHLY",
        }))["task"]
        assert report["title"] == "Write report" and report["priority"] == "high"
        assert report["due"] == "2030-01-15T09:00:00+01:00[Europe/Berlin]"
        assert report["status"] == "open" and report["tags"] == ["work"]

        quick = await call(client, "quick_add", {
            "text": "Pay rent tomorrow 9am !high #home every month", "timezone": "Europe/Berlin",
        })
        rent = quick["task"]
        tomorrow = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=1)).date().isoformat()
        assert rent["title"] == "Pay rent"
        assert rent["priority"] == "high" and rent["tags"] == ["home"]
        assert "FREQ=MONTHLY" in rent["recurrence"]
        assert rent["due"].startswith(f"{tomorrow}T09:00:00") and rent["due"].endswith("[Europe/Berlin]")
        assert {t["kind"] for t in quick["understood"]} >= {"due", "priority", "tag", "recurrence"}

        # Every list filter.
        async def titles(**filters) -> list[str]:
            return [t["title"] for t in (await call(client, "list_tasks", filters))["items"]]

        assert sorted(await titles()) == ["Pay rent", "Write report"]
        assert await titles(tags=["home"]) == ["Pay rent"]
        assert await titles(priority=["high"], sort="due", order="asc") == ["Pay rent", "Write report"]
        assert await titles(priority=["high"], sort="due", order="desc") == ["Write report", "Pay rent"]
        assert await titles(priority=["low", "urgent"]) == []
        assert await titles(query="report") == ["Write report"]
        assert await titles(due_before="2029-01-01") == ["Pay rent"]
        assert await titles(due_after="2029-01-01") == ["Write report"]
        assert await titles(status="completed") == []
        assert await titles(overdue=True) == []
        first = await call(client, "list_tasks", {"sort": "created", "limit": 1})
        assert [t["title"] for t in first["items"]] == ["Write report"] and first["next_cursor"]
        second = await call(client, "list_tasks", {"sort": "created", "limit": 1, "cursor": first["next_cursor"]})
        assert [t["title"] for t in second["items"]] == ["Pay rent"]

        got = (await call(client, "get_task", {"id": report["id"]}))["task"]
        assert got == report

        updated = (await call(client, "update_task", {
            "id": report["id"], "title": "Write the report", "clear": ["due", "recurrence"], "expected_version": got["version"],
        }))["task"]
        assert updated["title"] == "Write the report" and updated["due"] is None and updated["recurrence"] is None
        assert updated["description"] == "Q4 numbers", "fields not given stay"
        assert updated["version"] == got["version"] + 1

        with_reminder = (await call(client, "add_reminder", {"id": rent["id"], "reminder": "15m"}))["task"]
        assert with_reminder["reminders"] == ["PT15M"]
        again = (await call(client, "add_reminder", {"id": rent["id"], "reminder": "PT15M"}))["task"]
        assert again["reminders"] == ["PT15M"] and again["version"] == with_reminder["version"]
        removed = (await call(client, "remove_reminder", {"id": rent["id"], "reminder": "15m"}))["task"]
        assert removed["reminders"] == []

        done = (await call(client, "complete_task", {"id": report["id"]}))["task"]
        assert done["status"] == "completed" and done["completed_at"]
        assert await titles(status="completed") == ["Write the report"]
        reopened = (await call(client, "reopen_task", {"id": report["id"]}))["task"]
        assert reopened["status"] == "open" and reopened["completed_at"] is None

        stretch = (await call(client, "add_task", {"title": "Stretch", "due": "2030-01-15", "recurrence": "FREQ=DAILY"}))["task"]
        skipped = (await call(client, "skip_occurrence", {"id": stretch["id"], "expected_version": stretch["version"]}))["task"]
        assert skipped["due"] == "2030-01-16" and skipped["status"] == "open"
        assert "recurring" in await fail(client, "skip_occurrence", {"id": report["id"]})
        await call(client, "delete_task", {"id": stretch["id"]})

        tags = (await call(client, "list_tags", {}))["items"]
        assert tags == [{"tag": "home", "tasks": 1, "open": 1}, {"tag": "work", "tasks": 1, "open": 1}]

        history = (await call(client, "task_history", {"id": report["id"]}))["items"]
        assert [e["event_type"] for e in history] == ["task.created", "task.updated", "task.completed", "task.reopened"]
        assert {e["actor"] for e in history} == {"agent"}
        assert set(history[1]["changes"]) >= {"title", "due", "recurrence"}

        deleted = await call(client, "delete_task", {"id": report["id"]})
        assert deleted == {"deleted": True, "id": report["id"]}
        assert "not found" in await fail(client, "get_task", {"id": report["id"]})
        history = (await call(client, "task_history", {"id": report["id"]}))["items"]
        assert history[-1]["event_type"] == "task.deleted"

    # The same state and the same events, seen through REST.
    status, body, _ = server.api("GET", "/api/v1/tasks", token=account.jwt)
    assert status == 200 and [t["title"] for t in body["items"]] == ["Pay rent"]
    status, body, _ = server.api("GET", f"/api/v1/tasks/{rent['id']}/history", token=account.jwt)
    assert status == 200
    assert [e["event_type"] for e in body["items"]] == ["task.created", "task.updated", "task.updated"]
    for event in body["items"]:
        assert event["metadata"]["actor"] == "agent"
        assert event["metadata"]["correlation_id"]
        assert event["user_id"] == rent["owner_id"]


async def test_resources_and_plan_my_day_prompt(server: Server, account: Account, transport: str):
    today = datetime.now(timezone.utc).date().isoformat()
    for title, due in [("Renew passport", "2020-01-01"), ("Call the bank", today), ("Plan the trip", "2031-06-01")]:
        status, body, _ = server.api("POST", "/api/v1/tasks", token=account.jwt, body={"title": title, "due": due})
        assert status == 201, body
    async with connect(server, transport, account.ro_token) as client:
        resources = {r.uri: r for r in (await client.list_resources()).resources}
        assert set(resources) == {"ontask://tasks/open", "ontask://agenda/today"}

        agenda = json.loads((await client.read_resource("ontask://agenda/today")).contents[0].text)
        assert agenda["date"] == today and agenda["timezone"] == "UTC"
        assert [t["title"] for t in agenda["overdue"]] == ["Renew passport"]
        assert [t["title"] for t in agenda["due_today"]] == ["Call the bank"]

        open_tasks = json.loads((await client.read_resource("ontask://tasks/open")).contents[0].text)
        assert [t["title"] for t in open_tasks["items"]] == ["Renew passport", "Call the bank", "Plan the trip"]

        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["plan_my_day"]
        prompt = await client.get_prompt("plan_my_day", {"timezone": "UTC", "focus": "errands"})
        text = prompt.messages[0].content.text
        assert "Renew passport" in text and "Call the bank" in text and "errands" in text
        assert "Plan the trip" not in text, "only today's and overdue tasks belong in the day plan"


async def test_read_only_token_cannot_change_tasks(server: Server, account: Account, transport: str):
    status, task, _ = server.api("POST", "/api/v1/tasks", token=account.jwt, body={"title": "Stay open"})
    assert status == 201
    async with connect(server, transport, account.ro_token) as client:
        listed = await call(client, "list_tasks", {})
        assert [t["title"] for t in listed["items"]] == ["Stay open"]
        assert "tasks:write" in await fail(client, "add_task", {"title": "Sneaky"})
        assert "tasks:write" in await fail(client, "complete_task", {"id": task["id"]})
        assert "tasks:write" in await fail(client, "quick_add", {"text": "Sneaky tomorrow"})
        assert "tasks:write" in await fail(client, "add_reminder", {"id": task["id"], "reminder": "1h"})
    status, body, _ = server.api("GET", "/api/v1/tasks", token=account.jwt)
    assert [(t["title"], t["status"], t["reminders"]) for t in body["items"]] == [("Stay open", "open", [])]


async def test_tool_errors_are_tool_results_with_a_clear_message(server: Server, account: Account, transport: str):
    async with connect(server, transport, account.rw_token) as client:
        message = await fail(client, "get_task", {"id": str(uuid.uuid4())})
        assert "not found" in message
        message = await fail(client, "add_task", {"title": "Party", "due": "someday", "recurrence": "sometimes"})
        assert "due:" in message and "recurrence:" in message and "2026-11-24" in message
        message = await fail(client, "get_task", {"id": "42"})
        assert "not a task id" in message
        await fail(client, "add_task", {})  # a required argument is missing
        task = (await call(client, "add_task", {"title": "Versioned"}))["task"]
        message = await fail(client, "complete_task", {"id": task["id"], "expected_version": task["version"] + 5})
        assert "changed" in message
        message = await fail(client, "remove_reminder", {"id": task["id"], "reminder": "1d"})
        assert "no reminder P1D" in message
        # The session stays usable after errors.
        assert (await call(client, "get_task", {"id": task["id"]}))["task"]["status"] == "open"


def test_http_transport_requires_a_valid_bearer_token(server: Server):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"accept": "application/json, text/event-stream"}
    status, body, headers = server.api("POST", "/mcp", body=initialize, headers=accept)
    assert status == 401 and body["status"] == 401
    assert headers.get("WWW-Authenticate", headers.get("www-authenticate", "")).startswith("Bearer")
    status, _, _ = server.api("POST", "/mcp", token="ot_not-a-real-token", body=initialize, headers=accept)
    assert status == 401


def test_stdio_refuses_a_bad_token(server: Server):
    done = subprocess.run(
        [BIN, "mcp", "--token", "ot_not-a-real-token", "--data-dir", server.data_dir],
        input="", capture_output=True, text=True, timeout=60, cwd=server.data_dir, env=_clean_env(),
    )
    assert done.returncode != 0
    assert "token was not accepted" in done.stderr
    assert done.stdout == "", "stdout belongs to the protocol"
