//! What the modules share: the kit, the generator under test, commands that
//! explain themselves when they fail, and scratch folders.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The lab kit's folder.
pub fn kit() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("skeleton/ is inside the kit")
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The generator under test, on `solution` and the workspace manifest it
/// inherits from; the caller says what to make.
pub fn generator(solution: &Path, workspace_manifest: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skeleton"));
    command
        .arg("--solution")
        .arg(solution)
        .arg("--workspace-manifest")
        .arg(workspace_manifest);
    command
}

/// The generator on the kit's own solution.
pub fn kit_generator() -> Command {
    generator(&kit().join("solution"), &kit().join("Cargo.toml"))
}

/// Runs `command` to its end; panics, naming it, if it cannot start.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

/// Runs `command`, which must succeed; if it fails, panics with the
/// command, its status, and everything it printed.
pub fn run_ok(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// A folder of one test under the system's temporary folder, removed when
/// dropped.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let folder = tempfile::Builder::new()
            .prefix(&format!("skeleton-test-{name}-"))
            .tempdir()
            .expect("create a temporary folder");
        Self(folder)
    }

    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(relative)
    }

    /// Writes `text` to `relative`, creating its folders.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.join(relative);
        fs::create_dir_all(path.parent().expect("a file has a folder")).expect("create a folder");
        fs::write(&path, text).expect("write a file");
    }
}
