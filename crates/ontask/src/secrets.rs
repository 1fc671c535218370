//! Secrets generated on first start, kept in the data directory.
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use rand::RngCore;

/// Reads the secret at `path`, creating it (32 random bytes, hex, mode 0600) if absent.
pub fn load_or_create(path: &Path) -> anyhow::Result<Vec<u8>> {
    let secret = load_or_create_with(path, || {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    })?;
    anyhow::ensure!(
        secret.len() >= 32,
        "{} is too short to be a secret; delete it to generate a new one",
        path.display()
    );
    Ok(secret.into_bytes())
}

/// Reads the text at `path` (trimmed), creating it from `generate` (mode 0600)
/// if absent. Two processes starting at once agree on the first one written.
pub fn load_or_create_with(path: &Path, generate: impl Fn() -> String) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let secret = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(secret)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_with(path, generate),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
