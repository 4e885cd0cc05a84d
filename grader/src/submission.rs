//! What is graded: a student's crate, built here, or executables given on
//! the command line.
//!
//! With a grading user (the grader runs as root), the crate is first copied
//! into this run's folder and given to that user, who builds it offline in
//! a build folder of its own: the build scripts and proc macros it runs are
//! the submission's code. The copy refuses symbolic links (a link to the
//! reference would be followed by root, who copies) and anything but plain
//! files and folders.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_metadata::Message;
use cargo_metadata::camino::Utf8PathBuf;

use crate::model::Failure;
use crate::sandbox::{self, Limits};
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
    let metadata: cargo_metadata::Metadata = serde_json::from_str(&output.stdout)
        .map_err(|err| BuildError::Failed(Failure::new(format!("cargo metadata: {err}"))))?;
    let target = metadata.target_directory.into_std_path_buf();
    let manifest = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_path_buf());
    let note = target.join("grader-last-crate");
    let this_crate = manifest.to_string_lossy().into_owned();
    if std::fs::read_to_string(&note).is_ok_and(|last| last == this_crate) {
        return Ok(());
    }
    for package in metadata
        .packages
        .iter()
        .filter(|p| p.manifest_path.as_std_path() == manifest)
    {
        let mut clean = Command::new(tool::cargo());
        clean
            .args(["clean", "--package", &package.name, "--manifest-path"])
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
    /// Lab 2's executables: `room`, the `room-helper` it runs, and
    /// `select-client`.
    pub room: Option<PathBuf>,
    pub room_helper: Option<PathBuf>,
    pub select_client: Option<PathBuf>,
    /// The crate that was built: the one given, or its copy for the
    /// grading user.
    pub crate_dir: PathBuf,
    /// Where cargo put the build, for building the wrapper tests beside it.
    pub target_dir: PathBuf,
}

/// Why a crate could not be graded as built.
#[derive(Debug)]
pub enum BuildError {
    /// There is nothing to build: the grader cannot grade at all.
    NotACrate(String),
    /// The grader is not set up to build it (a build folder the grading
    /// user cannot write): it cannot grade at all.
    Setup(String),
    /// It does not compile (or cargo failed, or it cannot be copied): the
    /// submission's checks fail with this failure.
    Failed(Failure),
}

/// Builds the crate in `dir` and finds its executables: lab 1's `server`
/// and `client`, lab 2's `room`, `room-helper` and `select-client`.
pub fn build(dir: &Path) -> Result<Built, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(format!(
            "no Cargo.toml in {}: give the student's crate with --dir, or executables with --server/--client",
            dir.display()
        )));
    }
    let until = Instant::now() + BUILD_TIME;
    let mut command = Command::new(tool::cargo());
    command.args([
        "build",
        "--bins",
        "--message-format=json-render-diagnostics",
    ]);
    let (crate_dir, target_dir) = match sandbox::run_as() {
        Some(run_as) => {
            let copy = run_as.work.join("crate");
            copy_crate(dir, &copy).map_err(|err| {
                BuildError::Failed(Failure::new(format!(
                    "the submission in {} cannot be graded: {err}",
                    dir.display()
                )))
            })?;
            run_as.give(&copy).map_err(|err| {
                BuildError::Setup(format!(
                    "could not hand the crate to the grading user: {err}"
                ))
            })?;
            let target = user_target_dir(run_as).map_err(BuildError::Setup)?;
            // A fresh copy is newer than any earlier build in a shared build
            // folder, so cargo rebuilds it: no need to forget those builds
            // (which would mean writing, as root, in the user's folder).
            command.arg("--offline").arg("--target-dir").arg(&target);
            (copy, Some(target))
        }
        None => {
            forget_earlier_builds(&manifest, until)?;
            (dir.to_path_buf(), None)
        }
    };
    command
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TERM_COLOR", "never");
    let output =
        run_tool(command, "cargo build", Limits::BUILD, until).map_err(BuildError::Failed)?;
    if !output.status.success() {
        return Err(BuildError::Failed(Failure {
            summary: does_not_compile(&output.stderr),
            seen: Some(tool::tail(&output.stderr, 80)),
            ..Failure::default()
        }));
    }
    let mut built = Built {
        server: None,
        client: None,
        room: None,
        room_helper: None,
        select_client: None,
        target_dir: target_dir.clone().unwrap_or_else(|| dir.join("target")),
        crate_dir,
    };
    for message in Message::parse_stream(output.stdout.as_bytes()) {
        let Ok(Message::CompilerArtifact(artifact)) = message else {
            continue;
        };
        let Some(executable) = artifact.executable.map(Utf8PathBuf::into_std_path_buf) else {
            continue;
        };
        if let Some(target) = &target_dir {
            // What cargo prints can be forged by the build (a build script
            // can write to cargo's output): only an executable in the build
            // folder, made by the grading user, is the submission's.
            if !built_by_user(&executable, target) {
                continue;
            }
        } else if let Some(target) = executable.parent().and_then(Path::parent) {
            // target/<profile>/<name>: the target directory is two levels up.
            built.target_dir = target.to_path_buf();
        }
        match artifact.target.name.as_str() {
            "server" => built.server = Some(executable),
            "client" => built.client = Some(executable),
            "room" => built.room = Some(executable),
            "room-helper" => built.room_helper = Some(executable),
            "select-client" => built.select_client = Some(executable),
            _ => {}
        }
    }
    Ok(built)
}

/// The summary of a failed build: `does not compile: ` and the first
/// error cargo printed, with where the compiler found it
/// (`error[E0308]: mismatched types at src/lib.rs:1:21`), for the report
/// and the gradebook's note.
fn does_not_compile(stderr: &str) -> String {
    let mut lines = stderr.lines();
    let Some(error) = lines.find(|line| line.starts_with("error")) else {
        return "does not compile: cargo build failed (its output is below)".to_owned();
    };
    let place = lines
        .next()
        .and_then(|line| line.trim_start().strip_prefix("--> "))
        .map(|place| format!(" at {place}"))
        .unwrap_or_default();
    format!("does not compile: {error}{place}")
}

/// The build folder of the grading user: `CARGO_TARGET_DIR` if set (it must
/// be the user's: the Gradescope set-up makes it so, and warms it), else a
/// new one in this run's folder.
fn user_target_dir(run_as: &sandbox::user::RunAs) -> Result<PathBuf, String> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if run_as.owns(&dir) && dir.is_dir() {
                Ok(dir)
            } else {
                Err(format!(
                    "the build folder CARGO_TARGET_DIR={} is not a folder of the grading user {}: \
                     make it one (chown), or unset CARGO_TARGET_DIR",
                    dir.display(),
                    run_as.account.name
                ))
            }
        }
        None => run_as
            .user_dir("target")
            .map_err(|err| format!("could not make a build folder: {err}")),
    }
}

/// Whether `executable` is a file in the build folder `target`, owned by
/// the grading user (so its own build made it).
fn built_by_user(executable: &Path, target: &Path) -> bool {
    let (Ok(file), Ok(target)) = (executable.canonicalize(), target.canonicalize()) else {
        return false;
    };
    let owner = sandbox::run_as().map(|run_as| run_as.account.uid);
    file.starts_with(&target)
        && fs::metadata(&file).is_ok_and(|meta| meta.is_file() && Some(meta.uid()) == owner)
}

/// The most a submission may hold, copied: far more than a crate needs.
const MAX_COPY_BYTES: u64 = 200 << 20;
const MAX_COPY_FILES: usize = 20_000;

/// Why a submission could not be copied.
#[derive(Debug)]
pub enum CopyError {
    /// A symbolic link: refused, so that nothing outside the submission is
    /// read for it.
    Link(PathBuf),
    /// A device, a FIFO or a socket.
    Special(PathBuf),
    /// More than [`MAX_COPY_BYTES`] or [`MAX_COPY_FILES`].
    TooLarge,
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Link(path) => write!(
                f,
                "it contains a symbolic link, {}: links are not accepted; submit the files themselves",
                path.display()
            ),
            CopyError::Special(path) => write!(
                f,
                "it contains {}, which is neither a file nor a folder",
                path.display()
            ),
            CopyError::TooLarge => write!(
                f,
                "it holds more than {} MiB or {MAX_COPY_FILES} files (leave target/ out)",
                MAX_COPY_BYTES >> 20
            ),
            CopyError::Io(path, err) => write!(f, "{}: {err}", path.display()),
        }
    }
}

impl std::error::Error for CopyError {}

/// Copies the crate in `from` to the new folder `to`: plain files and
/// folders only, without `target/` and `.git/` at the top, never following
/// a link. Every copy gets the current time as its modification time.
pub fn copy_crate(from: &Path, to: &Path) -> Result<(), CopyError> {
    let mut budget = (MAX_COPY_BYTES, MAX_COPY_FILES);
    copy_dir(from, to, Path::new(""), &mut budget)
}

fn copy_dir(
    from: &Path,
    to: &Path,
    relative: &Path,
    budget: &mut (u64, usize),
) -> Result<(), CopyError> {
    let io_error = |path: &Path| {
        let path = relative.join(path);
        move |err| CopyError::Io(path, err)
    };
    fs::create_dir(to).map_err(io_error(Path::new("")))?;
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(from)
        .map_err(io_error(Path::new("")))?
        .collect::<Result<_, _>>()
        .map_err(io_error(Path::new("")))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        if relative.as_os_str().is_empty() && (name == "target" || name == ".git") {
            continue;
        }
        let shown = relative.join(&name);
        budget.1 = budget.1.checked_sub(1).ok_or(CopyError::TooLarge)?;
        // The entry itself, not what a link points to.
        let kind = fs::symlink_metadata(entry.path())
            .map_err(io_error(Path::new(&name)))?
            .file_type();
        if kind.is_symlink() {
            return Err(CopyError::Link(shown));
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(&name), &shown, budget)?;
        } else if kind.is_file() {
            let copied = copy_file(&entry.path(), &to.join(&name), budget.0)
                .map_err(|err| CopyError::Io(shown.clone(), err))?;
            budget.0 = budget.0.checked_sub(copied).ok_or(CopyError::TooLarge)?;
        } else {
            return Err(CopyError::Special(shown));
        }
    }
    Ok(())
}

/// Copies one file, refusing to follow a link put in its place since it
/// was listed, and to copy more than `most` bytes; returns how many it
/// copied. The executable bit is kept (a script in the crate).
fn copy_file(from: &Path, to: &Path, most: u64) -> io::Result<u64> {
    let mut source = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    let mode = source.metadata()?.mode() & 0o755;
    let mut target = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)?;
    let copied = io::copy(&mut (&mut source).take(most + 1), &mut target)?;
    if copied > most {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, "too large"));
    }
    target.flush()?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().expect("create a scratch folder")
    }

    #[test]
    fn a_crate_is_copied_without_its_build_and_history() {
        let scratch = scratch();
        let dir = scratch.path();
        let from = dir.join("crate");
        fs::create_dir_all(from.join("src/bin")).expect("mkdir");
        fs::create_dir_all(from.join("target/debug")).expect("mkdir");
        fs::create_dir_all(from.join(".git")).expect("mkdir");
        fs::write(from.join("Cargo.toml"), "[package]\n").expect("write");
        fs::write(from.join("src/bin/server.rs"), "fn main() {}\n").expect("write");
        fs::write(from.join("target/debug/server"), "old").expect("write");
        copy_crate(&from, &dir.join("copy")).expect("copied");
        assert_eq!(
            fs::read_to_string(dir.join("copy/src/bin/server.rs")).expect("read"),
            "fn main() {}\n"
        );
        assert!(!dir.join("copy/target").exists());
        assert!(!dir.join("copy/.git").exists());
    }

    #[test]
    fn a_symbolic_link_anywhere_in_the_crate_is_refused_and_never_followed() {
        let scratch = scratch();
        let dir = scratch.path();
        let from = dir.join("crate");
        fs::create_dir_all(from.join("src")).expect("mkdir");
        fs::write(dir.join("secret.rs"), "the reference").expect("write");
        symlink(dir.join("secret.rs"), from.join("src/server.rs")).expect("symlink");
        let err = copy_crate(&from, &dir.join("copy")).expect_err("refused");
        assert!(
            matches!(&err, CopyError::Link(path) if path == Path::new("src/server.rs")),
            "{err}"
        );
        assert!(err.to_string().contains("src/server.rs"), "{err}");
        assert!(!dir.join("copy/src/server.rs").exists());
    }

    #[test]
    fn a_link_to_a_folder_is_refused_too() {
        let scratch = scratch();
        let dir = scratch.path();
        let from = dir.join("crate");
        fs::create_dir_all(&from).expect("mkdir");
        symlink("/", from.join("src")).expect("symlink");
        assert!(matches!(
            copy_crate(&from, &dir.join("copy")),
            Err(CopyError::Link(_))
        ));
    }

    #[test]
    fn a_failed_build_is_summed_up_by_its_first_error_and_where_it_is() {
        let stderr = "   Compiling chat v0.1.0 (/tmp/x)\n\
            warning: unused variable: `y`\n --> src/main.rs:2:9\n\
            error[E0308]: mismatched types\n --> src/lib.rs:1:21\n  |\n\
            error[E0425]: cannot find value `z` in this scope\n --> src/lib.rs:3:5\n\
            error: could not compile `chat` (lib) due to 2 previous errors\n";
        assert_eq!(
            does_not_compile(stderr),
            "does not compile: error[E0308]: mismatched types at src/lib.rs:1:21"
        );
        // Cargo's own errors have no place.
        assert_eq!(
            does_not_compile("error: failed to parse manifest at `/x/Cargo.toml`\n\nCaused by:\n"),
            "does not compile: error: failed to parse manifest at `/x/Cargo.toml`"
        );
        assert_eq!(
            does_not_compile("killed\n"),
            "does not compile: cargo build failed (its output is below)"
        );
    }
}
