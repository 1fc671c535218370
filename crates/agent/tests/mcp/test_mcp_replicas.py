"""MCP over streamable HTTP across replicas: the chart runs several agent pods
behind one Service, so consecutive requests of one client land on different
processes. A second `ontask serve --role agent` shares the session server's
data directory (real SQLite, as two pods share PostgreSQL), and one MCP
client sends its requests to the two processes in turn."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

from conftest import Account, Server, start_ontask, stop
from test_mcp import call

pytestmark = pytest.mark.anyio


class RoundRobin(httpx2.AsyncBaseTransport):
    """Sends each request to the next replica, as a load balancer without
    affinity would, and remembers who answered what."""

    def __init__(self, replicas: list[httpx2.URL]):
        self.replicas = replicas
        self.inner = httpx2.AsyncHTTPTransport()
        self.served: Counter[int] = Counter()
        self.session_ids: set[str] = set()
        self.sent = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        replica = self.replicas[self.sent % len(self.replicas)]
        self.sent += 1
        request.url = request.url.copy_with(host=replica.host, port=replica.port)
        request.headers["host"] = f"{replica.host}:{replica.port}"
        response = await self.inner.handle_async_request(request)
        self.served[replica.port] += 1
        if "mcp-session-id" in response.headers:
            self.session_ids.add(response.headers["mcp-session-id"])
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def second_replica(server: Server):
    process, url = start_ontask(["--role", "agent"], Path(server.data_dir), "agent-replica.log")
    yield url
    stop(process)


async def test_one_client_is_served_by_two_replicas(server: Server, account: Account, second_replica: str):
    transport = RoundRobin([httpx2.URL(server.url), httpx2.URL(second_replica)])
    # What create_mcp_http_client makes, with our transport under it.
    timeout = httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {account.rw_token}"}, timeout=timeout, transport=transport)
    async with http:
        async with Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            created = []
            for title in ["Replica one", "Replica two", "Replica three", "Replica four"]:
                created.append((await call(client, "add_task", {"title": title}))["task"])
            listed = await call(client, "list_tasks", {"sort": "created", "order": "asc"})
            updated = (await call(client, "update_task", {"id": created[0]["id"], "priority": "high"}))["task"]
            completed = (await call(client, "complete_task", {"id": created[1]["id"]}))["task"]

    # Every request after initialize went to the other replica than the one before.
    ports = {httpx2.URL(server.url).port, httpx2.URL(second_replica).port}
    assert set(transport.served) == ports, transport.served
    assert min(transport.served.values()) >= 4, transport.served
    # No replica handed out a session the other would not know.
    assert transport.session_ids == set()

    assert [t["title"] for t in listed["items"]] == [t["title"] for t in created]
    assert updated["priority"] == "high" and completed["status"] == "completed"
    # What the tools did through both replicas is one account's data, seen over REST.
    status, body, _ = server.api("GET", "/api/v1/tasks?sort=created&order=asc", token=account.jwt)
    assert status == 200
    by_title = {t["title"]: t for t in body["items"]}
    assert set(by_title) == {t["title"] for t in created}
    assert by_title["Replica one"]["priority"] == "high"
    assert by_title["Replica two"]["status"] == "completed"


def test_http_transport_keeps_no_session(server: Server, account: Account):
    """Without sessions there is no stream to open or session to end: GET and
    DELETE on /mcp are refused, and initialize hands out no session id."""
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"accept": "application/json, text/event-stream"}
    status, body, headers = server.api("POST", "/mcp", token=account.rw_token, body=initialize, headers=accept)
    assert status == 200, body
    assert body["result"]["serverInfo"]["name"]
    assert not {k.lower() for k in headers} & {"mcp-session-id"}
    for method in ["GET", "DELETE"]:
        status, _, _ = server.api(method, "/mcp", token=account.rw_token, headers=accept)
        assert status == 405, (method, status)
