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
