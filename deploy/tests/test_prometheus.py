"""A real Prometheus server (Debian package `prometheus`) scrapes the real binary
under a little load, with the chart's PrometheusRule loaded: every recording
rule and alert evaluates without error, every query of the Grafana dashboard
runs, and every metric they name is in the scrape. Everything listens on
127.0.0.1 and the test ends both processes.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CHART, NAMESPACE, rendered
from test_config_keys import ontask_binary

DASHBOARD = CHART / "dashboards" / "ontask-overview.json"
# The labels the ServiceMonitor's relabelling gives an api pod's series.
TARGET_LABELS = {"namespace": NAMESPACE, "component": "api", "pod": "ontask-api-0"}
DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def wait_for(what: str, check) -> Any:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        try:
            found = check()
        except (OSError, ValueError):
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", []) if "expr" in t]
    # What Grafana substitutes before it sends a query.
    return [q.replace("$namespace", NAMESPACE).replace("$component", ".*").replace("$__rate_interval", "1m") for q in queries]


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (recorded series, with a colon, excluded)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    names = set(re.findall(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\s*\{", without_strings))
    return names - {"by", "without", "on", "ignoring", "group_left", "group_right"}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    prom = shutil.which("prometheus")
    assert prom, "prometheus is missing: it is the Debian package `prometheus` (.ci/run installs it)"
    tmp = tmp_path_factory.mktemp("prometheus")
    app_port, prom_port = free_port(), free_port()
    app = subprocess.Popen(
        [ontask_binary(), "serve", "--listen", f"127.0.0.1:{app_port}", "--data-dir", str(tmp / "data")],
        env={"PATH": "/usr/bin:/bin", "ONTASK_LOG": "warn"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    server = None
    try:
        base = f"http://127.0.0.1:{app_port}"
        wait_for("ontask to be ready", lambda: call(f"{base}/readyz")[0] == 200)
        # A little of everything: sign-up, creates, a completion, a list, an error.
        status, session = call(f"{base}/api/v1/auth/register", {"email": "prom@example.com", "password": "correct-horse-battery"})
        assert status == 201, status
        token = session["token"]
        for i in range(20):
            status, task = call(f"{base}/api/v1/tasks", {"title": f"Scraped {i}", "tags": ["metrics"]}, token)
            assert status == 201
        assert call(f"{base}/api/v1/tasks/{task['id']}/complete", {}, token)[0] == 200
        assert call(f"{base}/api/v1/tasks?limit=5", token=token)[0] == 200
        assert call(f"{base}/api/v1/tasks/not-a-task", token=token)[0] in (400, 404)

        rules = rendered("all-enabled").kind("PrometheusRule")[0]["spec"]
        for group in rules["groups"]:
            group["interval"] = "1s"
        (tmp / "rules.yaml").write_text(yaml.safe_dump(rules))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [{
                "job_name": "ontask-api",
                "static_configs": [{"targets": [f"127.0.0.1:{app_port}"], "labels": TARGET_LABELS}],
            }],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        server = subprocess.Popen(
            [prom, "--config.file=prometheus.yml", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        api = f"http://127.0.0.1:{prom_port}/api/v1"
        # A few scrapes and rule rounds, so rates have two samples to work with.
        wait_for("three scrapes of ontask", lambda: (
            r := query(api, f'count_over_time(up{{job="ontask-api"}}[1m])')) and float(r[0]["value"][1]) >= 3)
        yield api
    finally:
        for p in (server, app):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


def query(api: str, expr: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{api}/query?{urllib.parse.urlencode({'query': expr})}", timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", (expr, body)
    assert not body.get("warnings"), (expr, body["warnings"])
    return body["data"]["result"]


def test_the_target_is_up(prometheus):
    result = query(prometheus, 'up{job="ontask-api"}')
    assert [float(r["value"][1]) for r in result] == [1.0]


def test_every_rule_evaluates_without_error(prometheus):
    def evaluated():
        with urllib.request.urlopen(f"{prometheus}/rules", timeout=10) as r:
            groups = json.loads(r.read())["data"]["groups"]
        loaded = [rule for g in groups for rule in g["rules"]]
        # A rule not yet evaluated reports Go's zero time.
        done = loaded and all(not rule.get("lastEvaluation", "0001").startswith("0001") for rule in loaded)
        return loaded if done else None

    loaded = wait_for("every rule to be evaluated", evaluated)
    expected = {r.get("record") or r.get("alert") for g in rendered("all-enabled").kind("PrometheusRule")[0]["spec"]["groups"] for r in g["rules"]}
    assert {r["name"] for r in loaded} == expected
    bad = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok" or r.get("lastError")]
    assert bad == []
    # The recording rules produced series from the scrape.
    assert query(prometheus, "ontask:http_slow:ratio_rate5m"), "the slow-request ratio was recorded"
    assert query(prometheus, "ontask:http_requests:rate5m"), "the request rate was recorded"


def test_every_alert_expression_and_dashboard_query_runs(prometheus):
    spec = rendered("all-enabled").kind("PrometheusRule")[0]["spec"]
    exprs = [r["expr"] for g in spec["groups"] for r in g["rules"]] + dashboard_queries()
    assert len(exprs) > 40
    for expr in exprs:
        query(prometheus, expr)


def test_every_metric_the_rules_and_dashboard_name_is_scraped(prometheus):
    with urllib.request.urlopen(f"{prometheus}/label/__name__/values", timeout=10) as r:
        scraped = set(json.loads(r.read())["data"])
    spec = rendered("all-enabled").kind("PrometheusRule")[0]["spec"]
    exprs = [r["expr"] for g in spec["groups"] for r in g["rules"]] + dashboard_queries()
    named = set().union(*(metric_names(e) for e in exprs))
    assert {"http_requests_total", "ontask_dead_letters_total", "up"} <= named, named
    assert sorted(named - scraped) == []
