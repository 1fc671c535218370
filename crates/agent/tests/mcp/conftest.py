"""Fixtures for driving the real `ontask` binary with the official MCP Python SDK.

A session-wide `ontask serve` runs on a free port and a temporary data directory
(real SQLite). Each test registers its own account over REST and mints API
tokens, then talks MCP over streamable HTTP (`/mcp`) or over stdio, by starting
`ontask mcp --token ...` on the same data directory.

The binary is `$ONTASK_BIN`, by default `target/debug/ontask` in the repository.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

ROOT = Path(__file__).resolve().parents[4]
BIN = os.environ.get("ONTASK_BIN") or str(ROOT / "target" / "debug" / "ontask")
START_TIMEOUT = 60


@dataclass
class Server:
    url: str
    data_dir: str
    process: subprocess.Popen

    def api(self, method: str, path: str, token: str | None = None, body: object | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, object, dict[str, str]]:
        """One REST call; answers (status, parsed JSON body or text, headers)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if body is not None:
            request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, hdrs = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), dict(e.headers)
        text = raw.decode()
        try:
            return status, json.loads(text) if text else None, hdrs
        except json.JSONDecodeError:
            return status, text, hdrs


@dataclass
class Account:
    email: str
    jwt: str
    rw_token: str
    ro_token: str


def _clean_env() -> dict[str, str]:
    # The server must see only what the test gives it, not the developer's ONTASK_* settings.
    return {k: v for k, v in os.environ.items() if not k.startswith("ONTASK_")}


def start_ontask(args: list[str], data_dir: Path, log_name: str) -> tuple[subprocess.Popen, str]:
    """Starts `ontask serve` with `args` on a free port; answers the process and its URL."""
    log = open(data_dir / log_name, "wb")
    # Every test signs up accounts from this one address: three calls each
    # (registration and two tokens) would soon pass the per-address sign-in
    # limit, which protects real servers and is tested with the HTTP suite.
    env = {**_clean_env(), "ONTASK_RATE_LIMITS__SIGN_IN_PER_ADDRESS": "100000"}
    process = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *args],
        cwd=data_dir, env=env, stdout=log, stderr=subprocess.PIPE, text=True,
    )
    log.close()
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            break
        if line == "":
            break
        seen.append(line)
        if "ontask is running at " in line:
            return process, line.split("ontask is running at ", 1)[1].split()[0]
    process.kill()
    pytest.fail("ontask did not start:\n" + "".join(seen))


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    if not Path(BIN).exists():
        pytest.fail(f"the ontask binary is missing at {BIN}: run `cargo build -p ontask-ontask` or set ONTASK_BIN")
    data_dir = tmp_path_factory.mktemp("ontask-data")
    process, url = start_ontask([], data_dir, "server.log")
    yield Server(url=url, data_dir=str(data_dir), process=process)
    stop(process)


@pytest.fixture
def account(server: Server) -> Account:
    return new_account(server)


def new_account(server: Server) -> Account:
    """A fresh account registered over REST, with a read-write and a read-only API token."""
    email = f"agent-{uuid.uuid4().hex[:12]}@example.com"
    status, body, _ = server.api("POST", "/api/v1/auth/register", body={"email": email, "password": "correct horse battery"})
    assert status == 201, body
    jwt = body["token"]
    tokens = {}
    for name, scopes in [("rw", ["tasks:read", "tasks:write"]), ("ro", ["tasks:read"])]:
        status, body, _ = server.api("POST", "/api/v1/tokens", token=jwt, body={"name": f"mcp-{name}", "scopes": scopes})
        assert status == 201, body
        assert body["token"].startswith("ot_")
        tokens[name] = body["token"]
    return Account(email=email, jwt=jwt, rw_token=tokens["rw"], ro_token=tokens["ro"])


@asynccontextmanager
async def connect(server: Server, transport: str, token: str):
    """An initialised MCP client session over `transport` ("http" or "stdio")."""
    if transport == "http":
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http:
            async with Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
                yield client
    elif transport == "stdio":
        params = StdioServerParameters(
            command=BIN,
            args=["mcp", "--data-dir", server.data_dir],
            env={"ONTASK_MCP_TOKEN": token},
            cwd=server.data_dir,
        )
        async with Client(params) as client:
            yield client
    else:
        raise ValueError(transport)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=["http", "stdio"])
def transport(request) -> str:
    return request.param
