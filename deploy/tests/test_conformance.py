"""Seed 001 conformance: one test per functional requirement (FR-001..FR-030),
checked on the rendered output of every environment (dev, staging, production);
FRs about optional parts (Dapr, topics, monitoring) also on the all-enabled variant.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import (
    CHART,
    DEPLOY,
    PUBLIC_ROLES,
    REPO,
    ROLES,
    container,
    render,
    rendered,
)

FR026_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "environment",
    "team",
    "cost-center",
)
FR027_ANNOTATIONS = ("description", "owner", "contact", "documentation", "incident-channel")
TOPICS = ("ontask.tasks.events.v1", "ontask.reminders.due.v1", "ontask.tasks.updates.v1")


def cpu_millis(q: str | int | float) -> int:
    q = str(q)
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def mem_mib(q: str) -> int:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    for suffix, factor in units.items():
        if q.endswith(suffix):
            return int(float(q[: -len(suffix)]) * factor)
    return int(int(q) / (1024 * 1024))


def test_fr_001_chart_structure_and_one_template_set_for_all_roles(env):
    templates = CHART / "templates"
    for name in ("deployment.yaml", "service.yaml", "configmap.yaml", "secret.yaml"):
        assert (templates / name).is_file(), name
    assert (templates / "dapr").is_dir() and list((templates / "dapr").glob("*.yaml"))
    # one template per kind, looping over components: no per-service copies
    for role in ROLES:
        assert not list(templates.rglob(f"*{role}*deployment*")), role
    assert "range $name, $c := .Values.components" in (templates / "deployment.yaml").read_text()
    # and the rendered output has one Deployment per role, all the same image
    deps = env.deployments
    assert sorted(deps) == sorted(ROLES)
    images = {container(d)["image"] for d in deps.values()}
    assert len(images) == 1
    for role, d in deps.items():
        assert container(d)["args"] == ["serve", "--role", role]


def test_fr_002_deployments_use_apps_v1(env):
    assert env.kind("Deployment")
    assert {d["apiVersion"] for d in env.kind("Deployment")} == {"apps/v1"}


def test_fr_003_replica_count_configurable(env):
    autoscaled = env.values["autoscaling"]["enabled"]
    for role, d in env.deployments.items():
        if autoscaled:
            # the HPA owns spec.replicas; rendering it would fight the HPA on upgrade
            assert "replicas" not in d["spec"]
        else:
            assert d["spec"]["replicas"] == env.values["replicaCount"]
    # a per-component override wins over the chart-wide replicaCount
    out = render({"replicaCount": 2, "components": {"worker": {"enabled": True, "replicaCount": 4}}})
    text = out["ontask/templates/deployment.yaml"]
    assert re.search(r"name: ontask-worker\n(?:.*\n)*?spec:\n  replicas: 4\n", text)
    assert re.search(r"name: ontask-api\n(?:.*\n)*?spec:\n  replicas: 2\n", text)


def test_fr_004_readiness_probe_http_get_health(env):
    for role, d in env.deployments.items():
        probe = container(d)["readinessProbe"]
        assert probe["httpGet"]["path"] == "/health", role
        # The operational port, which no Ingress routes to.
        assert probe["httpGet"]["port"] == "ops"


def test_fr_005_liveness_probe_http_get_health_longer_timeout(env):
    for role, d in env.deployments.items():
        c = container(d)
        assert c["livenessProbe"]["httpGet"]["path"] == "/health", role
        assert c["livenessProbe"]["timeoutSeconds"] > c["readinessProbe"]["timeoutSeconds"]


def test_fr_006_secrets_injected_with_envfrom_secretref(env):
    for role, d in env.deployments.items():
        c = container(d)
        refs = [e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e]
        assert refs == ["ontask-secrets"], role
        # secrets never appear as literal env values
        for e in c.get("env", []):
            assert "value" not in e or not re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL", e["name"])
    # by default the chart references an existing Secret and renders none itself
    assert not env.kind("Secret")


def test_fr_007_service_clusterip_default_with_override(env):
    services = env.by_component("Service")
    assert sorted(services) == sorted(ROLES)
    for svc in services.values():
        assert svc["spec"]["type"] == "ClusterIP"
        assert svc["spec"]["ports"][0]["targetPort"] == "http"
    for kind in ("LoadBalancer", "NodePort"):
        out = render({"service": {"type": kind}})
        assert out["ontask/templates/service.yaml"].count(f"type: {kind}") == len(ROLES)
    out = render({"components": {"api": {"enabled": True, "service": {"type": "LoadBalancer"}}}})
    assert out["ontask/templates/service.yaml"].count("type: LoadBalancer") == 1


def test_fr_008_resources_requests_and_limits(env):
    for role, d in env.deployments.items():
        res = container(d)["resources"]
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res[part]), (role, part)
        assert cpu_millis(res["requests"]["cpu"]) <= cpu_millis(res["limits"]["cpu"])
        assert mem_mib(res["requests"]["memory"]) <= mem_mib(res["limits"]["memory"])


@pytest.mark.parametrize("variant_name", ["dev", "staging", "production", "all-enabled"])
def test_fr_009_dapr_annotations_only_when_enabled(variant_name):
    r = rendered(variant_name)
    enabled = r.values["dapr"]["enabled"]
    for role, d in r.deployments.items():
        ann = d["spec"]["template"]["metadata"]["annotations"]
        dapr_keys = {k for k in ann if k.startswith("dapr.io/")}
        if enabled:
            assert ann["dapr.io/enabled"] == "true"
            assert ann["dapr.io/app-id"] == f"ontask-{role}"
            assert ann["dapr.io/app-port"] == "8080"
            assert ann["dapr.io/config"] == "ontask-dapr"
            assert ann["dapr.io/log-level"] in ("debug", "info", "warn", "error")
            # The injector turns these into DAPR_API_TOKEN / APP_API_TOKEN, which the binary reads.
            if r.values["dapr"].get("appTokenSecret"):
                assert ann["dapr.io/app-token-secret"] == r.values["dapr"]["appTokenSecret"]
                assert ann["dapr.io/api-token-secret"] == r.values["dapr"]["apiTokenSecret"]
        else:
            assert not dapr_keys, (role, dapr_keys)
    assert bool(r.kind("Component")) == enabled


def test_fr_010_health_endpoint_is_the_probe_and_helm_test_target(env):
    pod = env.one("Pod", "ontask-test-connection")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = pod["spec"]["containers"][0]["args"]
    assert args[-1] == "http://ontask-api:8081/health"
    # the documented response format
    doc = (REPO / "docs" / "deploy.md").read_text()
    for field in ("status", "timestamp", "version", "checks"):
        assert f'"{field}"' in doc, field


def test_fr_011_health_dependencies_configured(env):
    # /health checks the database and the bus; both are wired into every role
    for role, d in env.deployments.items():
        cm = env.one("ConfigMap", d["metadata"]["name"])
        assert cm["data"]["ONTASK_BUS__KIND"] in ("kafka", "dapr")
        if cm["data"]["ONTASK_BUS__KIND"] == "kafka":
            assert cm["data"]["ONTASK_KAFKA__BROKERS"].endswith(":9092")
        # the database URL comes from the Secret (FR-006)
        assert any("secretRef" in e for e in container(d)["envFrom"])
    readiness = {container(d)["readinessProbe"]["httpGet"]["path"] for d in env.deployments.values()}
    assert readiness == {"/health"}


def test_fr_012_readiness_probe_timings(env):
    for role, d in env.deployments.items():
        p = container(d)["readinessProbe"]
        assert (p["initialDelaySeconds"], p["periodSeconds"], p["timeoutSeconds"]) == (10, 5, 3), role


def test_fr_013_liveness_probe_timings(env):
    for role, d in env.deployments.items():
        p = container(d)["livenessProbe"]
        assert (p["initialDelaySeconds"], p["periodSeconds"], p["timeoutSeconds"]) == (30, 10, 5), role


def test_fr_014_non_root_uid_1000_read_only_root_fs(variant):
    pods = [d["spec"]["template"]["spec"] for d in variant.kind("Deployment")]
    pods += [p["spec"] for p in variant.kind("Pod")]
    assert pods
    for spec in pods:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 1000
        assert psc["seccompProfile"]["type"] == "RuntimeDefault"
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 1000
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    # the writable data dir is a volume, and ONTASK_DATA_DIR points at it
    for d in variant.kind("Deployment"):
        mounts = {m["mountPath"] for m in container(d)["volumeMounts"]}
        assert {"/var/lib/ontask", "/tmp"} <= mounts
        cm = variant.one("ConfigMap", d["metadata"]["name"])
        assert cm["data"]["ONTASK_DATA_DIR"] == "/var/lib/ontask"


def test_fr_015_hpa_cpu_70_memory_80(env):
    hpas = env.by_component("HorizontalPodAutoscaler")
    if not env.values["autoscaling"]["enabled"]:
        assert not hpas
        hpas = rendered("production").by_component("HorizontalPodAutoscaler")
    assert sorted(hpas) == sorted(ROLES)
    for role, h in hpas.items():
        assert h["apiVersion"] == "autoscaling/v2"
        assert h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"ontask-{role}"}
        assert 1 <= h["spec"]["minReplicas"] <= h["spec"]["maxReplicas"]
        targets = {m["resource"]["name"]: m["resource"]["target"] for m in h["spec"]["metrics"]}
        assert targets["cpu"] == {"type": "Utilization", "averageUtilization": 70}
        assert targets["memory"] == {"type": "Utilization", "averageUtilization": 80}


def test_fr_016_values_file_per_environment(env):
    for name in ("values.yaml", "values-dev.yaml", "values-staging.yaml", "values-production.yaml"):
        assert (CHART / name).is_file()
    assert env.values["environment"] == env.variant
    for d in env.kind("Deployment"):
        assert d["metadata"]["labels"]["environment"] == env.variant


def test_fr_017_dev_values(env):
    dev = rendered("dev")
    for role, d in dev.deployments.items():
        c = container(d)
        assert d["spec"]["replicas"] == 1
        assert c["imagePullPolicy"] == "IfNotPresent"
        assert c["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
        assert dev.one("ConfigMap", d["metadata"]["name"])["data"]["ONTASK_LOG"] == "debug"
    assert not dev.kind("HorizontalPodAutoscaler")
    # and the environment under test differs from dev where FR-017/018 say it should
    if env.variant != "dev":
        for d in env.kind("Deployment"):
            assert container(d)["imagePullPolicy"] == "Always"
            assert env.one("ConfigMap", d["metadata"]["name"])["data"]["ONTASK_LOG"] == "info"


def test_fr_018_production_values(env):
    prod = rendered("production")
    hpas = prod.by_component("HorizontalPodAutoscaler")
    assert sorted(hpas) == sorted(ROLES)
    for role, d in prod.deployments.items():
        c = container(d)
        assert hpas[role]["spec"]["minReplicas"] >= 3
        assert c["imagePullPolicy"] == "Always"
        assert c["resources"]["limits"] == {"cpu": "2000m", "memory": "2Gi"}
        assert prod.one("ConfigMap", d["metadata"]["name"])["data"]["ONTASK_LOG"] == "info"
    assert prod.values["replicaCount"] >= 3
    # staging sits between dev and production
    if env.variant == "staging":
        for role, d in env.deployments.items():
            lim = container(d)["resources"]["limits"]
            assert 500 < cpu_millis(lim["cpu"]) < 2000
            assert 512 < mem_mib(lim["memory"]) < 2048
            assert 1 < env.by_component("HorizontalPodAutoscaler")[role]["spec"]["minReplicas"] < 3


def test_fr_019_topic_naming_convention(variant):
    pattern = re.compile(r"^[a-z0-9]+\.[a-z0-9-]+\.[a-z0-9-]+\.v[0-9]+(\.dlq)?$")
    for d in variant.kind("ConfigMap"):
        data = d["data"]
        got = (data["ONTASK_BUS__TOPIC_TASK_EVENTS"], data["ONTASK_BUS__TOPIC_REMINDERS"], data["ONTASK_BUS__TOPIC_TASK_UPDATES"])
        assert got == TOPICS
    topics = {t["spec"]["topicName"] for t in variant.kind("KafkaTopic")}
    if variant.values["kafka"]["topics"]["create"]:
        assert topics == set(TOPICS) | {f"{t}.dlq" for t in TOPICS}
    for t in topics:
        assert pattern.match(t), t
    for s in variant.kind("Subscription"):
        assert pattern.match(s["spec"]["topic"]) and s["spec"]["deadLetterTopic"] == s["spec"]["topic"] + ".dlq"


def test_fr_020_event_envelope_documented_and_carried_as_cloudevent_data(all_enabled):
    doc = (REPO / "docs" / "deploy.md").read_text()
    for field in ("event_id", "event_type", "event_version", "timestamp", "source", "user_id", "data",
                  "correlation_id", "causation_id"):
        assert f"`{field}`" in doc, field
    # Dapr must wrap the envelope in a CloudEvent (rawPayload would drop the metadata)
    for comp in all_enabled.kind("Component"):
        if comp["spec"]["type"] == "pubsub.kafka":
            names = {m["name"] for m in comp["spec"]["metadata"]}
            assert "rawPayload" not in names


def test_fr_021_dapr_pubsub_kafka_component(all_enabled):
    pubsubs = {c["metadata"]["name"]: c for c in all_enabled.kind("Component") if c["spec"]["type"] == "pubsub.kafka"}
    assert set(pubsubs) == {"ontask-pubsub", "ontask-pubsub-broadcast"}
    main = {m["name"]: m.get("value") for m in pubsubs["ontask-pubsub"]["spec"]["metadata"]}
    assert main["brokers"] == all_enabled.values["config"]["kafka"]["brokers"]
    assert main["consumerGroup"] == "{appID}"
    assert main["authType"] == "none"
    assert pubsubs["ontask-pubsub"]["spec"]["version"] == "v1"
    # password auth reads SASL credentials from a Secret, never from values
    out = render({"dapr": {"enabled": True, "pubsub": {"authType": "password", "saslSecret": "kafka-user"}}})
    text = out["ontask/templates/dapr/pubsub.yaml"]
    assert "secretKeyRef:\n        name: kafka-user\n        key: password" in text
    # the app is told the component name
    for cm in all_enabled.kind("ConfigMap"):
        assert cm["data"]["ONTASK_DAPR__PUBSUB_NAME"] == "ontask-pubsub"
        assert cm["data"]["ONTASK_BUS__KIND"] == "dapr"


def test_fr_022_dapr_state_store_postgresql_from_secret(all_enabled):
    stores = [c for c in all_enabled.kind("Component") if c["spec"]["type"].startswith("state.")]
    assert len(stores) == 1
    store = stores[0]
    assert store["spec"]["type"] == "state.postgresql"
    conn = next(m for m in store["spec"]["metadata"] if m["name"] == "connectionString")
    assert conn["secretKeyRef"] == {"name": "ontask-secrets", "key": "ONTASK_DATABASE_URL"}
    assert "value" not in conn


def test_fr_023_dapr_subscriptions(all_enabled):
    subs = {s["spec"]["topic"]: s for s in all_enabled.kind("Subscription")}
    assert set(subs) == set(TOPICS)
    for topic, s in subs.items():
        assert s["apiVersion"] == "dapr.io/v2alpha1"
        assert s["spec"]["pubsubname"] in ("ontask-pubsub", "ontask-pubsub-broadcast")
        assert s["spec"]["routes"]["default"].startswith("/dapr/events/")
        assert s["spec"]["deadLetterTopic"] == f"{topic}.dlq"
        assert s["scopes"] and all(x.startswith("ontask-") for x in s["scopes"])
    assert subs["ontask.tasks.updates.v1"]["spec"]["pubsubname"] == "ontask-pubsub-broadcast"
    assert subs["ontask.tasks.updates.v1"]["scopes"] == ["ontask-api"]
    # reminder scan: a cron binding scoped to the scheduler
    cron = [c for c in all_enabled.kind("Component") if c["spec"]["type"] == "bindings.cron"]
    assert len(cron) == 1 and cron[0]["scopes"] == ["ontask-scheduler"]


def test_fr_024_rolling_update_max_surge_1_unavailable_0(env):
    for role, d in env.deployments.items():
        s = d["spec"]["strategy"]
        assert s["type"] == "RollingUpdate"
        assert s["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}, role


def test_fr_025_pdb_min_available_1(env):
    pdbs = env.by_component("PodDisruptionBudget")
    assert sorted(pdbs) == sorted(ROLES)
    for role, p in pdbs.items():
        assert p["apiVersion"] == "policy/v1"
        assert p["spec"]["minAvailable"] == 1
        sel = p["spec"]["selector"]["matchLabels"]
        assert sel == env.deployments[role]["spec"]["selector"]["matchLabels"]


def test_fr_026_standard_labels_on_every_resource(variant):
    assert variant.docs
    for d in variant.docs:
        labels = d["metadata"].get("labels", {})
        missing = [k for k in FR026_LABELS if not labels.get(k)]
        assert not missing, (d["kind"], d["metadata"]["name"], missing)
        assert labels["environment"] == variant.values["environment"]
        # label values must be valid Kubernetes label values
        for k in FR026_LABELS:
            assert re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]", str(labels[k])), (k, labels[k])
    for d in variant.kind("Deployment"):
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        assert all(pod_labels.get(k) for k in FR026_LABELS)


def test_fr_027_standard_annotations_on_every_resource(variant):
    for d in variant.docs:
        ann = d["metadata"].get("annotations", {})
        missing = [k for k in FR027_ANNOTATIONS if not ann.get(k)]
        assert not missing, (d["kind"], d["metadata"]["name"], missing)
    descriptions = {d["metadata"]["annotations"]["description"] for d in variant.kind("Deployment")}
    assert len(descriptions) == len(ROLES)  # each role says what it is


def test_fr_028_metrics_endpoint_scraped(all_enabled):
    sm = all_enabled.kind("ServiceMonitor")
    assert len(sm) == 1
    ep = sm[0]["spec"]["endpoints"][0]
    assert (ep["port"], ep["path"]) == ("ops", "/metrics")
    sel = sm[0]["spec"]["selector"]
    assert set(sel["matchExpressions"][0]["values"]) == set(ROLES)
    # every Service exposes the public http port and the ops port the ServiceMonitor scrapes
    for svc in all_enabled.kind("Service"):
        assert [p["name"] for p in svc["spec"]["ports"]] == ["http", "ops"]
    rules = json.dumps(all_enabled.kind("PrometheusRule")[0]["spec"])
    for metric in ("http_request_duration_seconds_bucket", "http_requests_total"):
        assert metric in rules
    dashboard = (CHART / "dashboards" / "ontask-overview.json").read_text()
    for metric in ("http_request_duration_seconds_bucket", "http_requests_total", "http_connections_active", "http_errors_total"):
        assert metric in dashboard


def test_fr_029_distributed_tracing(all_enabled):
    conf = all_enabled.one("Configuration", "ontask-dapr")
    tracing = conf["spec"]["tracing"]
    assert 0 < float(tracing["samplingRate"]) <= 1
    assert tracing["otel"]["endpointAddress"] and tracing["otel"]["protocol"] == "grpc"
    for d in all_enabled.kind("Deployment"):
        role = d["metadata"]["labels"]["app.kubernetes.io/component"]
        data = all_enabled.one("ConfigMap", d["metadata"]["name"])["data"]
        assert data["ONTASK_TELEMETRY__OTLP_ENDPOINT"].startswith("http")
        assert data["ONTASK_TELEMETRY__SERVICE_NAME"] == f"ontask-{role}"
        assert data["OTEL_SERVICE_NAME"] == f"ontask-{role}"
        attributes = next(e["value"] for e in container(d)["env"] if e["name"] == "OTEL_RESOURCE_ATTRIBUTES")
        assert "deployment.environment=production" in attributes and "k8s.pod.name=$(K8S_POD_NAME)" in attributes


def test_fr_030_json_logs_level_from_env(env):
    expected = {"dev": "debug", "staging": "info", "production": "info"}[env.variant]
    for d in env.kind("Deployment"):
        data = env.one("ConfigMap", d["metadata"]["name"])["data"]
        assert data["ONTASK_LOG_FORMAT"] == "json"
        assert data["ONTASK_LOG"] == expected
        refs = [e["configMapRef"]["name"] for e in container(d)["envFrom"] if "configMapRef" in e]
        assert refs == [d["metadata"]["name"]]
    # per-component log level override
    out = render({"components": {"worker": {"enabled": True, "log": {"level": "ontask=trace,info"}}}})
    text = out["ontask/templates/configmap.yaml"]
    assert 'ONTASK_LOG: "ontask=trace,info"' in text


def test_public_roles_only_behind_ingress(all_enabled):
    ing = all_enabled.kind("Ingress")
    assert len(ing) == 1
    backends = {p["backend"]["service"]["name"] for r in ing[0]["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {f"ontask-{r}" for r in PUBLIC_ROLES}
