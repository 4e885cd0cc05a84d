//! The record of what was generated: `support/.skeleton-manifest.sha256`.
//!
//! One line per generated file, `HASH  PATH`, the format of `sha256sum`: in
//! `support/`, `sha256sum -c .skeleton-manifest.sha256` lists the files the
//! student changed. A file whose content still has the hash recorded for it
//! is the generator's to rewrite; any other content is the student's.
//!
//! A path may be listed with two hashes for the time a regeneration takes:
//! the generator records the new hash before it writes the new content, so
//! that a generation stopped half-way never makes a generated file look
//! like the student's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::files::write_atomic;

/// The manifest's name in the generated crate.
pub const FILE_NAME: &str = ".skeleton-manifest.sha256";

/// For each generated path (relative, `/`-separated), the SHA-256 hashes
/// (hex) of the content generated for it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Manifest {
    hashes: BTreeMap<String, BTreeSet<String>>,
}

impl Manifest {
    /// Reads the manifest at `path`; none there means nothing was generated
    /// yet.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(Error::io("read", path)(err)),
        }
    }

    /// Parses the text of a manifest; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let mut manifest = Self::default();
        for (index, line) in text.lines().enumerate() {
            let parsed = line
                .split_once("  ")
                .filter(|(hash, file)| is_sha256_hex(hash) && !file.is_empty());
            let Some((hash, file)) = parsed else {
                return Err(Error::Manifest {
                    path: path.to_path_buf(),
                    line: index + 1,
                    message: String::from(
                        "expected `SHA256  PATH` (delete the manifest to treat every file as yours)",
                    ),
                });
            };
            manifest.insert(file, hash.to_owned());
        }
        Ok(manifest)
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for (path, hashes) in &self.hashes {
            for hash in hashes {
                // Writing to a String cannot fail.
                let _ = writeln!(text, "{hash}  {path}");
            }
        }
        text
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        write_atomic(path, self.render().as_bytes(), false)
    }

    /// Records `hash` as generated for `path`, beside any hash it had.
    pub fn insert(&mut self, path: &str, hash: String) {
        self.hashes.entry(path.to_owned()).or_default().insert(hash);
    }

    /// The hashes recorded for `path` (none if it was never generated).
    pub fn hashes(&self, path: &str) -> Option<&BTreeSet<String>> {
        self.hashes.get(path)
    }

    /// Whether `content` is something the generator wrote at `path`.
    pub fn generated(&self, path: &str, content: &[u8]) -> bool {
        self.hashes
            .get(path)
            .is_some_and(|hashes| hashes.contains(&sha256_hex(content)))
    }

    /// Every recorded path.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.hashes.keys().map(String::as_str)
    }
}

/// The SHA-256 of `bytes`, in lower-case hex as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_sha256sum_prints_them() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn renders_and_parses_back() {
        let mut manifest = Manifest::default();
        manifest.insert("src/a b.rs", sha256_hex(b"1"));
        manifest.insert("Cargo.toml", sha256_hex(b"2"));
        manifest.insert("Cargo.toml", sha256_hex(b"3"));
        let text = manifest.render();
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with(&format!("{}  Cargo.toml\n", sha256_hex(b"3"))));
        assert!(text.contains(&format!("\n{}  Cargo.toml\n", sha256_hex(b"2"))));
        let parsed = Manifest::parse(Path::new("m"), &text).expect("valid manifest");
        assert_eq!(parsed, manifest);
        assert!(parsed.generated("src/a b.rs", b"1"));
        assert!(parsed.generated("Cargo.toml", b"3"));
        assert!(!parsed.generated("Cargo.toml", b"1"));
        assert!(!parsed.generated("README.md", b"1"));
    }

    #[test]
    fn a_damaged_line_is_an_error_naming_it() {
        let text = format!("{}  a.rs\nnonsense\n", sha256_hex(b"1"));
        let err = Manifest::parse(Path::new("support/.skeleton-manifest.sha256"), &text)
            .expect_err("line 2 is damaged");
        assert_eq!(
            err.to_string(),
            "support/.skeleton-manifest.sha256:2: expected `SHA256  PATH` (delete the manifest to treat every file as yours)"
        );
    }
}
