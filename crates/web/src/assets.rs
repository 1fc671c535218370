//! Static files, embedded in the binary: no build step and nothing to deploy
//! beside it.
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) const FILES: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../assets/app.js")),
    ("chat.js", "text/javascript; charset=utf-8", include_bytes!("../assets/chat.js")),
    ("settings.js", "text/javascript; charset=utf-8", include_bytes!("../assets/settings.js")),
    ("reset.js", "text/javascript; charset=utf-8", include_bytes!("../assets/reset.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../assets/app.css")),
    ("icon.svg", "image/svg+xml", include_bytes!("../assets/icon.svg")),
    // Rendered from icon.svg and icons/maskable.svg by scripts/icons.
    ("icons/icon-192.png", "image/png", include_bytes!("../assets/icons/icon-192.png")),
    ("icons/icon-512.png", "image/png", include_bytes!("../assets/icons/icon-512.png")),
    ("icons/maskable-192.png", "image/png", include_bytes!("../assets/icons/maskable-192.png")),
    ("icons/maskable-512.png", "image/png", include_bytes!("../assets/icons/maskable-512.png")),
];

pub async fn serve(Path(path): Path<String>) -> Response {
    let Some((_, mime, body)) = FILES.iter().find(|(name, _, _)| *name == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Revalidate each time: the files change with the binary, and are small.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
