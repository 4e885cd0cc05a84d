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
    let until = Instant::now() + BUILD_TIME;
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
