//! Static files, embedded in the binary: no build step and nothing to deploy
//! beside it.
//!
//! The page scripts are plain ES modules: the entries the templates load
//! (`app.js`, `chat.js`, `settings.js`, `reset.js`) and the modules they
//! import, one concern each, under `modules/`. The service worker fetches every
//! module with the rest of the app's shell when it installs (`pwa`).
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const JS: &str = "text/javascript; charset=utf-8";

/// A module of the page scripts, served at `/assets/modules/{name}`.
macro_rules! module {
    ($name:literal) => {
        (concat!("modules/", $name), JS, include_bytes!(concat!("../assets/modules/", $name)))
    };
}

pub(crate) const FILES: &[(&str, &str, &[u8])] = &[
    ("app.js", JS, include_bytes!("../assets/app.js")),
    ("chat.js", JS, include_bytes!("../assets/chat.js")),
    ("settings.js", JS, include_bytes!("../assets/settings.js")),
    ("reset.js", JS, include_bytes!("../assets/reset.js")),
    module!("board.js"),
    module!("dom.js"),
    module!("feedback.js"),
    module!("focus.js"),
    module!("groups-page.js"),
    module!("http.js"),
    module!("list-filters.js"),
    module!("list-page.js"),
    module!("live.js"),
    module!("members-page.js"),
    module!("notifications.js"),
    module!("offline.js"),
    module!("page.js"),
    module!("preferences.js"),
    module!("project-settings.js"),
    module!("push.js"),
    module!("quick-add.js"),
    module!("region.js"),
    module!("rows.js"),
    module!("sections.js"),
    module!("selection.js"),
    module!("serial.js"),
    module!("shortcuts.js"),
    module!("sidebar.js"),
    module!("subtree.js"),
    module!("task-actions.js"),
    module!("task-comments.js"),
    module!("task-detail.js"),
    module!("task-page.js"),
    module!("task-schedule.js"),
    module!("title-edit.js"),
    module!("view.js"),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../assets/app.css")),
    ("icon.svg", "image/svg+xml", include_bytes!("../assets/icon.svg")),
    // Rendered from icon.svg and icons/maskable.svg by scripts/icons.
    ("icons/icon-192.png", "image/png", include_bytes!("../assets/icons/icon-192.png")),
    ("icons/icon-512.png", "image/png", include_bytes!("../assets/icons/icon-512.png")),
    ("icons/maskable-192.png", "image/png", include_bytes!("../assets/icons/maskable-192.png")),
    ("icons/maskable-512.png", "image/png", include_bytes!("../assets/icons/maskable-512.png")),
];

/// The page scripts' modules, as the paths the browser fetches them at.
pub(crate) fn module_paths() -> impl Iterator<Item = String> {
    FILES.iter().filter(|(name, _, _)| name.starts_with("modules/")).map(|(name, _, _)| format!("/assets/{name}"))
}

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

/// The page scripts' import graph, read from the templates and the scripts,
/// for the tests here and in `pwa`.
#[cfg(test)]
pub(crate) mod graph {
    use std::collections::BTreeSet;

    use super::FILES;

    const ENTRY: &str = "<script type=\"module\" src=\"/assets/";

    fn source(name: &str) -> &'static str {
        let (_, _, body) = FILES.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("{name} is not served"));
        std::str::from_utf8(body).unwrap()
    }

    /// `./x.js` or `../x.js` as seen from the asset `importer`, as an asset name.
    fn resolve(importer: &str, specifier: &str) -> String {
        let mut parts: Vec<&str> = importer.split('/').collect();
        parts.pop();
        for part in specifier.split('/') {
            match part {
                "." => {}
                ".." => assert!(parts.pop().is_some(), "{importer} imports {specifier}, outside /assets/"),
                _ => parts.push(part),
            }
        }
        parts.join("/")
    }

    /// The modules a script imports. The scripts use static
    /// `import { … } from './x.js';` statements only, always relative.
    fn imports(name: &str) -> Vec<String> {
        source(name)
            .split("from '")
            .skip(1)
            .map(|rest| {
                let specifier = &rest[..rest.find('\'').unwrap()];
                assert!(specifier.starts_with('.'), "{name} imports {specifier}: relative paths only");
                resolve(name, specifier)
            })
            .collect()
    }

    /// Every script a page rendered from `template` runs: the entries it loads
    /// and all they import, as asset names.
    pub(crate) fn scripts_of(template: &str) -> BTreeSet<String> {
        let mut todo: Vec<String> =
            template.split(ENTRY).skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned()).collect();
        let mut seen = BTreeSet::new();
        while let Some(name) = todo.pop() {
            if seen.insert(name.clone()) {
                todo.extend(imports(&name));
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::graph::scripts_of;
    use super::*;
    use crate::TEMPLATES;

    #[test]
    fn every_script_a_page_runs_is_served_as_javascript_and_every_module_is_imported() {
        let mut run = BTreeSet::new();
        for (_, template) in TEMPLATES {
            run.extend(scripts_of(template));
        }
        assert!(run.contains("settings.js") && run.contains("modules/http.js"), "{run:?}");
        for name in &run {
            let (_, mime, _) = FILES.iter().find(|(n, _, _)| n == name).unwrap();
            assert_eq!(*mime, JS, "{name}");
        }
        // A module on disk that no page imports is dead, or missing from FILES.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/modules");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = format!("modules/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(run.contains(&name), "{name} is imported by no page script, or missing from FILES");
        }
    }
}
