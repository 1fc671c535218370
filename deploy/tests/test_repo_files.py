"""Files around the chart: yamllint, Dockerfile, GitHub workflows, the Grafana
dashboard, Strimzi manifests and the deploy guide.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from conftest import CHART, DEPLOY, REPO, ROLES

DOCKERFILE = REPO / "Dockerfile"
WORKFLOWS = REPO / ".github" / "workflows"
DASHBOARD = CHART / "dashboards" / "ontask-overview.json"

METRICS = {
    "http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count", "http_connections_active", "http_errors_total",
    "ontask_events_appended_total", "ontask_events_published_total", "ontask_events_handled_total",
    "ontask_relay_lag_events", "ontask_consumer_lag_events", "ontask_reminders_fired_total",
    "ontask_dead_letters_total", "ontask_realtime_connections", "ontask_build_info",
}


# --- yamllint ----------------------------------------------------------------


def yaml_files() -> list[Path]:
    files = [p for p in DEPLOY.rglob("*.y*ml") if "templates" not in p.relative_to(DEPLOY).parts]
    files += sorted(WORKFLOWS.glob("*.yml"))
    return sorted(files)


def test_yamllint_config_ignores_helm_templates():
    conf = YamlLintConfig(file=str(DEPLOY / ".yamllint"))
    assert conf.is_file_ignored("deploy/helm/ontask/templates/deployment.yaml")
    assert not conf.is_file_ignored("deploy/helm/ontask/values.yaml")


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_yamllint_clean(path):
    conf = YamlLintConfig(file=str(DEPLOY / ".yamllint"))
    problems = [f"{p.line}:{p.column} {p.level} {p.message}" for p in linter.run(path.read_text(), conf, str(path))]
    assert problems == []


def test_yamllint_covers_the_deploy_tree():
    names = {p.name for p in yaml_files()}
    assert {"values.yaml", "values-dev.yaml", "values-production.yaml", "kafka-dev.yaml", "dapr.yaml", "ci.yml"} <= names


# --- Dockerfile ----------------------------------------------------------------


def dockerfile_lines() -> list[str]:
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_multi_stage_cached_dependencies_distroless_non_root():
    lines = dockerfile_lines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 3
    assert froms[0].startswith("FROM rust:${RUST_VERSION}-${DEBIAN_SUITE}")
    assert "ARG DEBIAN_SUITE=bookworm" in lines
    assert froms[-1].startswith("FROM gcr.io/distroless/cc-debian12:nonroot")
    text = "\n".join(lines)
    assert "cargo chef prepare" in text and "cargo chef cook --release --locked" in text
    # the dependency layer is built before the sources are copied
    assert text.index("cargo chef cook") < text.index("cargo build --release --locked -p ontask-ontask")
    assert "target/release/ontask" in text
    assert lines[-4:] == ['USER 1000:1000', 'EXPOSE 8080', 'ENTRYPOINT ["/usr/local/bin/ontask"]', 'CMD ["serve"]']
    assert "ONTASK_DATA_DIR=/var/lib/ontask" in text
    assert "--chown=1000:1000" in text
    # the final stage runs as UID 1000 (distroless nonroot would otherwise be 65532)
    final = text[text.index(froms[-1]):]
    assert "USER 1000:1000" in final and "USER root" not in final


def test_dockerignore_keeps_context_small_and_secret_free():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {"target", ".git", ".env", "data"} <= ignored
    assert "Cargo.lock" not in ignored and "crates" not in ignored


# --- GitHub workflows ---------------------------------------------------------------


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def all_steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def runs(wf: dict) -> str:
    return "\n".join(s.get("run", "") for s in all_steps(wf))


def uses(wf: dict) -> list[str]:
    return [s["uses"] for s in all_steps(wf) if "uses" in s]


def test_workflow_ci_fmt_clippy_tests_with_postgres():
    wf = workflow("ci.yml")
    text = runs(wf)
    assert "cargo fmt --all -- --check" in text
    assert "cargo clippy" in text and "-D warnings" in text
    assert "cargo nextest run --workspace --locked" in text
    assert "ONTASK_TEST_BACKEND" in str(wf["jobs"]["test"]), "the HTTP suite runs on PostgreSQL too"
    assert wf["jobs"]["test"]["services"]["postgres"]["image"].startswith("postgres:")
    assert "python3 -m pytest -q deploy/tests" in text


def test_workflow_image_build_push_ghcr_trivy():
    wf = workflow("image.yml")
    u = uses(wf)
    assert any(x.startswith("docker/build-push-action@") for x in u)
    assert any(x.startswith("docker/login-action@") for x in u)
    assert any(x.startswith("aquasecurity/trivy-action@") for x in u)
    assert wf["env"]["REGISTRY"] == "ghcr.io"
    assert wf["jobs"]["build"]["permissions"]["packages"] == "write"


def test_workflow_chart_lint_render_validate_package():
    text = runs(workflow("chart.yml"))
    assert "helm lint --strict" in text
    assert "helm template" in text
    assert "python3 -m pytest -q deploy/tests" in text
    assert "helm package" in text


@pytest.mark.parametrize("env_name,file", [("staging", "deploy-staging.yml"), ("production", "deploy-production.yml")])
def test_workflow_deploys_with_environment_values(env_name, file):
    wf = workflow(file)
    text = runs(wf)
    assert "helm upgrade --install ontask deploy/helm/ontask" in text
    assert f"-f deploy/helm/ontask/values-{env_name}.yaml" in text
    assert "--atomic" in text and "helm test ontask" in text
    env = wf["jobs"]["deploy"]["environment"]
    assert env["name"] == env_name  # production: GitHub environment with required reviewers


def test_workflows_pin_actions_to_versions():
    for f in WORKFLOWS.glob("*.yml"):
        for u in uses(workflow(f.name)):
            # dtolnay/rust-toolchain names its refs after toolchains (@stable)
            assert re.search(r"@v?\d", u) or u == "dtolnay/rust-toolchain@stable", (f.name, u)


# --- Grafana dashboard -----------------------------------------------------------


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_dashboard_uses_only_exported_metric_names():
    used = set()
    for expr in dashboard_exprs():
        used |= set(re.findall(r"\b((?:http|ontask)_[a-z_]+)\s*\{", expr))
    assert used <= METRICS, used - METRICS
    # HTTP rate/errors/duration, event lag, DLQ and reminders are all on it
    for metric in ("http_requests_total", "http_request_duration_seconds_bucket", "http_errors_total",
                   "ontask_relay_lag_events", "ontask_consumer_lag_events", "ontask_dead_letters_total",
                   "ontask_reminders_fired_total", "ontask_events_handled_total"):
        assert metric in used, metric


def test_dashboard_structure():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "ontask-overview" and dash["title"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "namespace", "component"} <= variables
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}"
            assert p["targets"]
    # PromQL braces and parentheses balance in every query
    for expr in dashboard_exprs():
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr


# --- Strimzi manifests -----------------------------------------------------------------


def strimzi(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kafka" / name).read_text()) if d]


@pytest.mark.parametrize("file,storage,replicas", [("kafka-dev.yaml", "ephemeral", 1), ("kafka-production.yaml", "jbod", 3)])
def test_strimzi_kraft_cluster(file, storage, replicas):
    docs = {d["kind"]: d for d in strimzi(file)}
    kafka, pool = docs["Kafka"], docs["KafkaNodePool"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["spec"]["storage"]["type"] == storage
    assert pool["spec"]["replicas"] == replicas
    if storage == "jbod":
        vol = pool["spec"]["storage"]["volumes"][0]
        assert vol["type"] == "persistent-claim" and vol["deleteClaim"] is False
    cfg = kafka["spec"]["kafka"]["config"]
    assert cfg["min.insync.replicas"] <= cfg["default.replication.factor"] <= replicas
    assert cfg["auto.create.topics.enable"] is False


def test_strimzi_topics_match_chart_and_dev_cluster():
    topics = strimzi("topics-dev.yaml")
    names = {t["spec"]["topicName"] for t in topics}
    values = yaml.safe_load((CHART / "values.yaml").read_text())["topics"]
    assert names == set(values.values()) | {f"{t}.dlq" for t in values.values()}
    dev_cluster = next(d for d in strimzi("kafka-dev.yaml") if d["kind"] == "Kafka")["metadata"]["name"]
    dev_values = yaml.safe_load((CHART / "values-dev.yaml").read_text())
    assert dev_values["config"]["kafka"]["brokers"].startswith(f"{dev_cluster}-kafka-bootstrap.kafka.svc:")
    for t in topics:
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == dev_cluster
        assert t["spec"]["replicas"] == 1


def test_production_values_point_at_production_cluster():
    prod = next(d for d in strimzi("kafka-production.yaml") if d["kind"] == "Kafka")["metadata"]["name"]
    values = yaml.safe_load((CHART / "values-production.yaml").read_text())
    assert values["kafka"]["topics"]["clusterName"] == prod
    assert values["config"]["kafka"]["brokers"].startswith(f"{prod}-kafka-bootstrap.")


# --- docs ---------------------------------------------------------------------------


def test_deploy_guide_covers_the_journey():
    doc = (REPO / "docs" / "deploy.md").read_text()
    for heading in ("minikube", "AKS", "GKE", "OKE", "External Secrets", "Scaling", "Upgrade", "Rollback"):
        assert heading.lower() in doc.lower(), heading
    assert "helm upgrade --install ontask deploy/helm/ontask" in doc
    assert "helm rollback" in doc
    assert "python3 -m pytest -q deploy/tests" in doc
    for role in ROLES:
        assert role in doc


def test_no_machine_paths_in_deploy_files():
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json", ".md", ".txt", ".py", ".tpl", ".ini")]
    files += [DOCKERFILE, REPO / ".dockerignore", REPO / "docs" / "deploy.md", *WORKFLOWS.glob("*.yml")]
    files += [REPO / "README.md", REPO / "docs" / "architecture.md", REPO / "docs" / "blueprint-requirements.md"]
    for f in files:
        text = f.read_text()
        assert not re.search(r"(?<![\w.])/(work|root|home)/", text), f


# --- supply chain ---------------------------------------------------------------------


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, check=True, capture_output=True, text=True).stdout
    return [REPO / line for line in out.splitlines()]


def test_dependabot_watches_every_dependency_manifest():
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert all(u["schedule"]["interval"] for u in config["updates"])
    expected = {("github-actions", "/"), ("docker", "/")}
    for ecosystem, pattern in (("cargo", "Cargo.toml"), ("pip", "requirements.txt"), ("npm", "package.json")):
        for manifest in tracked(pattern, f"**/{pattern}"):
            if ecosystem == "cargo" and "[workspace]" not in manifest.read_text():
                continue  # a workspace member: its workspace root is watched
            directory = "/" + manifest.parent.relative_to(REPO).as_posix()
            expected.add((ecosystem, "/" if directory == "/." else directory))
    assert ("cargo", "/") in expected and ("npm", "/crates/web/e2e") in expected, expected
    assert expected <= watched, expected - watched


def test_the_licence_file_is_the_one_cargo_declares():
    declared = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["license"]
    assert declared == "Apache-2.0"
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert text.rstrip().endswith("END OF TERMS AND CONDITIONS")


def test_ci_checks_the_dependency_graph_with_cargo_deny():
    ci = (REPO / ".ci" / "run").read_text()
    assert "cargo deny check licenses bans sources" in ci
    deny = tomllib.loads((REPO / "deny.toml").read_text())
    assert "Apache-2.0" in deny["licenses"]["allow"]
    assert deny["sources"]["unknown-git"] == "deny" and deny["sources"]["unknown-registry"] == "deny"


# --- the design in the repo ------------------------------------------------------------

REQUIREMENTS = REPO / "docs" / "blueprint-requirements.md"
REQUIREMENT_ID = re.compile(r"\b(?:FR|SC)-0\d\d\b")
# A cited test: `path/to/file.py::test_name` or `path/to/file.rs::test_name`.
CITED_TEST = re.compile(r"`([\w./-]+\.(?:py|rs))::(\w+)`")


def repo_text_files() -> list[Path]:
    out = tracked("crates", "deploy", "docs", "README.md")
    skip = (".png", ".svg", ".lock", ".jsonl")
    return [p for p in out if p.is_file() and not p.name.endswith(skip) and "node_modules" not in p.parts]


def test_every_requirement_id_cited_in_the_repo_has_a_section():
    sections = set(re.findall(r"^###\s+((?:FR|SC)-0\d\d)\b", REQUIREMENTS.read_text(), re.MULTILINE))
    # the blueprint's whole list is there
    assert {f"FR-{n:03}" for n in range(1, 31)} | {f"SC-{n:03}" for n in range(1, 13)} <= sections
    cited: dict[str, set[str]] = {}
    for f in repo_text_files():
        for rid in REQUIREMENT_ID.findall(f.read_text(errors="replace")):
            cited.setdefault(rid, set()).add(str(f.relative_to(REPO)))
    missing = {rid: sorted(files) for rid, files in cited.items() if rid not in sections}
    assert not missing, missing


def test_every_test_the_requirements_cite_exists():
    cited = CITED_TEST.findall(REQUIREMENTS.read_text())
    assert len(cited) > 40
    for path, name in cited:
        f = REPO / path
        assert f.is_file(), path
        if path.endswith(".py"):
            definition = rf"^def {name}\("
            assert name.startswith("test_"), name
        else:
            definition = rf"#\[(?:tokio::)?test\b[^\]]*\]\s*(?:#\[[^\]]*\]\s*)*(?:async\s+)?fn {name}\("
        assert re.search(definition, f.read_text(), re.MULTILINE), f"{path}::{name}"
