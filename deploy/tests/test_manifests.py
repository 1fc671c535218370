"""The rendered manifests are valid: helm lint (SC-012), Kubernetes JSON schemas in
strict mode, and the custom resources (Prometheus Operator, Dapr, Strimzi)
against their schemas. Plus the chart's behaviour beyond the seeds.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

import helm_python as helm

from conftest import (
    CHART,
    DEPLOY,
    ENVIRONMENTS,
    PUBLIC_ROLES,
    REPO,
    ROLES,
    TESTS,
    VARIANTS,
    container,
    load_values,
    render,
    rendered,
    strip_source,
)

# The chart declares kubeVersion >=1.27; check the oldest supported and the newest known.
KUBE_VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version())
CRD_GROUPS = ("dapr.io/", "kafka.strimzi.io/", "monitoring.coreos.com/")


# --- helm lint (SC-012) ----------------------------------------------------


@pytest.mark.parametrize("variant_name", list(VARIANTS))
def test_sc_012_helm_lint_strict_is_clean(variant_name):
    values = load_values(VARIANTS[variant_name])
    report = helm.lint(str(CHART), values, strict=True, kube_version="v1.30.0")
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    assert report["messages"] == [], report["messages"]


def test_helm_lint_reports_broken_values():
    # the lint really checks: a value outside the schema is an error
    report = helm.lint(str(CHART), {"service": {"type": "Internal"}}, strict=True)
    assert report["errors"] or any(m["severity"] >= 3 for m in report["messages"])


def test_values_schema_rejects_unknown_components_and_env():
    chart = helm.Chart.load(str(CHART))
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"components": {"frontend": {"enabled": True}}})
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"config": {"extraEnv": {"DATABASE_URL": "x"}}})
    chart.validate_schema({"config": {"extraEnv": {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}}})


# --- Kubernetes schemas ----------------------------------------------------


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_builtin_resources_valid_against_kubernetes_schemas_strict(variant, kube_version):
    checked = 0
    for doc in variant.docs:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            continue
        try:
            kubernetes_validate.validate(strip_source(doc), kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:  # pragma: no cover - shows the failure
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} ({doc['__source__']}): {e.message} at {list(e.path)}")
        checked += 1
    assert checked >= 6 * 6  # six kinds for each of the six roles at least


def test_kubernetes_validation_is_strict():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"typo": 1, "ports": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSIONS[-1], strict=True)


# --- Custom resources ------------------------------------------------------


def _strictify(schema):
    """Reject unknown fields: pydantic models default to ignoring them."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _strictify(value)
    elif isinstance(schema, list):
        for value in schema:
            _strictify(value)
    return schema


@functools.lru_cache(maxsize=None)
def crd_validators() -> dict[str, jsonschema.protocols.Validator]:
    validators = {}
    # Prometheus Operator: JSON schema of the models generated from its CRDs
    # (PyPI cloudcoil-models-prometheus-operator).
    from cloudcoil.models.prometheus_operator import v1 as prom

    for kind in ("ServiceMonitor", "PrometheusRule"):
        schema = _strictify(getattr(prom, kind).model_json_schema(by_alias=True))
        validators[f"monitoring.coreos.com/v1/{kind}"] = jsonschema.Draft202012Validator(schema)
    # Dapr and Strimzi: structural schemas kept in schemas/ (see the file's "source").
    for name in ("dapr.json", "strimzi.json"):
        for key, schema in json.loads((TESTS / "schemas" / name).read_text())["schemas"].items():
            jsonschema.Draft7Validator.check_schema(schema)
            validators[key] = jsonschema.Draft7Validator(schema)
    return validators


def validate_custom(doc: dict) -> list[str]:
    key = f"{doc['apiVersion']}/{doc['kind']}"
    validator = crd_validators().get(key)
    assert validator is not None, f"no schema for {key}"
    return [f"{key} {doc['metadata']['name']}: {e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(strip_source(doc))]


def test_custom_resources_valid_against_crd_schemas(all_enabled):
    custom = [d for d in all_enabled.docs if d["apiVersion"].startswith(CRD_GROUPS)]
    kinds = {d["kind"] for d in custom}
    assert kinds == {"Component", "Subscription", "Resiliency", "Configuration", "KafkaTopic", "ServiceMonitor", "PrometheusRule"}
    errors = [e for d in custom for e in validate_custom(d)]
    assert errors == []


def test_custom_resource_schemas_reject_mistakes(all_enabled):
    sm = strip_source(all_enabled.kind("ServiceMonitor")[0])
    sm["spec"]["endpoints"][0]["interval"] = "thirty seconds"
    sm["spec"]["endpoints"][0]["bogusField"] = True
    assert len(validate_custom(sm)) >= 2
    sub = strip_source(all_enabled.kind("Subscription")[0])
    sub["spec"]["route"] = "/old-style"
    assert validate_custom(sub)
    topic = strip_source(all_enabled.kind("KafkaTopic")[0])
    topic["spec"]["partitions"] = 0
    assert validate_custom(topic)


def test_standalone_manifests_valid():
    """deploy/kafka and deploy/dapr files against the same schemas."""
    files = sorted((DEPLOY / "kafka").glob("*.yaml")) + sorted((DEPLOY / "dapr" / "components").glob("*.yaml")) + [DEPLOY / "dapr" / "config.yaml"]
    seen = set()
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                assert validate_custom(doc) == [], f
                seen.add(doc["kind"])
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "Component", "Subscription", "Resiliency", "Configuration"} <= seen


# --- Secrets ---------------------------------------------------------------


def test_secret_only_rendered_when_opted_in_with_install_time_values():
    assert "ontask/templates/secret.yaml" not in render() or not render()["ontask/templates/secret.yaml"].strip()
    with pytest.raises(helm.HelmRenderError, match="secrets.databaseUrl"):
        render({"secrets": {"create": True}})
    out = render({"secrets": {"create": True, "databaseUrl": "postgres://u:p@db/ontask", "jwtSecret": "x" * 48}})
    secret = yaml.safe_load(out["ontask/templates/secret.yaml"])
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "ontask-secrets"
    assert set(secret["data"]) == {"ONTASK_DATABASE_URL", "ONTASK_AUTH__JWT_SECRET"}
    # a new secret value rolls the pods
    out2 = render({"secrets": {"create": True, "databaseUrl": "postgres://u:q@db/ontask", "jwtSecret": "x" * 48}})
    checksum = re.findall(r"checksum/secret: (\w+)", out["ontask/templates/deployment.yaml"])
    checksum2 = re.findall(r"checksum/secret: (\w+)", out2["ontask/templates/deployment.yaml"])
    assert len(checksum) == len(ROLES) and checksum != checksum2


def test_existing_secret_name_is_used():
    out = render({"secrets": {"existingSecret": "ontask-from-eso"}})
    assert out["ontask/templates/deployment.yaml"].count("name: ontask-from-eso") == len(ROLES)


def test_no_plaintext_secrets_in_values_files():
    suspicious = re.compile(r"(://[^/\s:@]+:[^@\s]+@|BEGIN [A-Z ]*PRIVATE KEY|ghp_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})")
    files = list(CHART.glob("values*.yaml")) + [TESTS / "values-all-enabled.yaml"]
    for f in files:
        text = f.read_text()
        assert not suspicious.search(text), f
        values = yaml.safe_load(text) or {}
        for key in ("databaseUrl", "jwtSecret", "daprApiToken", "smtpUrl", "previousJwtSecrets", "vapidPrivateKey"):
            assert not values.get("secrets", {}).get(key), (f, key)


# --- Beyond the seeds ------------------------------------------------------


def test_checksum_config_rolls_pods_on_config_change():
    a = render()["ontask/templates/deployment.yaml"]
    b = render({"config": {"publicUrl": "https://changed.example.com"}})["ontask/templates/deployment.yaml"]
    ca, cb = (re.findall(r"checksum/config: (\w+)", x) for x in (a, b))
    assert len(ca) == len(ROLES) and all(x != y for x, y in zip(ca, cb))


def test_topology_spread_constraints(env):
    for role, d in env.deployments.items():
        tsc = d["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
        if not env.values["topologySpread"]["enabled"]:
            assert tsc == []
            continue
        assert {c["topologyKey"] for c in tsc} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for c in tsc:
            assert c["labelSelector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]


def test_network_policies_ingress_only_from_controller_to_public_roles(variant):
    if not variant.values["networkPolicy"]["enabled"]:
        pytest.skip("network policies off in this variant")
    policies = variant.by_component("NetworkPolicy")
    assert sorted(policies) == sorted(ROLES)
    controller_ns = variant.values["networkPolicy"]["ingressController"]["namespaceSelector"]
    for role, p in policies.items():
        assert set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        assert p["spec"]["podSelector"]["matchLabels"] == variant.deployments[role]["spec"]["selector"]["matchLabels"]
        from_controller = [r for r in p["spec"]["ingress"] for peer in r["from"]
                           if peer.get("namespaceSelector", {}).get("matchLabels") == controller_ns]
        assert bool(from_controller) == (role in PUBLIC_ROLES), role
        for rule in p["spec"]["ingress"]:
            for peer in rule["from"]:
                assert "ipBlock" not in peer  # nothing from outside the cluster directly
        egress_ports = {port["port"] for r in p["spec"]["egress"] for port in r.get("ports", [])}
        assert {53, 5432, 9092} <= egress_ports
        external = [r for r in p["spec"]["egress"] for peer in r.get("to", []) if "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0"]
        assert bool(external) == (role in ("agent", "worker")), role


def test_prometheus_rule_slo_burn_rate_alerts(all_enabled):
    rule = all_enabled.kind("PrometheusRule")[0]
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    records = {r["record"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    for speed in ("Fast", "Medium", "Slow", "VerySlow"):
        assert f"OntaskAvailabilityBudgetBurn{speed}" in alerts
        assert f"OntaskLatencyBudgetBurn{speed}" in alerts
    assert {"OntaskConsumerLagHigh", "OntaskRelayLagHigh", "OntaskDeadLettersGrowing"} <= set(alerts)
    fast = alerts["OntaskAvailabilityBudgetBurnFast"]["expr"]
    assert "ontask:http_errors:ratio_rate1h > (14.4 * (1 - 0.999))" in fast
    assert "ontask:http_errors:ratio_rate5m" in fast
    assert "ontask:http_slow:ratio_rate1h" in records
    assert "ontask_consumer_lag_events" in alerts["OntaskConsumerLagHigh"]["expr"]
    assert "ontask_dead_letters_total" in alerts["OntaskDeadLettersGrowing"]["expr"]
    assert "ontask_emails_sent_total" in alerts["OntaskReminderEmailsFailing"]["expr"]
    assert "{{ $labels.consumer }}" in alerts["OntaskConsumerLagHigh"]["annotations"]["summary"]
    for a in alerts.values():
        assert a["labels"]["severity"] in ("critical", "warning")
        assert a["annotations"]["runbook_url"].startswith("https://")
    # every recording rule that an alert uses is defined
    used = set(re.findall(r"ontask:[a-z_:0-9]+", json.dumps(list(alerts.values()))))
    assert used <= records


def test_prometheus_rule_metric_names_exported_by_binary(all_enabled):
    known = {
        "http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_count",
        "http_request_duration_seconds_sum", "http_connections_active", "http_errors_total",
        "ontask_events_appended_total", "ontask_events_published_total", "ontask_events_handled_total",
        "ontask_relay_lag_events", "ontask_consumer_lag_events", "ontask_reminders_fired_total",
        "ontask_dead_letters_total", "ontask_realtime_connections", "ontask_build_info", "up",
        "ontask_emails_sent_total", "ontask_webhook_deliveries_total",
    }
    text = json.dumps(all_enabled.kind("PrometheusRule")[0]["spec"])
    used = set(re.findall(r"\b((?:http|ontask)_[a-z_]+|up)\{", text))
    assert used and used <= known, used - known


def test_kafka_topics_target_strimzi_cluster(env):
    topics = env.kind("KafkaTopic")
    if not env.values["kafka"]["topics"]["create"]:
        assert topics == []
        return
    assert len(topics) == 6
    cluster = env.values["kafka"]["topics"]["clusterName"]
    for t in topics:
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert t["metadata"]["namespace"] == "kafka"
        isr = t["spec"]["config"]["min.insync.replicas"]
        assert 1 <= isr <= t["spec"]["replicas"]
    # and the brokers the app uses belong to that cluster
    cm = env.one("ConfigMap", "ontask-api")
    assert cm["data"]["ONTASK_KAFKA__BROKERS"].startswith(f"{cluster}-kafka-bootstrap.")


def test_environments_use_their_own_kafka_cluster():
    brokers = {e: rendered(e).one("ConfigMap", "ontask-worker")["data"]["ONTASK_KAFKA__BROKERS"] for e in ENVIRONMENTS}
    assert len(set(brokers.values())) == len(ENVIRONMENTS)


def test_dapr_component_names_match_self_hosted(all_enabled):
    chart = {c["metadata"]["name"]: c["spec"]["type"] for c in all_enabled.kind("Component")}
    local = {}
    for f in (DEPLOY / "dapr" / "components").glob("*.yaml"):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and doc["kind"] == "Component":
                local[doc["metadata"]["name"]] = doc["spec"]["type"]
    assert set(chart) == set(local)
    for name, kind in chart.items():
        if kind != "secretstores.kubernetes":
            assert local[name] == kind, name
    # subscriptions: same topics, routes and dead-letter topics
    chart_subs = {(s["spec"]["topic"], s["spec"]["routes"]["default"], s["spec"]["deadLetterTopic"], s["spec"]["pubsubname"])
                  for s in all_enabled.kind("Subscription")}
    local_subs = {(s["spec"]["topic"], s["spec"]["routes"]["default"], s["spec"]["deadLetterTopic"], s["spec"]["pubsubname"])
                  for s in yaml.safe_load_all((DEPLOY / "dapr" / "components" / "subscriptions.yaml").read_text())}
    assert chart_subs == local_subs


def test_dapr_multi_app_run_file():
    run = yaml.safe_load((DEPLOY / "dapr" / "dapr.yaml").read_text())
    assert run["version"] == 1
    apps = {a["appID"]: a for a in run["apps"]}
    assert set(apps) == {f"ontask-{r}" for r in ROLES}
    ports = [a["appPort"] for a in apps.values()]
    assert len(set(ports)) == len(ports)
    for role in ROLES:
        app = apps[f"ontask-{role}"]
        assert app["command"][-2:] == ["--role", role]
        assert app["env"]["ONTASK_LISTEN"].endswith(f":{app['appPort']}")
        assert app["env"]["ONTASK_DAPR__HTTP_PORT"] == str(app["daprHTTPPort"])
    assert (DEPLOY / "dapr" / run["common"]["resourcesPath"]).is_dir()


def test_helm_test_pod_and_notes(variant):
    pods = variant.kind("Pod")
    assert len(pods) == 1
    assert "helm test ontask" in variant.notes
    assert "ontask-secrets" in variant.notes


def test_the_grafana_dashboard_ships_as_a_configmap_for_the_sidecar():
    board = CHART / "dashboards" / "ontask-overview.json"
    out = render({"monitoring": {"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}}})
    cm = yaml.safe_load(out["ontask/templates/monitoring/dashboard.yaml"])
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "ontask-dashboard"
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["ontask-overview.json"]) == json.loads(board.read_text())
    # Off by default.
    assert not [c for c in rendered("all-enabled").kind("ConfigMap") if c["metadata"]["name"] == "ontask-dashboard"]


def test_the_chart_icon_is_in_the_repo():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    prefix = "https://raw.githubusercontent.com/ontask/ontask/main/"
    assert chart["icon"].startswith(prefix)
    icon = REPO / chart["icon"].removeprefix(prefix)
    assert icon.is_file() and icon.read_text().lstrip().startswith("<svg")


def test_the_httproute_routes_what_the_ingress_routes():
    out = render({"ingress": {"enabled": True}, "httpRoute": {"enabled": True, "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}]}})
    ingress = yaml.safe_load(out["ontask/templates/ingress.yaml"])
    route = yaml.safe_load(out["ontask/templates/httproute.yaml"])
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1" and route["kind"] == "HTTPRoute"
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateways", "sectionName": "https"}]
    assert route["spec"]["hostnames"] == [ingress["spec"]["rules"][0]["host"]]
    by_ingress = {(p["path"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
                  for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    by_route = {(m["path"]["value"], b["name"], b["port"])
                for rule in route["spec"]["rules"] for m in rule["matches"] for b in rule["backendRefs"]}
    assert by_route == by_ingress and by_route
    assert all(m["path"]["type"] == "PathPrefix" for rule in route["spec"]["rules"] for m in rule["matches"])
    # Off by default.
    assert "ontask/templates/httproute.yaml" not in render({}) or not render({})["ontask/templates/httproute.yaml"].strip()


def test_health_and_metrics_are_not_public():
    """The operational endpoints have a port of their own: the probes and the
    ServiceMonitor use it, and no Ingress or HTTPRoute path reaches it."""
    r = rendered("all-enabled")
    out = render({"ingress": {"enabled": True}, "httpRoute": {"enabled": True, "parentRefs": [{"name": "public"}]}})
    ingress = yaml.safe_load(out["ontask/templates/ingress.yaml"])
    route = yaml.safe_load(out["ontask/templates/httproute.yaml"])
    public_ports = {p["backend"]["service"]["port"]["number"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    public_ports |= {b["port"] for rule in route["spec"]["rules"] for b in rule["backendRefs"]}
    for svc in r.kind("Service"):
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert ports["ops"]["targetPort"] == "ops" and ports["ops"]["port"] not in public_ports
    for d in r.kind("Deployment"):
        c = d["spec"]["template"]["spec"]["containers"][0]
        named = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert named["ops"] != named["http"]
        assert c["readinessProbe"]["httpGet"]["port"] == c["livenessProbe"]["httpGet"]["port"] == "ops"
    assert [e["port"] for e in r.kind("ServiceMonitor")[0]["spec"]["endpoints"]] == ["ops"]
    with pytest.raises(Exception, match="opsPort must differ"):
        render({"opsPort": 8080})


def test_an_httproute_needs_a_gateway():
    with pytest.raises(Exception, match="parentRefs"):
        render({"httpRoute": {"enabled": True, "parentRefs": []}})
