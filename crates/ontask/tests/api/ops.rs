//! Operations: health and probes, Prometheus metrics (checked by promtool), the
//! OpenAPI document and docs UI, and the CLI's config and help.
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ProcessApp, eventually, spawn_app};

#[tokio::test]
async fn health_reports_every_dependency() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
    chrono::DateTime::parse_from_rfc3339(health["timestamp"].as_str().unwrap()).expect("RFC 3339 timestamp");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    for dependency in ["database", "event_log", "bus"] {
        let check = &health["checks"][dependency];
        assert_eq!(check["status"], "up", "{dependency}: {health}");
        assert!(check["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{dependency}: {health}");
    }
    assert_eq!(health["checks"]["bus"]["details"]["kind"], "log");
    assert!(health["checks"]["event_log"]["details"]["head"].is_i64());

    // No authentication needed for probes.
    let livez = app.client.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(livez.status(), StatusCode::OK);
    let readyz = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), StatusCode::OK);
    let readyz: Value = readyz.json().await.unwrap();
    assert_eq!(readyz["status"], "ready");
    app.stop().await;
}

#[tokio::test]
async fn the_event_contract_is_served_as_published_in_the_docs() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/asyncapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    let published: Value =
        serde_json::from_str(include_str!("../../../../docs/events/asyncapi.json")).expect("the published contract");
    assert_eq!(served, published);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_the_task_paths() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/tasks", &["get", "post"][..]),
        ("/api/v1/tasks/{id}", &["get", "patch", "delete"]),
        ("/api/v1/tasks/{id}/complete", &["post"]),
        ("/api/v1/tasks/{id}/reopen", &["post"]),
        ("/api/v1/tasks/{id}/history", &["get"]),
        ("/api/v1/auth/register", &["post"]),
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/tokens", &["get", "post"]),
        ("/api/v1/me", &["get"]),
        ("/health", &["get"]),
    ] {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} is documented"));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path} is documented");
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("TaskSnapshot") && schemas.contains_key("Problem"), "{:?}", schemas.keys());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = docs.text().await.unwrap();
    assert!(html.to_ascii_lowercase().contains("<html"), "{html}");
    app.stop().await;
}

const METRICS: [&str; 12] = [
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_connections_active",
    "http_errors_total",
    "ontask_events_appended_total",
    "ontask_events_published_total",
    "ontask_events_handled_total",
    "ontask_relay_lag_events",
    "ontask_consumer_lag_events",
    "ontask_reminders_fired_total",
    "ontask_housekeeping_deleted_total",
    "ontask_build_info",
];

/// Samples (not comments) of `name` in a Prometheus text exposition.
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' ')))
        .collect()
}

fn value(sample: &str) -> f64 {
    sample.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn metrics_of_the_real_binary_are_complete_and_pass_promtool() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ProcessApp::start(data_dir.path(), &[]).await;
    let client = reqwest::Client::new();
    // Traffic that touches every metric: requests, an error, task events, and a
    // reminder a moment from now.
    let signup: Value = client
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({ "email": "ops@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["token"].as_str().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(4)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let task: Value = client
        .post(server.url("/api/v1/tasks"))
        .bearer_auth(token)
        .json(&json!({ "title": "metered", "reminders": [soon] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = task["id"].as_str().unwrap();
    assert_eq!(
        client.get(server.url(&format!("/api/v1/tasks/{id}"))).bearer_auth(token).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Completing cancels reminders, so complete another task.
    let other: Value = client
        .post(server.url("/api/v1/tasks"))
        .bearer_auth(token)
        .json(&json!({ "title": "finished" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_id = other["id"].as_str().unwrap();
    let completed =
        client.post(server.url(&format!("/api/v1/tasks/{other_id}/complete"))).bearer_auth(token).send().await.unwrap();
    assert_eq!(completed.status(), StatusCode::OK);
    assert_eq!(
        client.get(server.url("/api/v1/tasks/not-a-task")).bearer_auth(token).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(client.get(server.url("/api/v1/tasks")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let text = eventually(Duration::from_secs(30), "every metric in /metrics", || async {
        let response = client.get(server.url("/metrics")).send().await.ok()?;
        let text = response.text().await.ok()?;
        let handled = samples(&text, "ontask_events_handled_total").iter().map(|s| value(s)).sum::<f64>();
        let fired = samples(&text, "ontask_reminders_fired_total").iter().map(|s| value(s)).sum::<f64>();
        (METRICS.iter().all(|m| !samples(&text, m).is_empty()) && handled > 0.0 && fired >= 1.0).then_some(text)
    })
    .await;

    // Routes are templates, never raw ids (which would explode cardinality).
    let requests = samples(&text, "http_requests_total");
    assert!(
        requests.iter().any(|s| s.contains("route=\"/api/v1/tasks/{id}\"")
            && s.contains("method=\"GET\"")
            && s.contains("status=\"200\"")),
        "{requests:#?}"
    );
    assert!(requests.iter().any(|s| s.contains("route=\"/api/v1/tasks/{id}/complete\"")), "{requests:#?}");
    assert!(!text.contains(id), "no task id in any label");
    assert!(samples(&text, "http_errors_total").iter().any(|s| s.contains("type=\"unauthorized\"")));
    assert!(samples(&text, "http_errors_total").iter().any(|s| s.contains("type=\"not-found\"")));
    let appended = samples(&text, "ontask_events_appended_total");
    let created = appended.iter().find(|s| s.contains("event_type=\"task.created\"")).expect("appended by event type");
    assert!(value(created) >= 1.0, "{appended:#?}");
    assert!(appended.iter().any(|s| s.contains("event_type=\"task.completed\"")), "{appended:#?}");
    assert!(samples(&text, "ontask_events_published_total").iter().map(|s| value(s)).sum::<f64>() >= 2.0);
    assert!(samples(&text, "ontask_consumer_lag_events").iter().all(|s| s.contains("consumer=\"")));
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(text.contains("# HELP http_requests_total"));

    // Once events stop, every consumer's stored offset catches up, also of
    // those that only passed over them (their offset is written lazily).
    eventually(Duration::from_secs(30), "every consumer's lag back to 0", || async {
        let text = client.get(server.url("/metrics")).send().await.ok()?.text().await.ok()?;
        let lags = samples(&text, "ontask_consumer_lag_events");
        (lags.len() >= 4 && lags.iter().all(|s| value(s) == 0.0)).then_some(())
    })
    .await;

    let promtool = which("promtool").unwrap_or_else(|| {
        panic!("promtool is not installed: it is in the Debian package `prometheus` (apt-get install -y prometheus); this test needs it")
    });
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics found problems:\n{}{}\n--- scraped ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    drop(server);
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
}

fn ontask(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ontask"));
    command.args(args).current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    // The caller's environment must not leak in.
    for (k, _) in std::env::vars() {
        if k.starts_with("ONTASK_") && !env.iter().any(|(e, _)| *e == k) {
            command.env_remove(k);
        }
    }
    command.output().expect("run ontask")
}

#[test]
fn ontask_config_prints_toml_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "s3cr3t-0123456789-abcdefghij-01234567890";
    assert_eq!(secret.len(), 40);
    let output = ontask(
        &["config"],
        &[
            ("ONTASK_AUTH__JWT_SECRET", secret),
            ("ONTASK_DATABASE_URL", "postgres://ontask:hunter2-password@db.example:5432/ontask"),
            ("ONTASK_LISTEN", "0.0.0.0:9999"),
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains(secret), "the JWT secret leaked:\n{stdout}");
    assert!(!stdout.contains("hunter2"), "the database password leaked:\n{stdout}");
    let config: toml::Value = toml::from_str(&stdout).expect("valid TOML");
    assert_eq!(config["listen"].as_str(), Some("0.0.0.0:9999"), "env overrides defaults");
    assert_eq!(config["auth"]["jwt_secret"].as_str(), Some("***"));
    assert!(config.get("data_dir").is_some() && config.get("bus").is_some());
}

#[test]
fn ontask_config_check_reports_one_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = ontask(&["config", "--check"], &[("ONTASK_LISTEN", "nonsense")], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("listen") && stderr.contains("nonsense"), "{stderr}");

    let ok = ontask(&["config", "--check"], &[], dir.path());
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(ok.stdout.is_empty());

    // A bad value from a config file, and an unknown key, are caught the same way.
    std::fs::write(dir.path().join("ontask.toml"), "[auth]\nsession_ttl_hours = 0\n").unwrap();
    let output = ontask(&["config", "--check"], &[], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8(output.stderr).unwrap().trim_end().lines().count(), 1);
    std::fs::write(dir.path().join("ontask.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let output = ontask(&["config", "--check"], &[], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("lisen"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");

    // `serve` with a bad listen address fails the same way, before binding anything.
    std::fs::remove_file(dir.path().join("ontask.toml")).unwrap();
    let output = ontask(&["serve", "--listen", "nonsense", "--data-dir", "d"], &[], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8(output.stderr).unwrap().trim_end().lines().count(), 1);
}

#[test]
fn ontask_help_lists_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let output = ontask(&["--help"], &[], dir.path());
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "migrate", "config", "token", "events"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(command)), "{command} missing from:\n{help}");
    }
    for (args, needles) in [
        (&["serve", "--help"][..], &["--listen", "--data-dir", "--database-url", "--role"][..]),
        (&["token", "--help"], &["--user"]),
        (&["events", "--help"], &["replay"]),
    ] {
        let output = ontask(args, &[], dir.path());
        assert!(output.status.success(), "{args:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        for needle in needles {
            assert!(help.contains(needle), "{args:?}: {needle} missing from:\n{help}");
        }
    }
    let version = ontask(&["--version"], &[], dir.path());
    assert!(String::from_utf8(version.stdout).unwrap().contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn web_pages_are_observed_like_the_api_and_an_error_page_names_its_request() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let missing = uuid::Uuid::now_v7();
    let page = app
        .client
        .get(app.url(&format!("/tasks/{missing}")))
        .header("cookie", format!("ontask_session={}", user.token))
        .header("x-request-id", "web-page-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    // The HTTP layer saw the page: it answers with the request's id ...
    assert_eq!(page.headers()["x-request-id"], "web-page-check-1");
    // ... and the page tells it, so a report finds the log line.
    let html = page.text().await.unwrap();
    assert!(html.contains("<code class=\"reference\">web-page-check-1</code>"), "{html}");

    // The MCP endpoint is observed too.
    let mcp = app.client.post(app.url("/mcp")).header("x-request-id", "mcp-check-1").send().await.unwrap();
    assert_eq!(mcp.headers()["x-request-id"], "mcp-check-1");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("route=\"/tasks/{id}\""), "web routes are in the HTTP metrics");
    app.stop().await;
}

/// With `ops_listen`, health and metrics are served there alone: the main
/// listener (the one an Ingress routes to) answers them as unknown paths, and
/// the ops listener serves nothing else.
#[tokio::test]
async fn ops_listen_keeps_health_and_metrics_off_the_main_listener() {
    let data_dir = tempfile::tempdir().unwrap();
    let ops = format!("127.0.0.1:{}", ontask_testkit::free_port());
    let server = ProcessApp::start_with_env(data_dir.path(), &[], &[("ONTASK_OPS_LISTEN", ops.as_str())]).await;
    let client = reqwest::Client::new();
    for path in ["/health", "/livez", "/readyz", "/metrics"] {
        let public = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "{path} on the main listener");
        let private = client.get(format!("http://{ops}{path}")).send().await.unwrap();
        assert_eq!(private.status(), StatusCode::OK, "{path} on the ops listener");
    }
    let metrics = client.get(format!("http://{ops}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    // The API itself stays on the main listener only.
    assert_eq!(client.get(server.url("/openapi.json")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(client.get(format!("http://{ops}/openapi.json")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
