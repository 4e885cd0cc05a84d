//! What is graded: a student's crate, built here, or executables given on
//! the command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::Failure;
use crate::sandbox::Limits;
use crate::tool::{self, run_tool};

/// How long building a submission may take (a first build compiles its
/// dependencies too).
pub const BUILD_TIME: Duration = Duration::from_secs(600);

/// Removes what an earlier build of *another* crate left of this crate's
/// package (not its dependencies) from the target folder.
///
/// Cargo names a path package's build without its absolute location, so two
/// students' copies of the lab's crate share their artifacts in a shared
/// target folder (batch grading, CARGO_TARGET_DIR). It then decides what to
/// rebuild by file times, and a submission whose files are older than the
/// previous build would be graded with the previous submission's binaries.
/// A note in the target folder says which crate was built there last; only
/// when that changes is the package cleaned, so grading the same crate again
/// rebuilds nothing.
fn forget_earlier_builds(manifest: &Path, until: Instant) -> Result<(), BuildError> {
    let mut command = Command::new(tool::cargo());
    command
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest);
    let output =
        run_tool(command, "cargo metadata", Limits::BUILD, until).map_err(BuildError::Failed)?;
    if !output.status.success() {
        return Err(BuildError::Failed(Failure {
            summary: format!("cargo cannot read {}", manifest.display()),
            seen: Some(tool::tail(&output.stderr, 40)),
            ..Failure::default()
        }));
    }
    let metadata: serde_json::Value = serde_json::from_str(&output.stdout)
        .map_err(|err| BuildError::Failed(Failure::new(format!("cargo metadata: {err}"))))?;
    let Some(target) = metadata["target_directory"].as_str().map(PathBuf::from) else {
        return Ok(());
    };
    let manifest = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_path_buf());
    let note = target.join("grader-last-crate");
    let this_crate = manifest.to_string_lossy().into_owned();
    if std::fs::read_to_string(&note).is_ok_and(|last| last == this_crate) {
        return Ok(());
    }
    let packages = metadata["packages"].as_array().into_iter().flatten();
    for package in
        packages.filter(|p| p["manifest_path"].as_str().map(Path::new) == Some(&manifest))
    {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        let mut clean = Command::new(tool::cargo());
        clean
            .args(["clean", "--package", name, "--manifest-path"])
            .arg(&manifest);
        run_tool(clean, "cargo clean", Limits::BUILD, until).map_err(BuildError::Failed)?;
    }
    // If the note cannot be written, the next grading cleans again: slower,
    // never wrong.
    let _ = std::fs::create_dir_all(&target).and_then(|()| std::fs::write(&note, this_crate));
    Ok(())
}

/// A crate that was built.
#[derive(Debug, Clone)]
pub struct Built {
    pub server: Option<PathBuf>,
    pub client: Option<PathBuf>,
    /// Where cargo put the build, for building the wrapper tests beside it.
    pub target_dir: PathBuf,
}

/// Why a crate could not be graded as built.
#[derive(Debug)]
pub enum BuildError {
    /// There is nothing to build: the grader cannot grade at all.
    NotACrate(String),
    /// It does not compile (or cargo failed): the submission's checks fail
    /// with this failure.
    Failed(Failure),
}

/// Builds the crate in `dir` and finds its `server` and `client`
/// executables.
pub fn build(dir: &Path) -> Result<Built, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(format!(
            "no Cargo.toml in {}: give the student's crate with --dir, or executables with --server/--client",
            dir.display()
        )));
    }
    let until = Instant::now() + BUILD_TIME;
    forget_earlier_builds(&manifest, until)?;
    let mut command = Command::new(tool::cargo());
    command
        .args([
            "build",
            "--bins",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TERM_COLOR", "never");
    let output =
        run_tool(command, "cargo build", Limits::BUILD, until).map_err(BuildError::Failed)?;
    if !output.status.success() {
        return Err(BuildError::Failed(Failure {
            summary: format!("the crate in {} does not build", dir.display()),
            seen: Some(tool::tail(&output.stderr, 80)),
            ..Failure::default()
        }));
    }
    let mut built = Built {
        server: None,
        client: None,
        target_dir: dir.join("target"),
    };
    for line in output.stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(executable) = message["executable"].as_str().map(PathBuf::from) else {
            continue;
        };
        // target/<profile>/<name>: the target directory is two levels up.
        if let Some(target) = executable.parent().and_then(Path::parent) {
            built.target_dir = target.to_path_buf();
        }
        match message["target"]["name"].as_str() {
            Some("server") => built.server = Some(executable),
            Some("client") => built.client = Some(executable),
            _ => {}
        }
    }
    Ok(built)
}
