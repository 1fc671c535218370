"""Projects, sections and sharing over MCP: the official MCP Python SDK client
against the real `ontask` binary, with a second (and third) account created over
REST as a person would sign up."""
from __future__ import annotations

import pytest

from conftest import Account, Server, connect, new_account
from test_mcp import call, fail

pytestmark = pytest.mark.anyio


async def titles(client, **filters) -> list[str]:
    return sorted(t["title"] for t in (await call(client, "list_tasks", filters))["items"])


async def test_a_shared_project_with_sections_subtasks_and_roles(server: Server, account: Account, transport: str):
    sam = new_account(server)
    stranger = new_account(server)

    async with connect(server, transport, account.rw_token) as owner:
        garden = (await call(owner, "create_project", {"name": "Garden", "colour": "green"}))["project"]
        assert garden["name"] == "Garden" and garden["colour"] == "green"
        assert garden["role"] == "owner" and garden["members"] == 1
        listed = (await call(owner, "list_projects", {}))["items"]
        assert [p["name"] for p in listed] == ["Inbox", "Garden"]
        inbox = listed[0]

        doing = (await call(owner, "add_section", {"project_id": garden["id"], "name": "Doing"}))["section"]
        assert doing["project_id"] == garden["id"]
        later = (await call(owner, "add_section", {"project_id": garden["id"], "name": "Later"}))["section"]
        renamed = (await call(owner, "rename_section", {"id": later["id"], "name": "Someday"}))["section"]
        assert renamed["name"] == "Someday"
        sections = (await call(owner, "list_sections", {"project_id": garden["id"]}))["items"]
        assert [s["name"] for s in sections] == ["Doing", "Someday"]

        # A task added to the project, then moved into a section, with a subtask.
        tulips = (await call(owner, "add_task", {"title": "Plant tulips", "project_id": garden["id"]}))["task"]
        assert tulips["project_id"] == garden["id"] and tulips.get("section_id") is None
        moved = (await call(owner, "move_task", {"id": tulips["id"], "section_id": doing["id"]}))["task"]
        assert moved["section_id"] == doing["id"] and moved["version"] == tulips["version"] + 1
        bulbs = (await call(owner, "add_task", {
            "title": "Buy bulbs", "project_id": garden["id"], "parent_id": tulips["id"],
        }))["task"]
        assert bulbs["parent_id"] == tulips["id"]
        subtasks = (await call(owner, "list_subtasks", {"id": tulips["id"]}))["items"]
        assert [t["title"] for t in subtasks] == ["Buy bulbs"]
        await call(owner, "add_task", {"title": "Call mum"})  # the Inbox

        assert await titles(owner, project=garden["id"]) == ["Buy bulbs", "Plant tulips"]
        assert await titles(owner, project=garden["id"], parent="none") == ["Plant tulips"]
        # A subtask sits in its parent's section.
        assert await titles(owner, section=doing["id"]) == ["Buy bulbs", "Plant tulips"]
        assert await titles(owner, project=garden["id"], section="none") == []
        assert await titles(owner, project=inbox["id"]) == ["Call mum"]

        # Deleting a section keeps its tasks in the project.
        await call(owner, "move_task", {"id": bulbs["id"], "section_id": renamed["id"], "parent_id": "none"})
        assert await titles(owner, section=renamed["id"]) == ["Buy bulbs"]
        assert (await call(owner, "delete_section", {"id": renamed["id"]})) == {"deleted": True, "id": renamed["id"]}
        assert await titles(owner, project=garden["id"], section="none") == ["Buy bulbs"]

        # Sharing: Sam becomes an editor and gets a task assigned.
        member = (await call(owner, "share_project", {
            "project_id": garden["id"], "email": sam.email, "role": "editor",
        }))["member"]
        assert member["email"] == sam.email and member["role"] == "editor"
        assert "no account" in await fail(owner, "share_project", {
            "project_id": garden["id"], "email": "nobody-here@example.com", "role": "viewer",
        })
        members = (await call(owner, "list_members", {"project_id": garden["id"]}))["items"]
        assert sorted(m["role"] for m in members) == ["editor", "owner"]
        assigned = (await call(owner, "assign_task", {"id": tulips["id"], "assignee": member["user_id"]}))["task"]
        assert assigned["assignee_id"] == member["user_id"]
        assert await titles(owner, assignee="me") == []

    # Sam's own MCP session sees the shared project and task, and may change it.
    async with connect(server, transport, sam.rw_token) as editor:
        projects = {p["name"]: p for p in (await call(editor, "list_projects", {}))["items"]}
        assert set(projects) == {"Inbox", "Garden"}
        assert projects["Garden"]["role"] == "editor" and projects["Garden"]["members"] == 2
        assert await titles(editor, assignee="me") == ["Plant tulips"]
        assert await titles(editor) == ["Buy bulbs", "Plant tulips"], "the owner's Inbox stays theirs"
        shared = (await call(editor, "get_task", {"id": tulips["id"]}))["task"]
        assert shared["title"] == "Plant tulips"
        await call(editor, "add_task", {"title": "Water the roses", "project_id": garden["id"]})
        # Comments, with a mention of the owner (by the part of their e-mail before the @).
        handle = account.email.split("@")[0]
        said = (await call(editor, "add_comment", {"task_id": tulips["id"], "body": f"Done by Friday, @{handle}?"}))["comment"]
        assert said["author_id"] == member["user_id"] and len(said["mentioned"]) == 1 and not said["edited"]
        assert [c["body"] for c in (await call(editor, "list_comments", {"id": tulips["id"]}))["items"]] == [said["body"]]
        edited = (await call(editor, "edit_comment", {
            "id": said["id"], "body": "Done by Saturday?", "expected_version": said["version"],
        }))["comment"]
        assert edited["body"] == "Done by Saturday?" and edited["edited"] and edited["version"] == said["version"] + 1
        assert "version" in await fail(editor, "edit_comment", {
            "id": said["id"], "body": "stale", "expected_version": said["version"],
        })
        scratch = (await call(editor, "add_comment", {"task_id": tulips["id"], "body": "typo"}))["comment"]
        assert await call(editor, "delete_comment", {"id": scratch["id"]}) == {"deleted": True, "id": scratch["id"]}
        assert [c["id"] for c in (await call(editor, "list_comments", {"id": tulips["id"]}))["items"]] == [said["id"]]
        # The activity names which member did what, newest first.
        activity = (await call(editor, "project_activity", {"project_id": garden["id"], "limit": 3}))["items"]
        assert [a["event_type"] for a in activity] == ["comment.deleted", "comment.added", "comment.edited"]
        assert {a["user_id"] for a in activity} == {member["user_id"]}
        assert activity[0]["task_id"] == tulips["id"] and activity[0]["seq"] > activity[1]["seq"]
        older = await call(editor, "project_activity", {"project_id": garden["id"], "before": activity[-1]["seq"]})
        assert "task.created" in [a["event_type"] for a in older["items"]]
        # An editor changes tasks, not the project or its members.
        assert "only the owner" in await fail(editor, "update_project", {"id": garden["id"], "name": "Mine"})
        assert "owner" in await fail(editor, "transfer_project", {"project_id": garden["id"], "user_id": "me"})
        assert "only the owner" in await fail(editor, "share_project", {
            "project_id": garden["id"], "email": stranger.email, "role": "editor",
        })
    # The same over REST with Sam's session.
    status, body, _ = server.api("GET", f"/api/v1/tasks?project={garden['id']}&assignee=me", token=sam.jwt)
    assert status == 200 and [t["title"] for t in body["items"]] == ["Plant tulips"]

    async with connect(server, transport, account.rw_token) as owner:
        demoted = (await call(owner, "change_member_role", {
            "project_id": garden["id"], "user_id": member["user_id"], "role": "viewer",
        }))["member"]
        assert demoted["role"] == "viewer"

    # A viewer reads, and every write is refused with the reason.
    async with connect(server, transport, sam.rw_token) as viewer:
        assert await titles(viewer, project=garden["id"]) == ["Buy bulbs", "Plant tulips", "Water the roses"]
        message = await fail(viewer, "add_task", {"title": "Sneaky", "project_id": garden["id"]})
        assert message == "forbidden: you are a viewer of this project; only an editor may do this"
        assert "viewer" in await fail(viewer, "complete_task", {"id": tulips["id"]})
        assert "viewer" in await fail(viewer, "move_task", {"id": tulips["id"], "section_id": "none"})
        assert "viewer" in await fail(viewer, "assign_task", {"id": tulips["id"], "assignee": "none"})
        assert "viewer" in await fail(viewer, "add_section", {"project_id": garden["id"], "name": "Mine"})
        assert "viewer" in await fail(viewer, "delete_task", {"id": bulbs["id"]})
        assert "viewer" in await fail(viewer, "add_comment", {"task_id": tulips["id"], "body": "me too"})
        assert "viewer" in await fail(viewer, "edit_comment", {"id": said["id"], "body": "mine, as a viewer"})
        assert len((await call(viewer, "list_comments", {"id": tulips["id"]}))["items"]) == 1
        assert "viewer" in await fail(viewer, "delete_project", {"id": garden["id"], "tasks": "delete"})
    status, body, _ = server.api("GET", f"/api/v1/tasks?project={garden['id']}", token=account.jwt)
    assert sorted(t["title"] for t in body["items"]) == ["Buy bulbs", "Plant tulips", "Water the roses"]

    # Someone who is not a member learns nothing: every tool says not found.
    async with connect(server, transport, stranger.rw_token) as outsider:
        assert [p["name"] for p in (await call(outsider, "list_projects", {}))["items"]] == ["Inbox"]
        assert await titles(outsider) == []
        for name, arguments in [
            ("get_task", {"id": tulips["id"]}),
            ("list_tasks", {"project": garden["id"]}),
            ("list_sections", {"project_id": garden["id"]}),
            ("list_members", {"project_id": garden["id"]}),
            ("list_subtasks", {"id": tulips["id"]}),
            ("list_comments", {"id": tulips["id"]}),
            ("add_comment", {"task_id": tulips["id"], "body": "hi"}),
            ("edit_comment", {"id": said["id"], "body": "hi"}),
            ("delete_comment", {"id": said["id"]}),
            ("project_activity", {"project_id": garden["id"]}),
            ("transfer_project", {"project_id": garden["id"], "user_id": "me"}),
            ("add_task", {"title": "Intruder", "project_id": garden["id"]}),
            ("move_task", {"id": tulips["id"], "section_id": "none"}),
            ("share_project", {"project_id": garden["id"], "email": stranger.email, "role": "editor"}),
            ("remove_member", {"project_id": garden["id"], "user_id": "me"}),
            ("delete_project", {"id": garden["id"], "tasks": "delete"}),
        ]:
            message = await fail(outsider, name, arguments)
            assert message.startswith("not found"), f"{name}: {message}"
            assert "viewer" not in message and "forbidden" not in message, f"{name}: {message}"

    # Sam leaves; the project is gone from their lists.
    async with connect(server, transport, sam.rw_token) as leaving:
        left = await call(leaving, "remove_member", {"project_id": garden["id"], "user_id": "me"})
        assert left == {"removed": True, "project_id": garden["id"], "user_id": member["user_id"], "left": True}
        assert "not found" in await fail(leaving, "get_task", {"id": tulips["id"]})

    async with connect(server, transport, account.rw_token) as owner:
        assert (await call(owner, "get_task", {"id": tulips["id"]}))["task"].get("assignee_id") is None
        assert "cannot leave" in await fail(owner, "remove_member", {"project_id": garden["id"], "user_id": "me"})

        # Archive and unarchive.
        archived = (await call(owner, "update_project", {"id": garden["id"], "archived": True}))["project"]
        assert archived["archived"] is True
        assert await titles(owner) == ["Call mum"], "an archived project's tasks leave the lists"
        assert [p["name"] for p in (await call(owner, "list_projects", {"archived": True}))["items"]] == ["Garden"]
        assert "archived" in await fail(owner, "add_task", {"title": "Late", "project_id": garden["id"]})
        back = (await call(owner, "update_project", {
            "id": garden["id"], "archived": False, "name": "Allotment",
        }))["project"]
        assert back["archived"] is False and back["name"] == "Allotment"
        assert "Inbox" in await fail(owner, "update_project", {"id": inbox["id"], "name": "Outbox"})

        # Handing over: the new owner must be a member; the old one stays as an editor.
        status, me, _ = server.api("GET", "/api/v1/me", token=stranger.jwt)
        assert status == 200
        stranger_id = me["id"]
        assert "member" in await fail(owner, "transfer_project", {"project_id": garden["id"], "user_id": stranger_id})
        assert "Inbox" in await fail(owner, "transfer_project", {"project_id": inbox["id"], "user_id": "me"})

        # Deleting says what happens to the tasks; here they move to the Inbox.
        assert "tasks" in await fail(owner, "delete_project", {"id": garden["id"]})
        deleted = await call(owner, "delete_project", {"id": garden["id"], "tasks": "move_to_inbox"})
        assert deleted == {"deleted": True, "id": garden["id"], "tasks": "move_to_inbox"}
        assert await titles(owner, project=inbox["id"]) == ["Buy bulbs", "Call mum", "Plant tulips", "Water the roses"]
        assert "not found" in await fail(owner, "list_sections", {"project_id": garden["id"]})


async def test_project_tools_need_the_write_scope_and_valid_ids(server: Server, account: Account, transport: str):
    async with connect(server, transport, account.ro_token) as client:
        assert [p["name"] for p in (await call(client, "list_projects", {}))["items"]] == ["Inbox"]
        assert "tasks:write" in await fail(client, "create_project", {"name": "Nope"})
    async with connect(server, transport, account.rw_token) as client:
        assert "not a project id" in await fail(client, "list_sections", {"project_id": "garden"})
        assert "colour" in await fail(client, "create_project", {"name": "Odd", "colour": "plaid"})
        task = (await call(client, "add_task", {"title": "Somewhere"}))["task"]
        assert "section_id" in await fail(client, "move_task", {"id": task["id"], "section_id": "doing"})
        assert "at least one" in await fail(client, "move_task", {"id": task["id"]})
        assert (await call(client, "assign_task", {"id": task["id"], "assignee": "me"}))["task"]["assignee_id"]
        assert (await call(client, "assign_task", {"id": task["id"], "assignee": "none"}))["task"].get("assignee_id") is None
