"""The OpenAPI document is the contract: schemathesis (`--checks all`, every
phase, the stateful one included) drives the real `ontask` binary from
`/openapi.json` and must find no failure: no server error, no status code,
header, content type or body the document does not describe, no schema-valid
request refused and no invalid one accepted.

The server runs on a temporary data directory (SQLite) with the rate limits
off (`[rate_limits] enabled = false`): thousands of requests from one address
and one account would pass them, and 429 is not what is under test. How the
run is bounded and what it leaves out (and why) is in schemathesis.toml.

The binary is `$ONTASK_BIN`, by default `target/debug/ontask` in the repository;
`st` is the one next to this interpreter (target/venv-contract, see .ci/run).
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
BIN = os.environ.get("ONTASK_BIN") or str(ROOT / "target" / "debug" / "ontask")
ST = str(Path(sys.executable).with_name("st"))
START_TIMEOUT = 60
# The run is bounded by the number of cases (schemathesis.toml); past this it has hung.
TIMEOUT = 600

# The API and the chat agent only: no worker role, so nothing is delivered to
# the webhook and push URLs the run registers; private targets allowed, so
# the made-up host names in them are not resolved either (registration skips
# the DNS check for them). All traffic stays on loopback.
CONFIG = """
role = "api,agent"

[rate_limits]
enabled = false

[webhooks]
allow_private_targets = true

[push]
allow_private_endpoints = true
"""


def _clean_env() -> dict[str, str]:
    # The server must see only what the test gives it, not the developer's ONTASK_* settings.
    return {k: v for k, v in os.environ.items() if not k.startswith("ONTASK_")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(BIN).exists():
        pytest.fail(f"the ontask binary is missing at {BIN}: run `cargo build -p ontask-ontask` or set ONTASK_BIN")
    data_dir = tmp_path_factory.mktemp("ontask-contract")
    (data_dir / "ontask.toml").write_text(CONFIG)
    log = open(data_dir / "server.log", "wb")
    process = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir / "data")],
        cwd=data_dir, env=_clean_env(), stdout=log, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    url, seen = None, []
    while url is None:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            break
        if line == "":
            break
        seen.append(line)
        if "ontask is running at " in line:
            url = line.split("ontask is running at ", 1)[1].split()[0]
    if url is None:
        process.kill()
        pytest.fail("ontask did not start:\n" + "".join(seen))
    yield url, data_dir
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def register(url: str) -> str:
    """A fresh account's session token."""
    body = json.dumps({"email": f"contract-{uuid.uuid4().hex[:8]}@example.com", "password": "contract-password"})
    request = urllib.request.Request(
        url + "/api/v1/auth/register", data=body.encode(), method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["token"]


def test_the_api_keeps_its_openapi_contract(server):
    url, data_dir = server
    token = register(url)
    report = data_dir / "report"
    started = time.monotonic()
    run = subprocess.run(
        [
            ST, "--config-file", str(HERE / "schemathesis.toml"), "run", url + "/openapi.json",
            "--checks", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "-H", f"Authorization: Bearer {token}",
            "--report", "junit", "--report-dir", str(report),
            "--no-color",
        ],
        cwd=data_dir, capture_output=True, text=True, timeout=TIMEOUT,
    )
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    print(output)
    print(f"schemathesis ran for {elapsed:.0f} s")
    assert run.returncode == 0, f"schemathesis found failures (exit {run.returncode}):\n{output[-20000:]}"
