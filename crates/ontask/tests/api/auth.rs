//! Accounts, sessions, API tokens, and every way a bearer token can be wrong.
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app, spawn_app_with};

fn now_secs() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

fn session_cookie(response: &reqwest::Response) -> String {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with("ontask_session="))
        .expect("an ontask_session cookie is set")
}

/// The value part of `name=value; attrs`.
fn cookie_value(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1
}

async fn get_with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap()
}

/// A user whose bearer is `token` (an API token, a crafted JWT, ...).
fn as_token(user: &TestUser, token: &str) -> TestUser {
    TestUser { token: token.to_owned(), ..user.clone() }
}

async fn create_api_token(app: &TestApp, user: &TestUser, scopes: &[&str]) -> Value {
    let response =
        app.post("/api/v1/tokens", user).json(&json!({ "name": "script", "scopes": scopes })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn register_sets_a_safe_cookie_and_the_first_account_is_admin() {
    let app = spawn_app().await;
    let response = app.register("Ada@Example.com", "correct horse battery").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = session_cookie(&response);
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{cookie}");
    assert!(lower.contains("samesite=lax"), "{cookie}");
    assert!(lower.contains("path=/"), "{cookie}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["token"].as_str().unwrap().split('.').count() == 3, "a JWT: {body}");
    assert!(body["expires_at"].is_string());
    assert!(body["user"].get("password_hash").is_none() && !body.to_string().contains("argon2"));
    assert_eq!(cookie_value(&cookie), body["token"].as_str().unwrap());

    let second = app.register("grace@example.com", "another long password").await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["user"]["role"], "user");
    app.stop().await;
}

#[tokio::test]
async fn a_registered_e_mail_cannot_be_registered_again() {
    let app = spawn_app().await;
    assert_eq!(app.register("ada@example.com", "correct horse battery").await.status(), StatusCode::CREATED);
    assert_problem(app.register("ada@example.com", "another password").await, StatusCode::CONFLICT, "conflict").await;
    // The same address in other letter case is the same account.
    assert_problem(app.register(" ADA@example.com ", "another password").await, StatusCode::CONFLICT, "conflict").await;
    app.stop().await;
}

#[tokio::test]
async fn bad_sign_up_input_names_the_fields() {
    let app = spawn_app().await;
    for email in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com"] {
        let body = assert_problem(
            app.register(email, "correct horse battery").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "email", "{email}: {body}");
        assert!(body["errors"][0]["message"].is_string());
    }
    let body =
        assert_problem(app.register("ada@example.com", "short").await, StatusCode::UNPROCESSABLE_ENTITY, "validation")
            .await;
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
    // Both wrong: both reported, so the form can show every problem at once.
    let body =
        assert_problem(app.register("nope", "short").await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password"], "{body}");
    // A missing field and an unknown one are validation errors too.
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({ "email": "ada@example.com" }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert!(body["errors"][0]["field"].is_string(), "{body}");
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery", "admin": true }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    app.stop().await;
}

#[tokio::test]
async fn login_checks_the_password() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let login = |email: String, password: &'static str| {
        app.client.post(app.url("/api/v1/auth/login")).json(&json!({ "email": email, "password": password })).send()
    };
    let response = login(user.email.to_uppercase(), "correct horse battery").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response);
    assert!(cookie.to_ascii_lowercase().contains("httponly"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], user.id.as_str());
    let token = body["token"].as_str().unwrap();
    assert_eq!(get_with_token(&app, "/api/v1/me", token).await.status(), StatusCode::OK);

    let wrong = login(user.email.clone(), "wrong horse battery").await.unwrap();
    assert!(set_cookies(&wrong).is_empty());
    let body = assert_problem(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The same answer whether or not the account exists.
    let unknown = assert_problem(
        login("nobody@example.com".into(), "wrong horse battery").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(body["detail"], unknown["detail"]);
    app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_authenticates_and_logout_clears_it() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": user.email, "password": user.password }))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&response);
    let pair = cookie.split(';').next().unwrap().to_owned();

    let me = app.client.get(app.url("/api/v1/me")).header(COOKIE, &pair).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["email"], user.email.as_str());

    // A change from the same origin works; one from another site is refused.
    let host = app.address.trim_start_matches("http://").to_owned();
    let same_site = app
        .client
        .post(app.url("/api/v1/tasks"))
        .header(COOKIE, &pair)
        .header("origin", format!("http://{host}"))
        .json(&json!({ "title": "from the browser" }))
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::CREATED);
    let cross_site = app
        .client
        .post(app.url("/api/v1/tasks"))
        .header(COOKIE, &pair)
        .header("origin", "https://evil.example")
        .json(&json!({ "title": "forged" }))
        .send()
        .await
        .unwrap();
    assert_problem(cross_site, StatusCode::FORBIDDEN, "forbidden").await;

    let logout = app.client.post(app.url("/api/v1/auth/logout")).header(COOKIE, &pair).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let cleared = session_cookie(&logout);
    assert_eq!(cookie_value(&cleared), "", "{cleared}");
    let lower = cleared.to_ascii_lowercase();
    assert!(lower.contains("max-age=0") || lower.contains("expires=thu, 01 jan 1970"), "{cleared}");
    assert!(lower.contains("path=/"), "{cleared}");
    app.stop().await;
}

#[tokio::test]
async fn me_answers_the_account_and_needs_a_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app.get("/api/v1/me", &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["role"], "admin");
    assert!(me["name"].is_string() && me["created_at"].is_string(), "{me}");
    let anonymous = app.request(Method::GET, "/api/v1/me", None).send().await.unwrap();
    assert!(anonymous.headers().get("www-authenticate").is_some());
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.stop().await;
}

#[tokio::test]
async fn api_tokens_are_shown_once_listed_without_secret_and_revocable() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let created = create_api_token(&app, &user, &["tasks:read", "tasks:write"]).await;
    let secret = created["token"].as_str().expect("the secret is in the creation answer");
    assert!(secret.starts_with("ot_") && secret.len() > 20, "{secret}");
    assert_eq!(created["scopes"], json!(["tasks:read", "tasks:write"]));
    assert_eq!(created["name"], "script");
    let id = created["id"].as_str().unwrap();

    let as_token = as_token(&user, secret);
    let task = app.create_task(&as_token, json!({ "title": "made by a script" })).await;
    // The event records that a token, not the person, made the change.
    let history = app.task_history(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(history[0]["metadata"]["actor"], "api-token");

    let list: Value = app.get("/api/v1/tokens", &user).send().await.unwrap().json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert!(items[0].get("token").is_none(), "no secret in the list: {list}");
    assert!(!list.to_string().contains(secret));
    assert!(items[0]["last_used_at"].is_string(), "use is recorded: {list}");

    assert_eq!(
        app.delete(&format!("/api/v1/tokens/{id}"), &user).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(get_with_token(&app, "/api/v1/tasks", secret).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(
        app.delete(&format!("/api/v1/tokens/{id}"), &user).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let list: Value = app.get("/api/v1/tokens", &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));

    // Another user can neither see nor revoke someone's token.
    let other = app.new_user().await;
    let created = create_api_token(&app, &user, &["tasks:read"]).await;
    let id = created["id"].as_str().unwrap();
    let list: Value = app.get("/api/v1/tokens", &other).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    assert_problem(
        app.delete(&format!("/api/v1/tokens/{id}"), &other).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_read_only_token_reads_but_cannot_write() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "existing" })).await;
    let id = task["id"].as_str().unwrap();
    let created = create_api_token(&app, &user, &["tasks:read"]).await;
    let reader = as_token(&user, created["token"].as_str().unwrap());

    assert_eq!(app.get("/api/v1/tasks", &reader).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}"), &reader).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}/history"), &reader).send().await.unwrap().status(), StatusCode::OK);
    let refused = app.post("/api/v1/tasks", &reader).json(&json!({ "title": "nope" })).send().await.unwrap();
    let body = assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(body["detail"].as_str().unwrap().contains("tasks:write"), "{body}");
    let patch = app.patch(&format!("/api/v1/tasks/{id}"), &reader).json(&json!({ "title": "x" })).send().await.unwrap();
    assert_problem(patch, StatusCode::FORBIDDEN, "forbidden").await;
    let complete = app.post(&format!("/api/v1/tasks/{id}/complete"), &reader).send().await.unwrap();
    assert_problem(complete, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        app.delete(&format!("/api/v1/tasks/{id}"), &reader).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // A write-only token cannot read.
    let created = create_api_token(&app, &user, &["tasks:write"]).await;
    let writer = as_token(&user, created["token"].as_str().unwrap());
    assert_problem(app.get("/api/v1/tasks", &writer).send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    app.stop().await;
}

#[tokio::test]
async fn a_token_cannot_manage_tokens_and_scopes_are_checked() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let created = create_api_token(&app, &user, &["tasks:read", "tasks:write"]).await;
    let token_user = as_token(&user, created["token"].as_str().unwrap());
    let minted = app
        .post("/api/v1/tokens", &token_user)
        .json(&json!({ "name": "escalate", "scopes": ["tasks:write"] }))
        .send()
        .await
        .unwrap();
    assert_problem(minted, StatusCode::FORBIDDEN, "forbidden").await;
    let id = created["id"].as_str().unwrap();
    assert_problem(
        app.delete(&format!("/api/v1/tokens/{id}"), &token_user).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let unknown = app
        .post("/api/v1/tokens", &user)
        .json(&json!({ "name": "x", "scopes": ["tasks:admin"] }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(body["errors"][0]["field"], "scopes");
    let none = app.post("/api/v1/tokens", &user).json(&json!({ "name": "x", "scopes": [] })).send().await.unwrap();
    assert_eq!(
        assert_problem(none, StatusCode::UNPROCESSABLE_ENTITY, "validation").await["errors"][0]["field"],
        "scopes"
    );
    let nameless =
        app.post("/api/v1/tokens", &user).json(&json!({ "name": " ", "scopes": ["tasks:read"] })).send().await.unwrap();
    assert_eq!(
        assert_problem(nameless, StatusCode::UNPROCESSABLE_ENTITY, "validation").await["errors"][0]["field"],
        "name"
    );
    let forever = app
        .post("/api/v1/tokens", &user)
        .json(&json!({ "name": "x", "scopes": ["tasks:read"], "expires_in_days": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(forever, StatusCode::UNPROCESSABLE_ENTITY, "validation").await["errors"][0]["field"],
        "expires_in_days"
    );
    let expiring = app
        .post("/api/v1/tokens", &user)
        .json(&json!({ "name": "x", "scopes": ["tasks:read"], "expires_in_days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(expiring.status(), StatusCode::CREATED);
    let expiring: Value = expiring.json().await.unwrap();
    assert!(expiring["expires_at"].is_string());
    app.stop().await;
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn bad_bearer_tokens_are_all_401_problems() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let secret = std::fs::read_to_string(app.data_dir.path().join("jwt_secret")).expect("the generated secret");
    let secret = secret.trim().as_bytes();
    let claims =
        |exp: i64| json!({ "sub": user.id, "iss": "ontask", "iat": now_secs() - 10, "exp": exp, "role": "user" });

    // A token signed with the server's secret works: the crafting is right.
    let good = hs256(secret, &claims(now_secs() + 600));
    assert_eq!(get_with_token(&app, "/api/v1/me", &good).await.status(), StatusCode::OK);

    let missing = app.client.get(app.url("/api/v1/tasks")).send().await.unwrap();
    assert_problem(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let expired = hs256(secret, &claims(now_secs() - 3600));
    let body =
        assert_problem(get_with_token(&app, "/api/v1/tasks", &expired).await, StatusCode::UNAUTHORIZED, "unauthorized")
            .await;
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");

    let mut early = claims(now_secs() + 7200);
    early["nbf"] = json!(now_secs() + 3600);
    let early = hs256(secret, &early);
    let body =
        assert_problem(get_with_token(&app, "/api/v1/tasks", &early).await, StatusCode::UNAUTHORIZED, "unauthorized")
            .await;
    assert!(body["detail"].as_str().unwrap().contains("not valid yet"), "{body}");

    let forged = hs256(b"another secret that is long enough to be a real one", &claims(now_secs() + 600));
    assert_problem(get_with_token(&app, "/api/v1/tasks", &forged).await, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;

    // The right payload with the signature cut off, and with alg=none.
    let unsigned = format!("{}.", good.rsplit_once('.').unwrap().0);
    assert_problem(get_with_token(&app, "/api/v1/tasks", &unsigned).await, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    let payload = b64(&claims(now_secs() + 600));
    for header in [
        json!({ "alg": "none" }),
        json!({ "alg": "none", "typ": "JWT" }),
        json!({ "alg": "None" }),
        json!({ "alg": "NONE" }),
    ] {
        let none = format!("{}.{payload}.", b64(&header));
        let response = get_with_token(&app, "/api/v1/tasks", &none).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // A token claiming an external IdP's algorithm while no JWKS is configured.
    let eddsa = format!("{}.{payload}.{}", b64(&json!({ "alg": "EdDSA" })), URL_SAFE_NO_PAD.encode([0u8; 64]));
    assert_problem(get_with_token(&app, "/api/v1/tasks", &eddsa).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // A well-signed token without the claims we require.
    let no_exp = hs256(secret, &json!({ "sub": user.id, "iss": "ontask" }));
    assert_problem(get_with_token(&app, "/api/v1/tasks", &no_exp).await, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    let other_issuer = hs256(secret, &json!({ "sub": user.id, "iss": "someone-else", "exp": now_secs() + 600 }));
    assert_problem(
        get_with_token(&app, "/api/v1/tasks", &other_issuer).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let bad_subject = hs256(secret, &json!({ "sub": "not-a-uuid", "iss": "ontask", "exp": now_secs() + 600 }));
    assert_problem(get_with_token(&app, "/api/v1/tasks", &bad_subject).await, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;

    for garbage in ["garbage", "a.b.c", "ot_nonexistent", "....", "eyJ", "\u{00e9}t\u{00e9}", &"x".repeat(5000)] {
        let response = app
            .client
            .get(app.url("/api/v1/tasks"))
            .header("authorization", format!("Bearer {garbage}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    for scheme in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc"] {
        let response = app.client.get(app.url("/api/v1/tasks")).header("authorization", scheme).send().await.unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_token_for_a_deleted_or_unknown_account_is_refused_on_me() {
    let app = spawn_app().await;
    let _user = app.new_user().await;
    let secret = std::fs::read_to_string(app.data_dir.path().join("jwt_secret")).unwrap();
    let ghost = hs256(
        secret.trim().as_bytes(),
        &json!({ "sub": uuid::Uuid::now_v7().to_string(), "iss": "ontask", "exp": now_secs() + 600 }),
    );
    assert_problem(get_with_token(&app, "/api/v1/me", &ghost).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // A validly signed token of an account this database does not know (say,
    // after the database was reset but the secret kept) is no account at all.
    assert_problem(get_with_token(&app, "/api/v1/tasks", &ghost).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = app
        .client
        .post(app.url("/api/v1/tasks"))
        .bearer_auth(&ghost)
        .json(&json!({ "title": "orphan" }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.stop().await;
}

/// A stand-in for an external identity provider (which cannot run here): it
/// serves its public keys as a JWKS, exactly as Keycloak or Dex do.
struct FakeIdp {
    url: String,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn fake_idp(keys: &[(&str, &SigningKey)]) -> FakeIdp {
    let jwks = json!({
        "keys": keys.iter().map(|(kid, key)| json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        })).collect::<Vec<_>>()
    });
    let router = axum::Router::new()
        .route("/.well-known/jwks.json", axum::routing::get(move || async move { axum::Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let cancelled = stop.clone();
    tokio::spawn(
        async move { axum::serve(listener, router).with_graceful_shutdown(cancelled.cancelled_owned()).await },
    );
    FakeIdp { url, stop }
}

fn signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut seed);
    SigningKey::from_bytes(&seed)
}

fn eddsa_token(key: &SigningKey, kid: &str, claims: &Value) -> String {
    let signing_input = format!("{}.{}", b64(&json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid })), b64(claims));
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[tokio::test]
async fn tokens_of_an_external_identity_provider_are_verified_against_its_jwks() {
    let key = signing_key();
    let idp = fake_idp(&[("key-1", &key)]).await;
    let jwks_url = idp.url.clone();
    let app = spawn_app_with(|c| {
        c.auth.jwks_url = Some(jwks_url);
        c.auth.jwt_issuer = Some("https://idp.example".into());
    })
    .await;
    let claims = json!({
        "sub": "alice-123", "iss": "https://idp.example", "email": "Alice@Example.com", "name": "Alice",
        "iat": now_secs(), "exp": now_secs() + 600,
    });
    let token = eddsa_token(&key, "key-1", &claims);
    let alice = TestUser {
        id: String::new(),
        email: "alice@example.com".into(),
        password: String::new(),
        token: token.clone(),
    };

    let me = app.get("/api/v1/me", &alice).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["email"], "alice@example.com", "the account is provisioned from the claims: {me}");
    assert_eq!(me["name"], "Alice");
    assert_eq!(me["role"], "user");
    let task = app.create_task(&alice, json!({ "title": "from the IdP" })).await;
    assert_eq!(task["owner_id"], me["id"]);
    // The next token of the same subject is the same account.
    let again = eddsa_token(
        &key,
        "key-1",
        &json!({ "sub": "alice-123", "iss": "https://idp.example", "exp": now_secs() + 300 }),
    );
    let me_again: Value = get_with_token(&app, "/api/v1/me", &again).await.json().await.unwrap();
    assert_eq!(me_again["id"], me["id"]);

    // Signed by a key the IdP never published, under its kid or another.
    let stranger = signing_key();
    for kid in ["key-1", "key-2"] {
        let forged = eddsa_token(&stranger, kid, &claims);
        assert_problem(get_with_token(&app, "/api/v1/me", &forged).await, StatusCode::UNAUTHORIZED, "unauthorized")
            .await;
    }
    // Right key, but expired, or from another issuer.
    let expired = eddsa_token(
        &key,
        "key-1",
        &json!({ "sub": "alice-123", "iss": "https://idp.example", "exp": now_secs() - 3600 }),
    );
    assert_problem(get_with_token(&app, "/api/v1/me", &expired).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let foreign = eddsa_token(
        &key,
        "key-1",
        &json!({ "sub": "alice-123", "iss": "https://other.example", "exp": now_secs() + 600 }),
    );
    assert_problem(get_with_token(&app, "/api/v1/me", &foreign).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // A tampered payload under a valid signature.
    let (head, rest) = token.split_once('.').unwrap();
    let signature = rest.rsplit_once('.').unwrap().1;
    let tampered = format!(
        "{head}.{}.{signature}",
        b64(&json!({ "sub": "mallory", "iss": "https://idp.example", "exp": now_secs() + 600 }))
    );
    assert_problem(get_with_token(&app, "/api/v1/me", &tampered).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Our own session tokens keep working beside the IdP's.
    let local = app.new_user().await;
    assert_eq!(app.get("/api/v1/me", &local).send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;
    drop(idp);
}

#[tokio::test]
async fn ontask_token_prints_a_jwt_that_works() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .args(["token", "--user", &user.email.to_uppercase()])
        .args(app.database_args())
        .current_dir(app.data_dir.path())
        .output()
        .await
        .expect("run ontask token");
    assert!(output.status.success(), "ontask token failed: {}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.lines().count(), 1, "only the token is printed on stdout");
    let me = get_with_token(&app, "/api/v1/me", &token).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], user.id.as_str());

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .args(["token", "--user", "nobody@example.com"])
        .args(app.database_args())
        .current_dir(app.data_dir.path())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody@example.com"));
    app.stop().await;
}

#[tokio::test]
async fn guessing_passwords_is_rate_limited_per_account_and_per_address_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limits.sign_in_per_account = 5;
        c.rate_limits.sign_in_per_address = 7;
    })
    .await;
    // The sign-up counts once for the address and once for the account.
    let user = app.new_user().await;
    let login = |email: String, password: &'static str| {
        app.client.post(app.url("/api/v1/auth/login")).json(&json!({ "email": email, "password": password })).send()
    };
    for _ in 0..4 {
        let wrong = login(user.email.clone(), "not the password").await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The account is spent, even with the right password and another spelling.
    let limited = login(user.email.to_uppercase(), "correct horse battery").await.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    assert!(problem["detail"].as_str().unwrap().contains("try again in"), "{problem}");
    // Another account from the same address still gets its answer, until the
    // address has used its seven tries (a sign-up and six sign-ins).
    let other = login("nobody@example.com".into(), "whatever").await.unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    let spent = login("someone-else@example.com".into(), "whatever").await.unwrap();
    assert_problem(spent, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for scope in ["sign_in_account", "sign_in_address"] {
        let series = format!("ontask_rate_limited_total{{scope=\"{scope}\"}} ");
        let count = metrics.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.parse::<f64>().ok());
        assert!(count.is_some_and(|c| c >= 1.0), "{series}in {metrics}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_well_behaved_client_is_never_limited_and_a_runaway_one_is() {
    let app = spawn_app_with(|c| c.rate_limits.api_per_person = 40).await;
    let user = app.new_user().await;
    // A person's working pace: a few dozen requests.
    for _ in 0..30 {
        let listed = app.get("/api/v1/tasks", &user).send().await.unwrap();
        assert_eq!(listed.status(), StatusCode::OK);
    }
    // A script in a loop meets the limit, and another person does not.
    let mut limited = None;
    for _ in 0..20 {
        let answer = app.get("/api/v1/tasks", &user).send().await.unwrap();
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("the 41st request in a minute is refused");
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    let someone_else = app.new_user().await;
    assert_eq!(app.get("/api/v1/tasks", &someone_else).send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn behind_a_proxy_the_client_address_comes_from_its_header_only_when_configured() {
    let sign_ups = |app: &TestApp, forwarded: &'static str| {
        let request = app.client.post(app.url("/api/v1/auth/register"));
        async move {
            let email = format!("{}@example.com", uuid::Uuid::now_v7());
            let body = json!({ "email": email, "password": "correct horse battery" });
            request.header("x-forwarded-for", forwarded).json(&body).send().await.unwrap().status()
        }
    };
    // Configured: each address the proxy saw has its own allowance.
    let proxied = spawn_app_with(|c| {
        c.rate_limits.sign_in_per_address = 2;
        c.rate_limits.client_address_header = Some(http::HeaderName::from_static("x-forwarded-for"));
    })
    .await;
    for forwarded in ["203.0.113.1", "198.51.100.1, 203.0.113.1"] {
        assert_eq!(sign_ups(&proxied, forwarded).await, StatusCode::CREATED);
    }
    assert_eq!(sign_ups(&proxied, "203.0.113.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sign_ups(&proxied, "203.0.113.2").await, StatusCode::CREATED);
    proxied.stop().await;
    // Not configured: the header is the client's word and changes nothing.
    let direct = spawn_app_with(|c| c.rate_limits.sign_in_per_address = 2).await;
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(sign_ups(&direct, forwarded).await, StatusCode::CREATED);
    }
    assert_eq!(sign_ups(&direct, "203.0.113.3").await, StatusCode::TOO_MANY_REQUESTS);
    direct.stop().await;
}
