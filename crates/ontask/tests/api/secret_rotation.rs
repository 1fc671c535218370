//! Rotating the session secret (`auth.jwt_secret`, the old one moved to
//! `auth.previous_jwt_secrets`): sessions signed with the old secret keep
//! working for the grace period counted from when they were issued, every new
//! session is signed with the new secret, and webhooks keep delivering: their
//! stored secrets are sealed again under the new secret, so the old one can go.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde::{Deserialize, Serialize};

use ontask_app::sealed::Sealer;

use crate::eventlog::LogDb;
use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app_with};
use crate::webhooks::{Hit, Receiver};

const OLD: &str = "the-old-session-secret-of-this-server-0123456789";
const NEW: &str = "the-new-session-secret-of-this-server-0123456789";
const HOUR: i64 = 3600;

/// The claims of a session token, as the server writes them.
#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
}

#[derive(Serialize)]
struct Credentials<'a> {
    email: &'a str,
    password: &'a str,
}

/// What a sign-in answers (the part this test reads).
#[derive(Deserialize)]
struct Session {
    token: String,
}

#[derive(Deserialize)]
struct Me {
    email: String,
}

fn now_secs() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// A session for `user_id` signed with `secret`, issued at `iat` and valid until `exp`.
fn session(secret: &str, user_id: &str, iat: i64, exp: i64) -> String {
    let claims = SessionClaims { sub: user_id.to_owned(), iss: "ontask".into(), iat, exp };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn signed_with(token: &str, secret: &str) -> bool {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["ontask"]);
    jsonwebtoken::decode::<SessionClaims>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation).is_ok()
}

/// `/api/v1/me` with the token as a bearer and as the browser's cookie.
async fn me(app: &TestApp, token: &str) -> [reqwest::Response; 2] {
    let url = app.url("/api/v1/me");
    let bearer = app.client.get(&url).bearer_auth(token).send().await.unwrap();
    let cookie = app.client.get(&url).header(COOKIE, format!("ontask_session={token}")).send().await.unwrap();
    [bearer, cookie]
}

#[tokio::test]
async fn after_a_rotation_old_sessions_last_the_grace_period_and_new_ones_use_the_new_secret() {
    let app = spawn_app_with(|c| {
        c.auth.jwt_secret = Some(NEW.to_owned().into());
        c.auth.previous_jwt_secrets = vec![OLD.to_owned().into()];
        c.auth.previous_secret_grace = Duration::from_secs(24 * 3600);
    })
    .await;
    let user = app.new_user().await;
    let login = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&Credentials { email: &user.email, password: &user.password })
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let login: Session = login.json().await.unwrap();
    for token in [user.token.as_str(), login.token.as_str()] {
        assert!(signed_with(token, NEW), "a new session is signed with the current secret");
        assert!(!signed_with(token, OLD), "and not with the previous one");
    }

    // Signed with the old secret an hour ago: inside the grace period.
    let now = now_secs();
    let recent = session(OLD, &user.id, now - HOUR, now + 6 * 24 * HOUR);
    for answer in me(&app, &recent).await {
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.json::<Me>().await.unwrap().email, user.email);
    }

    // Issued 25 hours ago: its grace period is over, though it has not expired.
    let stale = session(OLD, &user.id, now - 25 * HOUR, now + 6 * 24 * HOUR);
    for answer in me(&app, &stale).await {
        let problem = assert_problem(answer, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(problem["detail"].as_str().unwrap().contains("grace period is over"), "{problem}");
    }
    // The same age under the current secret is fine: the grace period is for old secrets only.
    let current = session(NEW, &user.id, now - 25 * HOUR, now + 6 * 24 * HOUR);
    for answer in me(&app, &current).await {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    // A secret the server was never given signs nothing it accepts.
    let foreign = session("a-secret-this-server-never-had-0123456789abcdef", &user.id, now - HOUR, now + HOUR);
    for answer in me(&app, &foreign).await {
        assert_problem(answer, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    app.stop().await;
}

/// What registering a webhook answers (the part this test reads).
#[derive(Deserialize)]
struct Registered {
    id: String,
    secret: String,
}

#[derive(Serialize)]
struct NewEndpoint<'a> {
    url: &'a str,
}

#[derive(Serialize)]
struct NewTask<'a> {
    title: &'a str,
}

/// An app with these session secrets, delivering to loopback receivers, on
/// `database` when given (else a fresh one).
async fn app_with(secret: &str, previous: &[&str], database: Option<&str>) -> TestApp {
    spawn_app_with(|c| {
        c.auth.jwt_secret = Some(secret.to_owned().into());
        c.auth.previous_jwt_secrets = previous.iter().map(|s| (*s).to_owned().into()).collect();
        c.webhooks.allow_private_targets = true;
        c.webhooks.retry_base = Duration::from_millis(20);
        c.webhooks.retry_max = Duration::from_secs(1);
        if let Some(url) = database {
            c.database_url = Some(url.to_owned().into());
        }
    })
    .await
}

/// An app's database, kept past the app so the next one starts on it.
struct Kept {
    url: String,
    _dir: tempfile::TempDir,
    _database: Option<ontask_testkit::pg::TestDatabase>,
}

async fn stop_keeping_the_database(mut app: TestApp) -> Kept {
    let dir = std::mem::replace(&mut app.data_dir, tempfile::tempdir().expect("temp dir"));
    let database = app.database.take();
    let url = match &database {
        Some(database) => database.url().to_owned(),
        None => format!("sqlite://{}?mode=rwc", dir.path().join("ontask.db").display()),
    };
    app.stop().await;
    Kept { url, _dir: dir, _database: database }
}

async fn stored_secret(database: &str, endpoint: &str) -> String {
    let db = LogDb::connect(database, 1).await;
    let stored: String = sqlx::query_scalar("SELECT secret FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint)
        .fetch_one(&db.pool)
        .await
        .expect("the endpoint row");
    db.close().await;
    stored
}

async fn create_task(app: &TestApp, user: &TestUser, title: &str) {
    let response = app.post("/api/v1/tasks", user).json(&NewTask { title }).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

fn verify(secret: &str, hit: &Hit) {
    let webhook = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
    webhook.verify(&hit.body, &hit.headers).expect("the signature verifies");
}

#[tokio::test]
async fn webhooks_keep_delivering_across_a_rotation_and_then_without_the_old_secret() {
    let receiver = Receiver::start(&[]).await;
    let before = app_with(OLD, &[], None).await;
    let mut user = before.new_user().await;
    let response = before.post("/api/v1/webhooks", &user).json(&NewEndpoint { url: &receiver.url }).send().await;
    let endpoint: Registered = response.unwrap().json().await.unwrap();
    create_task(&before, &user, "Before the rotation").await;
    verify(&endpoint.secret, &receiver.wait_for("a delivery", |h| h.len() == 1).await[0]);
    let database = stop_keeping_the_database(before).await;
    let sealed_under_old = stored_secret(&database.url, &endpoint.id).await;
    assert!(Sealer::from_server_secret(NEW.as_bytes()).unseal(&sealed_under_old).is_err());

    // The new secret, the old one listed: the worker seals the stored secret again.
    let rotated = app_with(NEW, &[OLD], Some(&database.url)).await;
    eventually(Duration::from_secs(30), "the stored secret sealed under the new server secret", || async {
        let stored = stored_secret(&database.url, &endpoint.id).await;
        Sealer::from_server_secret(NEW.as_bytes()).unseal(&stored).ok()
    })
    .await;
    create_task(&rotated, &user, "During the grace period").await;
    let hits = receiver.wait_for("a delivery after the rotation", |h| h.len() == 2).await;
    verify(&endpoint.secret, &hits[1]);
    let _rotated_database = stop_keeping_the_database(rotated).await;

    // The old secret gone: the endpoint still delivers, signed with its own secret.
    let after = app_with(NEW, &[], Some(&database.url)).await;
    let login = after
        .client
        .post(after.url("/api/v1/auth/login"))
        .json(&Credentials { email: &user.email, password: &user.password })
        .send()
        .await
        .unwrap();
    user.token = login.json::<Session>().await.unwrap().token;
    create_task(&after, &user, "After the old secret is gone").await;
    let hits = receiver.wait_for("a delivery without the old secret", |h| h.len() == 3).await;
    verify(&endpoint.secret, &hits[2]);
    after.stop().await;
}
