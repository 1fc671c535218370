//! Takes the files `/docs` serves out of Swagger UI's release archive, which
//! the `utoipa-swagger-ui-vendored` crate carries (pinned in Cargo.toml), so the
//! API reference UI is embedded in the binary: nothing is downloaded at build
//! time and the page loads nothing from another origin.
//!
//! Writes them to `$OUT_DIR/swagger-ui/`, with Swagger UI's licence and notice
//! (Apache-2.0 asks that both travel with the copy), and sets
//! `SWAGGER_UI_VERSION` from the archive's top folder (`swagger-ui-<version>`).
use std::io::Read;
use std::path::PathBuf;

/// Archive path below the top folder -> file name in `$OUT_DIR/swagger-ui/`.
const FILES: [(&str, &str); 5] = [
    ("dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"),
    ("dist/swagger-ui.css", "swagger-ui.css"),
    ("dist/favicon-32x32.png", "favicon-32x32.png"),
    ("LICENSE", "LICENSE"),
    ("NOTICE", "NOTICE"),
];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("swagger-ui");
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED))
        .expect("the vendored Swagger UI is a zip archive");
    let top = archive
        .file_names()
        .find_map(|name| name.ok()?.split_once('/').map(|(top, _)| top.to_owned()))
        .expect("the archive has a top folder");
    let version = top.strip_prefix("swagger-ui-").expect("the top folder is swagger-ui-<version>").to_owned();
    for (inside, name) in FILES {
        let path = format!("{top}/{inside}");
        let mut entry = archive.by_name(&path).unwrap_or_else(|e| panic!("{path} is in the archive: {e}"));
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap_or_else(|e| panic!("{path} reads: {e}"));
        std::fs::write(out.join(name), bytes).expect("OUT_DIR is writable");
    }
    println!("cargo:rustc-env=SWAGGER_UI_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
}
