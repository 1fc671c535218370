"""The chart's PrometheusRule under `promtool test rules` (Prometheus's own rule
engine, from the Debian package `prometheus`): every alert fires on series that
should trigger it and stays quiet on series that should not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from conftest import NAMESPACE, rendered

# What a scrape of an api pod carries, matching the rules' selector (namespace, job=~"ontask-.+").
POD = {"namespace": NAMESPACE, "job": "ontask-api", "component": "api", "pod": "ontask-api-7d9c6b5f4-x2x7q", "instance": "10.244.1.17:8080"}


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    all_labels = {**POD, **labels}
    text = ", ".join(f'{k}="{v}"' for k, v in sorted(all_labels.items()))
    return {"series": f"{name}{{{text}}}", "values": values}


def rules() -> dict[str, Any]:
    return rendered("all-enabled").kind("PrometheusRule")[0]["spec"]


def alert_rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rules()["groups"] for r in g["rules"] if "alert" in r}


def thresholds() -> dict[str, Any]:
    return rendered("all-enabled").values["monitoring"]["prometheusRule"]


def expected(alert: str, labels: dict[str, str], value: str | None = None) -> dict[str, Any]:
    """The alert as Prometheus fires it: the rule's labels on top of the
    series', and its annotations with `$labels` and `$value` filled in."""
    rule = alert_rules()[alert]

    def fill(text: str) -> str:
        text = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m[1]], text)
        return re.sub(r"\{\{\s*\$value\s*\}\}", value or "", text)

    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": {k: fill(v) for k, v in rule["annotations"].items()}}


def cases() -> list[tuple[str, dict[str, Any]]]:
    """(alert, promtool test) pairs: a firing and a quiet case for every alert."""
    t = thresholds()
    le = str(t["latencyThresholdSeconds"])
    burns = [n for n in alert_rules() if n.startswith("OntaskAvailabilityBudgetBurn")]
    slow = [n for n in alert_rules() if n.startswith("OntaskLatencyBudgetBurn")]
    out: list[tuple[str, dict[str, Any]]] = []

    def case(alert: str, input_series: list[dict[str, str]], at: str, fired: list[dict[str, Any]]) -> None:
        out.append((alert, {"interval": "1m", "input_series": input_series,
                            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": fired}]}))

    # Half the requests fail (or are slow) for 4 h: every burn rate fires, the
    # slowest one after its 3 h `for`. With none failing, none does.
    for alert in burns:
        ok = series("http_requests_total", "0+10x300", route="/api/v1/tasks", status="200")
        case(alert, [ok, series("http_requests_total", "0+10x300", route="/api/v1/tasks", status="500")], "4h", [expected(alert, {})])
        case(alert, [ok, series("http_requests_total", "0x300", route="/api/v1/tasks", status="500")], "4h", [])
    for alert in slow:
        count = series("http_request_duration_seconds_count", "0+10x300")
        case(alert, [count, series("http_request_duration_seconds_bucket", "0+5x300", le=le)], "4h", [expected(alert, {})])
        case(alert, [count, series("http_request_duration_seconds_bucket", "0+10x300", le=le)], "4h", [])

    lag = t["consumerLagThreshold"] * 2
    case("OntaskConsumerLagHigh", [series("ontask_consumer_lag_events", f"{lag}x30", consumer="reminders")], "20m",
         [expected("OntaskConsumerLagHigh", {"consumer": "reminders"}, str(lag))])
    case("OntaskConsumerLagHigh", [series("ontask_consumer_lag_events", f"{t['consumerLagThreshold']}x30", consumer="reminders")], "20m", [])
    lag = t["relayLagThreshold"] * 2
    case("OntaskRelayLagHigh", [series("ontask_relay_lag_events", f"{lag}x30", component="relay")], "20m",
         [expected("OntaskRelayLagHigh", {}, str(lag))])
    case("OntaskRelayLagHigh", [series("ontask_relay_lag_events", "0x30", component="relay")], "20m", [])

    # One dead letter a minute: 15 in the 15-minute window.
    case("OntaskDeadLettersGrowing", [series("ontask_dead_letters_total", "0+1x30", consumer="webhooks")], "25m",
         [expected("OntaskDeadLettersGrowing", {"consumer": "webhooks"}, "15")])
    case("OntaskDeadLettersGrowing", [series("ontask_dead_letters_total", "3x30", consumer="webhooks")], "25m", [])

    published = series("ontask_events_published_total", "0+10x40", component="relay")
    case("OntaskEventsNotHandled", [published, series("ontask_events_handled_total", "0x40", consumer="recurrence", outcome="done")], "35m",
         [expected("OntaskEventsNotHandled", {})])
    case("OntaskEventsNotHandled", [published, series("ontask_events_handled_total", "0+10x40", consumer="recurrence", outcome="done")], "35m", [])

    retry = series("ontask_emails_sent_total", "0+1x60", component="worker", outcome="retry")
    case("OntaskReminderEmailsFailing", [retry, series("ontask_emails_sent_total", "0x60", component="worker", outcome="sent")], "50m",
         [expected("OntaskReminderEmailsFailing", {})])
    case("OntaskReminderEmailsFailing", [retry, series("ontask_emails_sent_total", "0+1x60", component="worker", outcome="sent")], "50m", [])

    case("OntaskTargetDown", [series("up", "0x20")], "15m", [expected("OntaskTargetDown", POD)])
    case("OntaskTargetDown", [series("up", "1x20")], "15m", [])
    return out


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: it is in the Debian package `prometheus` (.ci/run installs it)"
    return path


def test_every_alert_has_a_firing_and_a_quiet_case():
    covered: dict[str, list[bool]] = {}
    for alert, test in CASES:
        covered.setdefault(alert, []).append(bool(test["alert_rule_test"][0]["exp_alerts"]))
    assert set(covered) == set(alert_rules())
    assert all(sorted(kinds) == [False, True] for kinds in covered.values()), covered


def test_the_rules_pass_promtool_check(tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    done = subprocess.run([promtool(), "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


CASES = cases()


@pytest.mark.parametrize(("alert", "test"), CASES,
                         ids=[f"{a}-{'fires' if t['alert_rule_test'][0]['exp_alerts'] else 'quiet'}" for a, t in CASES])
def test_alert_under_promtool(alert, test, tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}))
    done = subprocess.run([promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
