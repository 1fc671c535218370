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
