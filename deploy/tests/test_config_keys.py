"""The chart sets only environment variables the binary reads
(deploy/tests/config_keys.txt) or standard OTEL_*/DAPR_* ones, with values of
the right shape; and the real binary accepts each role's rendered environment
(`ontask config --check`, with stand-ins for the Secret's values).
"""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ALL_VARIANTS, DEPLOY, ROLES, TESTS, pod_env, render, rendered

KEYS = [line.strip() for line in (TESTS / "config_keys.txt").read_text().splitlines() if line.strip()]
SECRET_KEYS = {"ONTASK_DATABASE_URL", "ONTASK_AUTH__JWT_SECRET", "ONTASK_DAPR__API_TOKEN", "ONTASK_SMTP__URL",
               "ONTASK_AUTH__PREVIOUS_JWT_SECRETS", "ONTASK_PUSH__VAPID_PRIVATE_KEY"}
# OTEL_* and DAPR_* are standard; K8S_* carry the downward API into OTEL_RESOURCE_ATTRIBUTES.
STANDARD = re.compile(r"^(OTEL|DAPR|K8S)_[A-Z0-9_]+$")


def allowed(name: str) -> bool:
    return name in KEYS or bool(STANDARD.match(name))


def rendered_env(variant: str, secret_values: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """role -> the environment a pod of that role gets from the kubelet: the
    chart's ConfigMap and env, `secret_values` for the Secret, the downward API,
    and service links."""
    r = rendered(variant)
    return {role: pod_env(r, d, secret_values or {}) for role, d in r.deployments.items()}


def test_config_keys_file_is_the_documented_list():
    assert len(KEYS) == len(set(KEYS)) == 46
    assert all(re.fullmatch(r"ONTASK_[A-Z_]+", k) for k in KEYS)
    assert SECRET_KEYS <= set(KEYS)


@pytest.mark.parametrize("variant_name", ALL_VARIANTS)
def test_chart_sets_only_known_env_vars(variant_name):
    r = rendered(variant_name)
    names = set()
    for cm in r.kind("ConfigMap"):
        names |= set(cm["data"])
    for d in r.kind("Deployment") + r.kind("Pod"):
        for c in d["spec"]["template"]["spec"]["containers"] if d["kind"] == "Deployment" else d["spec"]["containers"]:
            names |= {e["name"] for e in c.get("env", [])}
    assert names, "no environment rendered"
    unknown = sorted(n for n in names if not allowed(n))
    assert unknown == []
    # secrets never travel through a ConfigMap
    for cm in r.kind("ConfigMap"):
        assert not (set(cm["data"]) & SECRET_KEYS)


@pytest.mark.parametrize("variant_name", ALL_VARIANTS)
def test_env_values_have_the_shape_the_binary_accepts(variant_name):
    roles = set(ROLES) | {"all"}
    for role, env in rendered_env(variant_name).items():
        assert env["ONTASK_ROLE"] == role
        assert set(env["ONTASK_ROLE"].split(",")) <= roles
        assert re.fullmatch(r"0\.0\.0\.0:\d+", env["ONTASK_LISTEN"])
        assert re.fullmatch(r"0\.0\.0\.0:\d+", env["ONTASK_OPS_LISTEN"]) and env["ONTASK_OPS_LISTEN"] != env["ONTASK_LISTEN"]
        assert env["ONTASK_LOG_FORMAT"] in ("json", "text")
        assert env["ONTASK_LOG"]
        assert env["ONTASK_BUS__KIND"] in ("log", "kafka", "dapr")
        assert env["ONTASK_AUTH__COOKIE_SECURE"] in ("true", "false")
        assert env["ONTASK_AUTH__PREVIOUS_SECRET_GRACE_HOURS"].isdigit()
        if env["ONTASK_BUS__KIND"] == "kafka":
            assert env["ONTASK_KAFKA__BROKERS"] and env["ONTASK_KAFKA__GROUP_PREFIX"]
        if env["ONTASK_BUS__KIND"] == "dapr":
            assert env["ONTASK_DAPR__HTTP_PORT"].isdigit() and env["ONTASK_DAPR__PUBSUB_NAME"]
            # The names the chart gives its Dapr components are the ones the binary uses.
            assert env["ONTASK_DAPR__BROADCAST_PUBSUB_NAME"] == "ontask-pubsub-broadcast"
            assert env["ONTASK_DAPR__REMINDER_SCAN_BINDING"] == "ontask-reminder-scan"
        for v in env.values():
            assert isinstance(v, str) and v == v.strip()


def test_secret_keys_are_config_keys():
    out = render({"secrets": {"create": True, "databaseUrl": "postgres://db/ontask", "jwtSecret": "j" * 40, "daprApiToken": "t" * 20,
                  "smtpUrl": "smtps://ontask:secret@mail.example.com", "previousJwtSecrets": ["p" * 40],
                  "vapidPrivateKey": "IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY"}})
    secret = yaml.safe_load(out["ontask/templates/secret.yaml"])
    assert set(secret["data"]) == SECRET_KEYS


def test_previous_session_secrets_reach_the_binary_as_a_list_and_stay_hidden(tmp_path):
    """secrets.previousJwtSecrets is rendered in the form the binary reads a
    list from; `ontask config` accepts it, counts both and prints neither."""
    import base64
    import os
    import subprocess

    old = ["o" * 40, "base64+/=,with-separators-" + "q" * 20]
    out = render({"secrets": {"create": True, "databaseUrl": "postgres://db/ontask", "jwtSecret": "j" * 40,
                              "previousJwtSecrets": old}})
    data = yaml.safe_load(out["ontask/templates/secret.yaml"])["data"]
    value = base64.b64decode(data["ONTASK_AUTH__PREVIOUS_JWT_SECRETS"]).decode()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ONTASK_", "OTEL_", "RUST_LOG"))}
    env = {**base, **SECRET_STANDINS, "ONTASK_AUTH__PREVIOUS_JWT_SECRETS": value,
           "ONTASK_AUTH__PREVIOUS_SECRET_GRACE_HOURS": "48"}
    shown = subprocess.run([ontask_binary(), "config"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "previous_secret_grace_hours = 48" in shown.stdout
    listed = re.search(r"previous_jwt_secrets = \[([^\]]*)\]", shown.stdout)
    assert listed and listed.group(1).count('"***"') == 2, shown.stdout
    assert all(s not in shown.stdout for s in old)
    short = {**env, "ONTASK_AUTH__PREVIOUS_JWT_SECRETS": '["too-short"]'}
    done = subprocess.run([ontask_binary(), "config", "--check"], env=short, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "auth.previous_jwt_secrets" in done.stderr, done.stderr


def test_the_vapid_key_reaches_the_binary_from_the_secret_and_a_bad_one_stops_it(tmp_path):
    """secrets.vapidPrivateKey becomes ONTASK_PUSH__VAPID_PRIVATE_KEY in the
    Secret; the binary accepts it (and prints it redacted), and refuses at
    start one that is not a P-256 key."""
    import base64
    import os
    import subprocess

    key = "IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY"
    out = render({"secrets": {"create": True, "databaseUrl": "postgres://db/ontask", "jwtSecret": "j" * 40,
                              "vapidPrivateKey": key}, "config": {"push": {"subject": "mailto:ops@example.com"}}})
    data = yaml.safe_load(out["ontask/templates/secret.yaml"])["data"]
    assert base64.b64decode(data["ONTASK_PUSH__VAPID_PRIVATE_KEY"]).decode() == key
    docs = [d for d in yaml.safe_load_all(out["ontask/templates/configmap.yaml"]) if d]
    assert all(d["data"]["ONTASK_PUSH__SUBJECT"] == "mailto:ops@example.com" for d in docs)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ONTASK_", "OTEL_", "RUST_LOG"))}
    env = {**base, **SECRET_STANDINS, "ONTASK_PUSH__VAPID_PRIVATE_KEY": key, "ONTASK_PUSH__SUBJECT": "mailto:ops@example.com"}
    shown = subprocess.run([ontask_binary(), "config"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert key not in shown.stdout and 'vapid_private_key = "***"' in shown.stdout, shown.stdout
    bad = {**env, "ONTASK_PUSH__VAPID_PRIVATE_KEY": "not-a-key"}
    done = subprocess.run([ontask_binary(), "config", "--check"], env=bad, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "push.vapid_private_key" in done.stderr, done.stderr


def test_extra_env_passes_through_when_allowed():
    out = render({"config": {"extraEnv": {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}},
                  "components": {"api": {"enabled": True, "env": {"ONTASK_LOG": "warn"}}}})
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out["ontask/templates/configmap.yaml"]) if d}
    assert docs["ontask-api"]["data"]["ONTASK_LOG"] == "warn"
    assert docs["ontask-web"]["data"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"


def test_self_hosted_dapr_run_sets_only_known_env_vars():
    run = yaml.safe_load((DEPLOY / "dapr" / "dapr.yaml").read_text())
    names = set(run["common"]["env"]) | {k for a in run["apps"] for k in a.get("env", {})}
    assert names and all(allowed(n) for n in names), sorted(n for n in names if not allowed(n))
    assert not (names & SECRET_KEYS)


# Stand-ins for what the Secret provides; shaped like real values.
SECRET_STANDINS = {
    "ONTASK_DATABASE_URL": "postgres://ontask:secret@postgres:5432/ontask",
    "ONTASK_AUTH__JWT_SECRET": "x" * 48,
    "ONTASK_DAPR__API_TOKEN": "token",
}


def ontask_binary() -> str:
    import os

    path = os.environ.get("ONTASK_BIN") or str(DEPLOY.parent / "target" / "debug" / "ontask")
    assert os.access(path, os.X_OK), f"{path} is missing: build it first (cargo build -p ontask-ontask)"
    return path


@pytest.mark.parametrize("variant_name", ALL_VARIANTS)
def test_the_binary_accepts_every_rendered_environment(variant_name, tmp_path):
    """`ontask config --check` with exactly the env a pod of each role gets."""
    import os
    import subprocess

    binary = ontask_binary()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ONTASK_", "OTEL_", "RUST_LOG"))}
    for role, env in rendered_env(variant_name, SECRET_STANDINS).items():
        # The release's own Services (ontask-api, ...) give ONTASK_* service links.
        assert any(k.startswith("ONTASK_") and k.endswith("_SERVICE_HOST") for k in env), sorted(env)
        assert env["KUBERNETES_SERVICE_HOST"] and env["K8S_POD_NAME"]
        full = {**base, **env}
        # Run where no ontask.toml lies around, as in the container.
        done = subprocess.run([binary, "config", "--check"], env=full, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, f"{variant_name}/{role}: {done.stderr.strip()}"
        # And the values really arrive: the effective config names this role.
        shown = subprocess.run([binary, "config"], env=full, cwd=tmp_path, capture_output=True, text=True)
        assert shown.returncode == 0
        assert f'role = "{env["ONTASK_ROLE"]}"' in shown.stdout, shown.stdout
        assert SECRET_STANDINS["ONTASK_AUTH__JWT_SECRET"] not in shown.stdout


@pytest.mark.parametrize("variant_name", ALL_VARIANTS)
def test_pods_get_no_service_links(variant_name):
    r = rendered(variant_name)
    pods = [d["spec"]["template"]["spec"] for d in r.kind("Deployment")] + [p["spec"] for p in r.kind("Pod")]
    assert pods and all(spec["enableServiceLinks"] is False for spec in pods)


def test_a_mistyped_key_still_fails_beside_service_links(tmp_path):
    """Service links are ignored by their shape; a real key's typo, even one that
    looks like a port, is still refused with its name."""
    import os
    import subprocess

    base = {k: v for k, v in os.environ.items() if not k.startswith(("ONTASK_", "OTEL_", "RUST_LOG"))}
    env = rendered_env("production", SECRET_STANDINS)["api"]
    for typo, value in [("ONTASK_LISTEN_PORT", "8080"), ("ONTASK_API_PORT", "8080"), ("ONTASK_RETENTION__INBOX", "7")]:
        done = subprocess.run([ontask_binary(), "config", "--check"], env={**base, **env, typo: value}, cwd=tmp_path,
                              capture_output=True, text=True)
        assert done.returncode == 2, f"{typo}: {done.stdout}"
        key = typo.removeprefix("ONTASK_").lower().replace("__", ".").rsplit(".", 1)[-1]
        assert f"unknown field: found `{key}`" in done.stderr, done.stderr


def test_spans_name_the_pod_they_come_from():
    for role, env in rendered_env("production").items():
        attrs = dict(kv.split("=", 1) for kv in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
        assert attrs["k8s.pod.name"] == env["K8S_POD_NAME"] and attrs["k8s.namespace.name"] == "ontask"
        assert attrs["k8s.deployment.name"] == f"ontask-{role}" and attrs["deployment.environment"] == "production"
        assert "$(" not in env["OTEL_RESOURCE_ATTRIBUTES"]


def test_reminder_e_mail_and_webhook_settings_reach_the_binary(tmp_path):
    """config.smtp.from and config.webhooks reach every component; with the
    relay's URL from the Secret, the binary accepts the result."""
    import os
    import subprocess

    out = render({"config": {"smtp": {"from": "ontask <noreply@example.com>"}, "webhooks": {"allowPrivateTargets": True}}})
    docs = [d for d in yaml.safe_load_all(out["ontask/templates/configmap.yaml"]) if d]
    assert docs
    for cm in docs:
        assert cm["data"]["ONTASK_SMTP__FROM"] == "ontask <noreply@example.com>"
        assert cm["data"]["ONTASK_WEBHOOKS__ALLOW_PRIVATE_TARGETS"] == "true"
    # Off by default: nothing rendered.
    default = [d for d in yaml.safe_load_all(render({})["ontask/templates/configmap.yaml"]) if d]
    assert not any("ONTASK_SMTP__FROM" in d["data"] or "ONTASK_WEBHOOKS__ALLOW_PRIVATE_TARGETS" in d["data"] for d in default)

    base = {k: v for k, v in os.environ.items() if not k.startswith(("ONTASK_", "OTEL_", "RUST_LOG"))}
    env = {**base, **SECRET_STANDINS, "ONTASK_SMTP__URL": "smtps://ontask:hunter2-secret@mail.example.com", **docs[0]["data"]}
    done = subprocess.run([ontask_binary(), "config"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "noreply@example.com" in done.stdout and "allow_private_targets = true" in done.stdout
    assert "hunter2-secret" not in done.stdout, "the relay's URL is a secret"


def test_retention_settings_pass_through_extra_env_and_reach_the_binary(tmp_path):
    """The scheduler's housekeeping is tuned with config.extraEnv; the binary
    reads the values and refuses a bad one."""
    import os
    import subprocess

    out = render({"config": {"extraEnv": {"ONTASK_RETENTION__INBOX_DAYS": 21, "ONTASK_RETENTION__INTERVAL_SECS": 600}}})
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out["ontask/templates/configmap.yaml"]) if d}
    scheduler = docs["ontask-scheduler"]["data"]
    assert scheduler["ONTASK_RETENTION__INBOX_DAYS"] == "21"

    base = {k: v for k, v in os.environ.items() if not k.startswith(("ONTASK_", "OTEL_", "RUST_LOG"))}
    env = {**base, **SECRET_STANDINS, **scheduler}
    done = subprocess.run([ontask_binary(), "config"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "inbox_days = 21" in done.stdout and "interval_secs = 600" in done.stdout
    bad = {**env, "ONTASK_RETENTION__INBOX_DAYS": "0"}
    done = subprocess.run([ontask_binary(), "config", "--check"], env=bad, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "retention.inbox_days" in done.stderr
