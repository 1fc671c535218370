"""Shared fixtures: render the ontask chart with the real Helm engine.

The Helm engine is Helm's own Go SDK (v4), reached through the PyPI package
`helm-python-sdk` (module `helm_python`), which ships it as a C library; no
`helm` binary is involved. Each environment is rendered once per session.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

import helm_python as helm

TESTS = Path(__file__).resolve().parent
DEPLOY = TESTS.parent
REPO = DEPLOY.parent
CHART = DEPLOY / "helm" / "ontask"

RELEASE = "ontask"
NAMESPACE = "ontask"

ROLES = ("api", "web", "agent", "worker", "scheduler", "relay")
PUBLIC_ROLES = ("api", "web", "agent")

# variant -> values files layered in order (as `helm -f a -f b` would)
VARIANTS: dict[str, list[Path]] = {
    "default": [],
    "dev": [CHART / "values-dev.yaml"],
    "staging": [CHART / "values-staging.yaml"],
    "production": [CHART / "values-production.yaml"],
    "all-enabled": [CHART / "values-production.yaml", TESTS / "values-all-enabled.yaml"],
}
ENVIRONMENTS = ("dev", "staging", "production")
ALL_VARIANTS = tuple(VARIANTS)


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(files: list[Path]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in files:
        values = deep_merge(values, yaml.safe_load(f.read_text()) or {})
    return values


@functools.lru_cache(maxsize=1)
def _chart() -> helm.Chart:
    return helm.Chart.load(str(CHART))


def render(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Render the chart as `helm template` would; returns template path -> text."""
    return _chart().render(values=values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def parse_manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__source__", path)
                docs.append(doc)
    return docs


class Rendered:
    """One rendered variant: its merged values, the manifests and lookups."""

    def __init__(self, variant: str):
        self.variant = variant
        self.values_files = VARIANTS[variant]
        self.user_values = load_values(self.values_files)
        self.values = _chart().merge_values(self.user_values)
        self.raw = render(self.user_values)
        self.docs = parse_manifests(self.raw)
        self.notes = next((v for k, v in self.raw.items() if k.endswith("NOTES.txt")), "")

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.kind(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
        return found[0]

    def by_component(self, kind: str) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in self.kind(kind)}

    @property
    def deployments(self) -> dict[str, dict[str, Any]]:
        return self.by_component("Deployment")


@functools.lru_cache(maxsize=None)
def rendered(variant: str) -> Rendered:
    return Rendered(variant)


def strip_source(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "__source__"}


@pytest.fixture(params=ENVIRONMENTS)
def env(request) -> Rendered:
    """Each environment: dev, staging, production."""
    return rendered(request.param)


@pytest.fixture(params=ALL_VARIANTS)
def variant(request) -> Rendered:
    """Each environment plus the chart defaults and the all-enabled variant."""
    return rendered(request.param)


@pytest.fixture
def all_enabled() -> Rendered:
    return rendered("all-enabled")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# What the kubelet knows of a pod that the chart cannot: the values of the
# downward API fields the chart asks for, and the Services' cluster IPs.
POD_FIELDS = {
    "metadata.name": "ontask-api-7d9c6b5f4-x2x7q",
    "metadata.namespace": NAMESPACE,
    "spec.nodeName": "node-1",
    "spec.serviceAccountName": "ontask",
    "status.podIP": "10.244.1.17",
    "status.hostIP": "10.0.0.4",
}
# The API server's own Service, which every pod gets links for, whatever enableServiceLinks says.
API_SERVER = {"metadata": {"name": "kubernetes"}, "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}


def service_links(service: dict[str, Any], cluster_ip: str) -> dict[str, str]:
    """The docker-link style variables the kubelet derives from one Service
    (pkg/kubelet/envvars): NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME],
    NAME_PORT, NAME_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]."""
    prefix = service["metadata"]["name"].upper().replace("-", "_")
    ports = service["spec"]["ports"]
    env = {f"{prefix}_SERVICE_HOST": cluster_ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for p in ports:
        if p.get("name"):
            env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
    first = ports[0]
    env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{cluster_ip}:{first['port']}"
    for p in ports:
        proto = p.get("protocol", "TCP")
        base = f"{prefix}_PORT_{p['port']}_{proto}"
        env[base] = f"{proto.lower()}://{cluster_ip}:{p['port']}"
        env[f"{base}_PROTO"] = proto.lower()
        env[f"{base}_PORT"] = str(p["port"])
        env[f"{base}_ADDR"] = cluster_ip
    return env


def pod_env(r: Rendered, deployment: dict[str, Any], secret_values: dict[str, str]) -> dict[str, str]:
    """The environment the kubelet gives the container of `deployment`'s pods:
    envFrom (the ConfigMap, and `secret_values` for the Secret), then env with
    downward API fields and $(VAR) expanded, then service links for the API
    server and for every Service the release renders (as if enableServiceLinks
    were left on: another release's Services in the namespace look the same)."""
    import re

    c = container(deployment)
    env: dict[str, str] = {}
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            env.update(r.one("ConfigMap", src["configMapRef"]["name"])["data"])
        if "secretRef" in src:
            env.update(secret_values)
    for e in c.get("env", []):
        if "valueFrom" in e:
            env[e["name"]] = POD_FIELDS[e["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), e.get("value", ""))
    links: dict[str, str] = {}
    for i, service in enumerate([API_SERVER] + r.kind("Service")):
        links.update(service_links(service, service["spec"].get("clusterIP") or f"10.96.{i}.{10 + i}"))
    # The container's own variables win over service links of the same name.
    return {**links, **env}
