//! Rotating the session secret (`auth.jwt_secret`, the old one moved to
//! `auth.previous_jwt_secrets`): sessions signed with the old secret keep
//! working for the grace period counted from when they were issued, and every
//! new session is signed with the new secret.
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde::{Deserialize, Serialize};

use crate::helpers::{TestApp, assert_problem, spawn_app_with};

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
        c.auth.previous_secret_grace_hours = 24;
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
