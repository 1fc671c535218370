//! The API reference UI at `/docs`: Swagger UI on `/openapi.json`, every file
//! of it embedded in the binary (`build.rs` takes them out of the pinned,
//! vendored release), so the page loads nothing from another origin, works in
//! an air-gapped cluster, and runs under a policy as strict as the web UI's:
//! scripts and styles from this origin only, no inline code (the initializer
//! is a file of ours, `assets/docs/docs.js`).
//!
//! Swagger UI's files live under a path naming its version, so they can be
//! cached for good; our own page and files are revalidated, as they change
//! with the binary.
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{ApiError, ApiState};

/// The Swagger UI release embedded (from `build.rs`).
pub const SWAGGER_UI_VERSION: &str = env!("SWAGGER_UI_VERSION");

/// Same-origin scripts, styles and requests only, and no inline code; images
/// may also be `data:` URLs, which Swagger UI's style sheet uses for its icons.
/// Nothing else is allowed at all (`default-src 'none'`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// How long a browser may keep a file.
#[derive(Clone, Copy)]
enum Caching {
    /// Changes with the binary: ask again each time.
    Revalidate,
    /// Under a versioned path: never changes.
    Immutable,
}

struct Asset {
    path: String,
    content_type: &'static str,
    body: &'static [u8],
    caching: Caching,
}

macro_rules! swagger_ui {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui/", $name))
    };
}

/// The page, with the version filled into its asset paths once.
static PAGE: LazyLock<String> =
    LazyLock::new(|| include_str!("../assets/docs/index.html").replace("{version}", SWAGGER_UI_VERSION));

/// Every file under `/docs/`, by its path below it.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let ours = |path: &str, content_type, body| Asset {
        path: path.to_owned(),
        content_type,
        body,
        caching: Caching::Revalidate,
    };
    let vendored = |name: &str, content_type, body| Asset {
        path: format!("swagger-ui-{SWAGGER_UI_VERSION}/{name}"),
        content_type,
        body,
        caching: Caching::Immutable,
    };
    vec![
        ours("docs.js", JS, include_bytes!("../assets/docs/docs.js")),
        ours("docs.css", CSS, include_bytes!("../assets/docs/docs.css")),
        vendored("swagger-ui-bundle.js", JS, swagger_ui!("swagger-ui-bundle.js")),
        vendored("swagger-ui.css", CSS, swagger_ui!("swagger-ui.css")),
        vendored("favicon-32x32.png", "image/png", swagger_ui!("favicon-32x32.png")),
        vendored("LICENSE", TEXT, swagger_ui!("LICENSE")),
        vendored("NOTICE", TEXT, swagger_ui!("NOTICE")),
    ]
});

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/docs", get(page))
        .route("/docs/{*path}", get(asset))
        .layer(axum::middleware::from_fn(security_headers))
}

async fn page() -> Response {
    let mut response = axum::response::Html(PAGE.as_str()).into_response();
    cache(&mut response, Caching::Revalidate);
    response
}

async fn asset(Path(path): Path<String>) -> Result<Response, ApiError> {
    let asset = ASSETS.iter().find(|a| a.path == path).ok_or(ApiError::NotFound)?;
    let mut response = asset.body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    cache(&mut response, asset.caching);
    Ok(response)
}

fn cache(response: &mut Response, caching: Caching) {
    let value = match caching {
        Caching::Revalidate => "no-cache",
        Caching::Immutable => "public, max-age=31536000, immutable",
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
}

/// On every answer under `/docs`, errors included.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_files_this_module_serves() {
        let mut named = 0;
        for attribute in ["src=\"", "href=\""] {
            for piece in PAGE.split(attribute).skip(1) {
                let url = piece.split('"').next().unwrap_or_default();
                if let Some(path) = url.strip_prefix("/docs/") {
                    assert!(ASSETS.iter().any(|a| a.path == path), "{url} is served");
                    named += 1;
                } else {
                    assert_eq!(url, "/openapi.json", "only our own files and the document");
                }
            }
        }
        assert_eq!(named, ASSETS.len(), "every file is used by the page");
        assert!(!PAGE.contains("{version}"));
    }

    #[test]
    fn the_vendored_files_are_swagger_ui_and_its_licence() {
        let body = |name: &str| {
            let path = format!("swagger-ui-{SWAGGER_UI_VERSION}/{name}");
            ASSETS.iter().find(|a| a.path == path).map(|a| a.body).unwrap_or_default()
        };
        assert!(body("swagger-ui-bundle.js").windows(15).any(|w| w == b"SwaggerUIBundle"));
        assert!(String::from_utf8_lossy(body("LICENSE")).contains("Apache License"));
        assert!(String::from_utf8_lossy(body("NOTICE")).contains("SmartBear"));
        assert!(body("favicon-32x32.png").starts_with(b"\x89PNG"));
    }
}
