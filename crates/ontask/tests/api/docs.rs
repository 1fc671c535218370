//! The API reference UI at `/docs` is served whole by the binary: every script
//! and style sheet it names comes from this server, and it runs under a strict
//! Content-Security-Policy.
use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, StartTag, TagToken, Token, TokenSink, TokenSinkResult, Tokenizer};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};

use crate::helpers::spawn_app;

/// A `<script src>` or `<link href>` of the page.
#[derive(Debug)]
struct Asset {
    tag: String,
    rel: Option<String>,
    url: String,
}

/// Collects the assets of the page as the HTML tokenizer sees them.
#[derive(Default)]
struct Assets(RefCell<Vec<Asset>>);

impl TokenSink for Assets {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let TagToken(tag) = token
            && tag.kind == StartTag
        {
            let attr = |name: &str| tag.attrs.iter().find(|a| &*a.name.local == name).map(|a| a.value.to_string());
            let url = match &*tag.name {
                "script" => attr("src"),
                "link" => attr("href"),
                _ => None,
            };
            if let Some(url) = url {
                self.0.borrow_mut().push(Asset { tag: tag.name.to_string(), rel: attr("rel"), url });
            }
        }
        TokenSinkResult::Continue
    }
}

fn assets_of(html: &str) -> Vec<Asset> {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(Assets::default(), Default::default());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.take()
}

/// The policy's directives, by name.
fn directives(policy: &str) -> Vec<(&str, Vec<&str>)> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            Some((words.next()?, words.collect()))
        })
        .collect()
}

#[tokio::test]
async fn docs_are_served_from_the_binary_under_a_strict_policy() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    let directives = directives(&policy);
    let sources = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| *n == name)
            .or_else(|| directives.iter().find(|(n, _)| *n == "default-src"))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("{name} or default-src is set: {policy}"))
    };
    assert_eq!(sources("script-src"), ["'self'"], "scripts from this origin only, none inline: {policy}");
    assert_eq!(sources("style-src"), ["'self'"], "{policy}");
    assert_eq!(sources("connect-src"), ["'self'"], "{policy}");
    assert_eq!(sources("object-src"), ["'none'"], "{policy}");
    assert_eq!(sources("base-uri"), ["'none'"], "{policy}");
    assert_eq!(sources("frame-ancestors"), ["'none'"], "{policy}");
    assert!(!policy.contains("unsafe-") && !policy.contains('*'), "{policy}");

    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no absolute URL: {html}");
    assert!(html.contains("/openapi.json"), "the page reads our document: {html}");
    let assets = assets_of(&html);
    let scripts = assets.iter().filter(|a| a.tag == "script").count();
    let sheets = assets.iter().filter(|a| a.rel.as_deref() == Some("stylesheet")).count();
    assert!(scripts >= 2 && sheets >= 1, "Swagger UI and our initializer: {assets:?}");
    for asset in &assets {
        // Same origin: a path on this server, not `//host/...` or a scheme.
        assert!(asset.url.starts_with('/') && !asset.url.starts_with("//"), "{asset:?} is same-origin");
        let file = app.client.get(app.url(&asset.url)).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK, "{asset:?}");
        let content_type = file.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        let expected = match (asset.tag.as_str(), asset.rel.as_deref()) {
            ("script", _) => "text/javascript",
            (_, Some("stylesheet")) => "text/css",
            (_, Some("icon")) => "image/",
            other => panic!("unexpected asset {other:?}"),
        };
        assert!(content_type.starts_with(expected), "{asset:?} is {content_type}");
        assert_eq!(file.headers()["x-content-type-options"], "nosniff", "{asset:?}");
        assert!(!file.bytes().await.unwrap().is_empty(), "{asset:?}");
    }

    // Swagger UI's licence travels with it.
    let licence = app.client.get(app.url(&format!("/docs/swagger-ui-{}/LICENSE", swagger_ui_version(&assets))));
    let licence = licence.send().await.unwrap();
    assert_eq!(licence.status(), StatusCode::OK);
    assert!(licence.text().await.unwrap().contains("Apache License"));

    // Anything else under /docs is a problem+json 404, under the same policy.
    let missing = app.client.get(app.url("/docs/swagger-ui.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()[CONTENT_TYPE], "application/problem+json");
    assert_eq!(missing.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap(), policy);
    app.stop().await;
}

/// The version in the vendored files' path (`/docs/swagger-ui-<version>/...`).
fn swagger_ui_version(assets: &[Asset]) -> String {
    assets
        .iter()
        .find_map(|a| a.url.strip_prefix("/docs/swagger-ui-")?.split_once('/').map(|(v, _)| v.to_owned()))
        .expect("the page names Swagger UI's files by version")
}

/// Each operation of the served document, as (method, path, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

async fn document(app: &crate::helpers::TestApp) -> serde_json::Value {
    app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap()
}

/// Routes and operations come from one source (utoipa-axum's `routes!`): each
/// documented operation is answered by its handler, not by the router's
/// fallbacks ("no such route" 404, 405).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let operations = operations(&doc);
    assert!(operations.len() > 80, "{} operations", operations.len());
    for (method, path, _) in operations {
        // Any value fills a path parameter: a handler answers 401 or 404 for it, the router nothing.
        let concrete: String = path
            .split('/')
            .map(|part| if part.starts_with('{') { "00000000-0000-0000-0000-000000000000" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed: {body}");
        assert!(!body.contains("no such route"), "{method} {path} is routed: {status} {body}");
    }
    app.stop().await;
}

/// Every error answer of the REST API is RFC 9457 `application/problem+json`
/// with the `Problem` schema, and every signed-in operation says it answers 401.
/// (CalDAV's errors are DAV:error XML, as WebDAV clients expect.)
#[tokio::test]
async fn every_error_answer_is_a_documented_problem() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut wrong = Vec::new();
    for (method, path, operation) in operations(&doc) {
        if path.starts_with("/dav/") || path.starts_with("/.well-known/") {
            continue;
        }
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if !status.starts_with('4') && !status.starts_with('5') {
                continue;
            }
            let content = &response["content"];
            let schema = &content["application/problem+json"]["schema"]["$ref"];
            // /health answers 503 with its report, as monitors read it.
            if path == "/health" || path == "/readyz" {
                continue;
            }
            if content.as_object().map(|c| c.len()) != Some(1) || schema != "#/components/schemas/Problem" {
                wrong.push(format!("{method} {path} {status}: {content}"));
            }
        }
        let signed_in = operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        if signed_in && !responses.contains_key("401") {
            wrong.push(format!("{method} {path} is signed in but documents no 401"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}

/// Operation ids are unique (OpenAPI requires it): links, generated clients
/// and the contract test's stateful phase find operations by them, and two
/// handlers called `read` once sent its links to the wrong operation.
#[tokio::test]
async fn operation_ids_are_unique() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut seen = std::collections::HashMap::new();
    let mut twice = Vec::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has an operationId"));
        if let Some(first) = seen.insert(id.to_owned(), format!("{method} {path}")) {
            twice.push(format!("{id}: {first} and {method} {path}"));
        }
    }
    assert!(seen.contains_key("tasks_read") && seen.contains_key("webhooks_read"), "{:?}", seen.keys());
    assert!(twice.is_empty(), "{}", twice.join("\n"));
    app.stop().await;
}
