//! From `solution/` to every file of the skeleton, in memory: nothing is
//! written here, so an error in the markers leaves `support/` as it was.
//!
//! - A `.rs` file has its blocks replaced ([`crate::markers`]); one with a
//!   stub also gets the lint allowance [`ALLOWANCE`]. A reference-only file
//!   is left out.
//! - `Cargo.toml` is made standalone ([`crate::cargo_toml`]); the manifest
//!   of a crate inside the solution (the test harness, `harness/`) gets the
//!   kit's settings written out too, and stays a member of the top's
//!   workspace.
//! - Every other file is copied byte for byte: the tests ship unchanged.
//! - `README.md` (from `skeleton/STUDENT_README.md`) and `.gitignore` are
//!   written for students; they replace any file of the solution so named.
//! - `target/` and `Cargo.lock` are not the solution's source and are left
//!   out. The students' `Cargo.lock` is the workspace's, cut down by cargo
//!   to the crate's own packages (see [`Skeleton::lockfile`]): the one
//!   thing made outside memory, in a temporary folder of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Error;
use crate::cargo_toml;
use crate::files::is_executable;
use crate::markers::{self, MarkerError, Todo};

/// What a generated file whose code is unfinished starts with, after its
/// `//!` doc. Code after a `todo!()` is unreachable, what only the solution
/// used (imports, variables, helpers) is unused, and clippy frowns on
/// `let x: T = todo!()`: without this, students would start under a pile of
/// warnings about code they did not write. It is formatted as rustfmt
/// formats it, so that `cargo fmt` leaves generated files as they are.
pub const ALLOWANCE: &str = "\
// The skeleton: until the TODOs are done, some code is unreachable or unused.
#![allow(
    dead_code,
    unreachable_code,
    unused_imports,
    unused_mut,
    unused_variables,
    clippy::diverging_sub_expression
)]
";

/// The template of the students' `README.md`; `{{TODOS}}` becomes the list
/// of TODOs per file, lab by lab.
pub const STUDENT_README: &str = include_str!("../STUDENT_README.md");

/// The students' `.gitignore`: build output, and the copies `--reset` saves.
const GITIGNORE: &str = "/target\n/.backup\n";

/// One file of the skeleton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub content: Vec<u8>,
    pub executable: bool,
}

/// The TODOs of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTodos {
    /// The file, relative to the crate (`/`-separated).
    pub path: String,
    /// Its lab: the file's `// LAB N`, or 1 (see [`crate::markers`]).
    pub lab: u32,
    /// Its TODO numbers, in the order they appear in it.
    pub numbers: Vec<u32>,
}

/// Every file of the skeleton, by path relative to the crate (`/`-separated).
#[derive(Debug, Clone, Default)]
pub struct Skeleton {
    pub files: BTreeMap<String, GeneratedFile>,
    /// Each file with TODOs, lab by lab, and in a lab in the order of their
    /// first numbers.
    pub todos: Vec<FileTodos>,
    /// The crate's own `Cargo.lock`, if the workspace has one: the
    /// workspace's lock with every package the crate does not use removed,
    /// and every version it keeps the one the solution was tested with. A
    /// crate without a lock file gets it; cargo owns the file after that, so
    /// it is not tracked.
    pub lockfile: Option<Vec<u8>>,
}

/// Builds the skeleton of the crate in `solution`, whose manifest inherits
/// from the workspace manifest `workspace_manifest`. Paths in errors are
/// shown as given.
pub fn generate(solution: &Path, workspace_manifest: &Path) -> Result<Skeleton, Error> {
    let mut skeleton = Skeleton::default();
    let mut marker_errors: Vec<MarkerError> = Vec::new();
    let mut todos: Vec<(String, u32, Vec<Todo>)> = Vec::new();
    let mut reference_only = BTreeSet::new();

    for path in list_files(solution)? {
        let source_path = solution.join(&path);
        let executable = is_executable(&source_path)?;
        let bytes = fs::read(&source_path).map_err(Error::io("read", &source_path))?;
        if path.ends_with("/Cargo.toml") {
            let manifest = String::from_utf8(bytes).map_err(|_| Error::File {
                path: source_path.clone(),
                message: String::from("not UTF-8"),
            })?;
            let workspace = read_text(workspace_manifest)?;
            let manifest = cargo_toml::standalone(
                cargo_toml::Role::Member,
                &source_path,
                &manifest,
                workspace_manifest,
                &workspace,
                &BTreeSet::new(),
            )?;
            skeleton.files.insert(path, text_file(manifest));
            continue;
        }
        if !path.ends_with(".rs") {
            skeleton.files.insert(
                path,
                GeneratedFile {
                    content: bytes,
                    executable,
                },
            );
            continue;
        }
        let source = String::from_utf8(bytes).map_err(|_| Error::File {
            path: source_path.clone(),
            message: String::from("not UTF-8: the markers of a .rs file are read as text"),
        })?;
        let processed = match markers::process(&source_path, &source) {
            Ok(processed) => processed,
            Err(err) => {
                marker_errors.push(err);
                continue;
            }
        };
        if processed.reference_only {
            reference_only.insert(path);
            continue;
        }
        if !processed.todos.is_empty() {
            todos.push((path.clone(), processed.lab(), processed.todos.clone()));
        }
        let text = if processed.has_stubs {
            with_allowance(&processed.text)
        } else {
            processed.text
        };
        skeleton.files.insert(
            path,
            GeneratedFile {
                content: text.into_bytes(),
                executable,
            },
        );
    }

    if marker_errors.is_empty() {
        let shown: Vec<(PathBuf, u32, &[Todo])> = todos
            .iter()
            .map(|(path, lab, todos)| (solution.join(path), *lab, todos.as_slice()))
            .collect();
        marker_errors = markers::check_numbering(
            shown
                .iter()
                .map(|(path, _, todos)| (path.as_path(), *todos)),
        );
        marker_errors.extend(markers::check_labs(
            shown
                .iter()
                .map(|(path, lab, todos)| (path.as_path(), *lab, *todos)),
        ));
    }
    if !marker_errors.is_empty() {
        return Err(Error::Markers(marker_errors));
    }

    let manifest_path = solution.join("Cargo.toml");
    let manifest = read_text(&manifest_path)?;
    let workspace = read_text(workspace_manifest)?;
    let manifest = cargo_toml::standalone(
        cargo_toml::Role::Root,
        &manifest_path,
        &manifest,
        workspace_manifest,
        &workspace,
        &reference_only,
    )?;
    skeleton
        .files
        .insert(String::from("Cargo.toml"), text_file(manifest));

    let mut todos: Vec<FileTodos> = todos
        .into_iter()
        .map(|(path, lab, todos)| FileTodos {
            path,
            lab,
            numbers: todos.iter().map(|todo| todo.number).collect(),
        })
        .collect();
    todos.sort_by_key(|file| (file.lab, file.numbers.iter().min().copied()));
    skeleton.files.insert(
        String::from("README.md"),
        text_file(STUDENT_README.replace("{{TODOS}}", &todo_list(&todos))),
    );
    skeleton
        .files
        .insert(String::from(".gitignore"), text_file(GITIGNORE.to_owned()));
    skeleton.todos = todos;

    let lockfile = workspace_manifest.with_file_name("Cargo.lock");
    skeleton.lockfile = match fs::read(&lockfile) {
        Ok(bytes) => Some(crate_lockfile(&skeleton, &lockfile, &bytes)?),
        Err(err) if err.kind() == ErrorKind::NotFound => None,
        Err(err) => return Err(Error::io("read", lockfile)(err)),
    };
    Ok(skeleton)
}

/// The skeleton's own lock file, from the workspace's (`workspace_lock`,
/// read from `lock_path`).
///
/// The workspace's lock lists the packages of every member (the grader's and
/// the generator's too): shipped as it is, cargo cuts it down at the
/// student's first build, so the file changes under the student's eyes, and
/// `cargo build --locked` fails. Cargo cuts it down the same way here, once:
/// `cargo update --workspace` in a copy of the skeleton unlocks only the
/// crate itself, keeps the locked version of every package it still uses and
/// drops the others. `--offline`, because nothing new is needed: the
/// workspace already resolved every one of these packages.
fn crate_lockfile(
    skeleton: &Skeleton,
    lock_path: &Path,
    workspace_lock: &[u8],
) -> Result<Vec<u8>, Error> {
    let scratch = Scratch::new()?;
    for (path, file) in &skeleton.files {
        let target = scratch.0.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(Error::io("create the folder", parent))?;
        }
        fs::write(&target, &file.content).map_err(Error::io("write", &target))?;
    }
    let lock = scratch.0.join("Cargo.lock");
    fs::write(&lock, workspace_lock).map_err(Error::io("write", &lock))?;

    // Cargo sets CARGO for what it runs (`make` runs the generator with
    // `cargo run`): the same cargo, so the same lock file format.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["update", "--workspace", "--offline", "--quiet"])
        .current_dir(&scratch.0)
        .output()
        .map_err(Error::io("run cargo to cut down", lock_path))?;
    if !output.status.success() {
        return Err(Error::File {
            path: lock_path.to_path_buf(),
            message: format!(
                "cannot cut it down to the students' crate: `cargo update --workspace --offline` failed ({}); \
                 a `cargo fetch` in the lab kit's folder gets what it lacks\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end()
            ),
        });
    }
    fs::read(&lock).map_err(Error::io("read", &lock))
}

/// A new, empty folder under the system's temporary folder, removed with
/// everything in it when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, Error> {
        // Generations at the same time (tests, two terminals) each need
        // their own: the process id and a count tell them apart, and
        // `create_dir` fails rather than share one left by a crash.
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        loop {
            let count = COUNT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("skeleton-lock-{}-{count}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Self(path)),
                Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(Error::io("create the folder", path)(err)),
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // What is left behind is only a copy, in the temporary folder.
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `TODO 1-3, 5` for the numbers 1, 2, 3, 5.
pub fn todo_ranges(numbers: &[u32]) -> String {
    let mut numbers = numbers.to_vec();
    numbers.sort_unstable();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for number in numbers {
        match ranges.last_mut() {
            Some((_, last)) if number == *last + 1 => *last = number,
            _ => ranges.push((number, number)),
        }
    }
    let ranges: Vec<String> = ranges
        .iter()
        .map(|&(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect();
    format!("TODO {}", ranges.join(", "))
}

/// The files of `todos` (sorted as [`Skeleton::todos`] is), lab by lab:
/// each lab's number and files, in order.
pub fn by_lab(todos: &[FileTodos]) -> Vec<(u32, Vec<&FileTodos>)> {
    let mut labs: Vec<(u32, Vec<&FileTodos>)> = Vec::new();
    for file in todos {
        match labs.last_mut() {
            Some((lab, files)) if *lab == file.lab => files.push(file),
            _ => labs.push((file.lab, vec![file])),
        }
    }
    labs
}

/// The README's list: `- src/w_epoll.rs: TODO 1-3`, a line per file; under
/// a line `**Lab N**` per lab when there are several.
fn todo_list(todos: &[FileTodos]) -> String {
    let labs = by_lab(todos);
    let several = labs.len() > 1;
    labs.iter()
        .map(|(lab, files)| {
            let list = files
                .iter()
                .map(|file| format!("- `{}`: {}", file.path, todo_ranges(&file.numbers)))
                .collect::<Vec<_>>()
                .join("\n");
            if several {
                format!("**Lab {lab}**\n\n{list}")
            } else {
                list
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Inserts [`ALLOWANCE`] after the file's leading `//!` doc and inner
/// attributes (inner attributes must come before any item), or at the top if
/// it has none.
fn with_allowance(text: &str) -> String {
    let mut end_of_doc = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        offset += line.len();
        if trimmed.starts_with("//!") || trimmed.starts_with("#![") {
            end_of_doc = Some(offset);
        } else if !(trimmed.is_empty() || trimmed.starts_with("//")) {
            break;
        }
    }
    match end_of_doc {
        Some(end) => {
            let (doc, rest) = text.split_at(end);
            let newline = if doc.ends_with('\n') { "" } else { "\n" };
            format!("{doc}{newline}\n{ALLOWANCE}{rest}")
        }
        None => format!("{ALLOWANCE}\n{text}"),
    }
}

fn text_file(text: String) -> GeneratedFile {
    GeneratedFile {
        content: text.into_bytes(),
        executable: false,
    }
}

fn read_text(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(Error::io("read", path))
}

/// Every file under `root`, relative and `/`-separated, sorted; without the
/// build output (`target/`), `Cargo.lock` and `.git/`.
pub(crate) fn list_files(root: &Path) -> Result<Vec<String>, Error> {
    let mut files = Vec::new();
    let mut folders = vec![String::new()];
    while let Some(folder) = folders.pop() {
        let path = root.join(&folder);
        let entries = fs::read_dir(&path).map_err(Error::io("list the folder", &path))?;
        for entry in entries {
            let entry = entry.map_err(Error::io("list the folder", &path))?;
            let entry_path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(Error::File {
                    path: entry_path,
                    message: String::from("a name that is not UTF-8 cannot be listed"),
                });
            };
            if name.contains('\n') {
                return Err(Error::File {
                    path: entry_path,
                    message: String::from("a name with a line break cannot be listed"),
                });
            }
            let top = folder.is_empty();
            if name == ".git" || (top && (name == "target" || name == "Cargo.lock")) {
                continue;
            }
            let relative = if top {
                name
            } else {
                format!("{folder}/{name}")
            };
            // Follows symbolic links: a link to a folder counts as a folder.
            let metadata = fs::metadata(&entry_path).map_err(Error::io("read", &entry_path))?;
            if metadata.is_dir() {
                folders.push(relative);
            } else {
                files.push(relative);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_todo_numbers() {
        assert_eq!(todo_ranges(&[3, 1, 2]), "TODO 1-3");
        assert_eq!(todo_ranges(&[4]), "TODO 4");
        assert_eq!(todo_ranges(&[1, 2, 3, 5, 7, 8]), "TODO 1-3, 5, 7-8");
    }

    fn file(path: &str, lab: u32, numbers: &[u32]) -> FileTodos {
        FileTodos {
            path: path.to_owned(),
            lab,
            numbers: numbers.to_vec(),
        }
    }

    #[test]
    fn the_readme_lists_the_todos_lab_by_lab() {
        let one_lab = [file("src/a.rs", 1, &[1, 2]), file("src/b.rs", 1, &[3])];
        assert_eq!(
            todo_list(&one_lab),
            "- `src/a.rs`: TODO 1-2\n- `src/b.rs`: TODO 3"
        );
        let two_labs = [
            file("src/a.rs", 1, &[1, 2]),
            file("src/room/c.rs", 2, &[4, 3]),
            file("src/d.rs", 2, &[5]),
        ];
        assert_eq!(
            todo_list(&two_labs),
            "**Lab 1**\n\n- `src/a.rs`: TODO 1-2\n\n\
             **Lab 2**\n\n- `src/room/c.rs`: TODO 3-4\n- `src/d.rs`: TODO 5"
        );
    }

    #[test]
    fn the_allowance_goes_after_the_doc() {
        assert_eq!(
            with_allowance("//! Doc.\n//! More.\n\nuse std::io;\n"),
            format!("//! Doc.\n//! More.\n\n{ALLOWANCE}\nuse std::io;\n")
        );
        assert_eq!(
            with_allowance("// A comment.\nuse std::io;\n"),
            format!("{ALLOWANCE}\n// A comment.\nuse std::io;\n")
        );
        assert_eq!(
            with_allowance("//! Doc.\n#![deny(missing_docs)]\nfn f() {}\n"),
            format!("//! Doc.\n#![deny(missing_docs)]\n\n{ALLOWANCE}fn f() {{}}\n")
        );
    }
}
