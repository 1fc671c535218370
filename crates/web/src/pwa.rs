//! The installable app: the web app manifest and the service worker.
//!
//! The service worker's script carries a version computed from everything the
//! UI is made of (assets, templates, the crate version). Browsers compare the
//! script byte for byte, so a binary whose UI differs in any way ships a new
//! worker, which drops the caches of the one before (`assets/sw.js`).
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::TEMPLATES;
use crate::assets::{FILES, module_paths};

/// The brand colour of `icon.svg`, also the installed app's title bar.
const THEME_COLOUR: &str = "#4f46e5";
/// The light theme's page ground (`--bg` in `app.css`), shown while the app starts.
const BACKGROUND: &str = "#f6f7fb";

const SW_SOURCE: &str = include_str!("../assets/sw.js");
const VERSION_SLOT: &str = "__ONTASK_UI_VERSION__";
/// Where the worker's script takes the page scripts' modules, space-separated.
const MODULES_SLOT: &str = "__ONTASK_UI_MODULES__";

/// A web app manifest (W3C Web Application Manifest), the fields browsers use
/// to install the app.
#[derive(Debug, Serialize)]
pub(crate) struct Manifest {
    id: &'static str,
    name: &'static str,
    short_name: &'static str,
    description: &'static str,
    start_url: &'static str,
    scope: &'static str,
    display: &'static str,
    theme_color: &'static str,
    background_color: &'static str,
    icons: [Icon; 5],
}

#[derive(Debug, Serialize)]
struct Icon {
    src: &'static str,
    sizes: &'static str,
    #[serde(rename = "type")]
    media_type: &'static str,
    purpose: &'static str,
}

const fn png(src: &'static str, sizes: &'static str, purpose: &'static str) -> Icon {
    Icon { src, sizes, media_type: "image/png", purpose }
}

pub(crate) const MANIFEST: Manifest = Manifest {
    id: "/",
    name: "ontask",
    short_name: "ontask",
    description: "Your tasks and your team's shared projects",
    start_url: "/",
    scope: "/",
    display: "standalone",
    theme_color: THEME_COLOUR,
    background_color: BACKGROUND,
    icons: [
        Icon { src: "/assets/icon.svg", sizes: "any", media_type: "image/svg+xml", purpose: "any" },
        png("/assets/icons/icon-192.png", "192x192", "any"),
        png("/assets/icons/icon-512.png", "512x512", "any"),
        png("/assets/icons/maskable-192.png", "192x192", "maskable"),
        png("/assets/icons/maskable-512.png", "512x512", "maskable"),
    ],
};

pub(crate) async fn manifest() -> Response {
    let mut response = axum::Json(&MANIFEST).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/manifest+json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The version of this binary's UI: a hash of every asset and template.
pub(crate) fn ui_version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut h = DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut h);
        for (name, _, body) in FILES {
            (name, body).hash(&mut h);
        }
        TEMPLATES.hash(&mut h);
        format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), h.finish())
    });
    &VERSION
}

/// `assets/sw.js` with this binary's UI version and modules written in.
fn worker_script() -> &'static str {
    static SCRIPT: LazyLock<String> = LazyLock::new(|| {
        let modules = module_paths().collect::<Vec<_>>().join(" ");
        SW_SOURCE.replace(VERSION_SLOT, ui_version()).replace(MODULES_SLOT, &modules)
    });
    &SCRIPT
}

pub(crate) async fn service_worker() -> Response {
    let mut response = worker_script().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    // Browsers check for a new worker on each visit; let them see it at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_the_manifest_names_is_served_with_its_media_type() {
        for icon in &MANIFEST.icons {
            let name = icon.src.strip_prefix("/assets/").unwrap();
            let (_, mime, body) = FILES.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(*mime, icon.media_type);
            if icon.media_type == "image/png" {
                // PNG signature, then the IHDR chunk's width and height.
                assert_eq!(&body[..8], b"\x89PNG\r\n\x1a\n");
                let side = u32::from_be_bytes(body[16..20].try_into().unwrap());
                assert_eq!(icon.sizes, format!("{side}x{side}"));
            }
        }
        assert!(MANIFEST.icons.iter().any(|i| i.purpose == "maskable"));
    }

    #[test]
    fn the_worker_carries_the_ui_version() {
        assert!(SW_SOURCE.contains(VERSION_SLOT));
        let script = worker_script();
        assert!(script.contains(&format!("const VERSION = '{}';", ui_version())));
        assert!(!script.contains(VERSION_SLOT));
    }

    /// Offline, a page runs only the scripts the worker fetched on install.
    #[test]
    fn the_worker_fetches_every_script_of_every_page_on_install() {
        let script = worker_script();
        let modules = script.split("const MODULES = '").nth(1).and_then(|rest| rest.split('\'').next()).unwrap();
        let modules: Vec<&str> = modules.split(' ').collect();
        let base = TEMPLATES.iter().find(|(name, _)| *name == "base.html").unwrap().1;
        let scripts = crate::assets::graph::scripts_of(base);
        assert!(scripts.len() > 2, "{scripts:?}");
        for name in scripts {
            let path = format!("/assets/{name}");
            assert!(
                modules.contains(&path.as_str()) || script.contains(&format!("'{path}'")),
                "{path} is not in the shell"
            );
        }
    }
}
