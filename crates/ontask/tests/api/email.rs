//! Reminder e-mails: with `smtp.*` configured, a reminder reaches the task
//! owner's mailbox. The relay is aiosmtpd (PyPI, installed by .ci/run), a real
//! RFC 5321 server whose default handler prints each message it accepts.
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{eventually, spawn_app_with};

/// An SMTP server on loopback that keeps what it received.
pub(crate) struct SmtpSink {
    pub(crate) port: u16,
    output: Arc<Mutex<String>>,
    _child: tokio::process::Child,
}

impl SmtpSink {
    pub(crate) async fn start() -> SmtpSink {
        SmtpSink::start_on(free_port()).await
    }

    pub(crate) async fn start_on(port: u16) -> SmtpSink {
        let python = std::env::var("ONTASK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = tokio::process::Command::new(python)
            .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start aiosmtpd (pip install aiosmtpd; .ci/run does)");
        let output: Arc<Mutex<String>> = Arc::default();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let out = output.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut o = out.lock().expect("lock");
                o.push_str(&line);
                o.push('\n');
            }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "aiosmtpd exited ({status}); install it with \
                     `python3 -m pip install -r crates/ontask/tests/api/requirements.txt` (.ci/run does)"
                );
            }
            assert!(tokio::time::Instant::now() < deadline, "aiosmtpd did not start listening");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        SmtpSink { port, output, _child: child }
    }

    pub(crate) fn messages(&self) -> Vec<String> {
        let output = self.output.lock().expect("lock").clone();
        output
            .split("---------- MESSAGE FOLLOWS ----------")
            .skip(1)
            .filter_map(|m| m.split("------------ END MESSAGE ------------").next())
            .map(str::to_owned)
            .collect()
    }
}

/// A port that was free a moment ago; aiosmtpd binds it itself.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn a_due_reminder_is_e_mailed_to_the_task_owner() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|c| {
        c.smtp.url = Some(format!("smtp://127.0.0.1:{}", sink.port).into());
        c.smtp.from = Some("ontask <noreply@ontask.test>".into());
    })
    .await;
    let user = app.new_user().await;
    let fire_at = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    app.create_task(&user, json!({ "title": "Renew the passport", "reminders": [fire_at] })).await;

    let messages = eventually(Duration::from_secs(30), "the reminder e-mail", || async {
        let messages = sink.messages();
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    let message = &messages[0];
    assert!(message.contains("Subject: Reminder: Renew the passport"), "{message}");
    assert!(message.contains(&format!("To: {}", user.email)), "{message}");
    assert!(message.contains("From: ontask <noreply@ontask.test>"), "{message}");
    assert!(message.contains("Message-ID: <") && message.contains("@ontask.test>"), "{message}");

    // The same reminder also became an in-app notification; once it did, the
    // reminder was handled, and it was e-mailed exactly once.
    eventually(Duration::from_secs(10), "the in-app notification", || async {
        let list: serde_json::Value =
            app.get("/api/v1/notifications", &user).send().await.expect("request").json().await.expect("json");
        (list["unread_count"] == 1).then_some(())
    })
    .await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn e_mail_waits_while_the_relay_is_down_and_goes_out_once_it_is_back() {
    let port = free_port();
    let app = spawn_app_with(|c| {
        c.smtp.url = Some(format!("smtp://127.0.0.1:{port}").into());
        c.smtp.from = Some("ontask <noreply@ontask.test>".into());
        c.smtp.max_attempts = 20;
        c.circuit_breakers.failures = 1;
        c.circuit_breakers.open_for = Duration::from_secs(1);
    })
    .await;
    let user = app.new_user().await;
    let soon = |s: i64| (Utc::now() + chrono::Duration::seconds(s)).to_rfc3339_opts(SecondsFormat::Secs, true);
    app.create_task(&user, json!({ "title": "Water the plants", "reminders": [soon(1)] })).await;
    app.create_task(&user, json!({ "title": "Call the bank", "reminders": [soon(2)] })).await;

    // Nothing listens: the first attempt fails, the relay's breaker opens, and
    // the service reports itself degraded, naming the relay.
    let health = eventually(Duration::from_secs(30), "the SMTP breaker to open", || async {
        let health: serde_json::Value =
            reqwest::get(app.url("/health")).await.expect("health").json().await.expect("json");
        (health["checks"]["outbound"]["status"] == "degraded").then_some(health)
    })
    .await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["checks"]["outbound"]["error"].as_str().is_some_and(|e| e.contains("smtp")), "{health}");

    let sink = SmtpSink::start_on(port).await;
    let messages = eventually(Duration::from_secs(60), "both reminder e-mails", || async {
        let messages = sink.messages();
        (messages.len() == 2).then_some(messages)
    })
    .await;
    for title in ["Water the plants", "Call the bank"] {
        assert!(messages.iter().any(|m| m.contains(&format!("Subject: Reminder: {title}"))), "{messages:?}");
    }
    let health: serde_json::Value = reqwest::get(app.url("/health")).await.expect("health").json().await.expect("json");
    assert_eq!(health["checks"]["outbound"]["status"], "up", "the breaker closed: {health}");
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    for state in ["open", "half_open", "closed"] {
        let line = format!(r#"ontask_circuit_breaker_transitions_total{{peer="smtp",state="{state}"}}"#);
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}
