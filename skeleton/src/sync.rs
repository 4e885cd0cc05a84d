//! Writing the skeleton into `support/` without losing a student's work.
//!
//! For each file of the skeleton, the file in `support/` is:
//!
//! - missing: written;
//! - already what the skeleton has: left as it is;
//! - what the generator wrote last time ([`crate::manifest`]): rewritten, so
//!   that a change to the solution reaches students;
//! - anything else: the student's, kept and reported. `--reset` overwrites
//!   it, after a copy to `.backup/<time>/`.
//!
//! A file generated before that the solution no longer has is left alone
//! and reported; a file the student added is never touched.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::files::write_atomic;
use crate::generate::{FileTodos, Skeleton, by_lab, todo_ranges};
use crate::manifest::{self, Manifest, sha256_hex};

/// What is found in `support/` for one file of the skeleton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Missing,
    Same,
    /// What the generator last wrote, and the skeleton now differs.
    Generated,
    /// The student's version. `solution_changed`: the skeleton also differs
    /// from what the generator last wrote.
    Changed {
        solution_changed: bool,
    },
}

/// What [`plan`] found in `support/`, before anything is written.
#[derive(Debug)]
pub struct Plan {
    out: PathBuf,
    manifest: Manifest,
    found: Vec<(String, Found)>,
    /// Generated before, no longer in the skeleton, still there.
    orphans: Vec<String>,
}

impl Plan {
    /// The files the student changed: those `--reset` would overwrite.
    pub fn changed(&self) -> Vec<&str> {
        self.found
            .iter()
            .filter(|(_, found)| matches!(found, Found::Changed { .. }))
            .map(|(path, _)| path.as_str())
            .collect()
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Written, where there was no file.
    Created,
    /// Rewritten: it was as generated, and the solution changed.
    Updated,
    Unchanged,
    /// The student's version, left alone.
    Kept {
        solution_changed: bool,
    },
    /// The student's version, overwritten after a copy to `backup`.
    Reset {
        backup: PathBuf,
    },
    /// No longer part of the skeleton: left alone.
    Orphaned,
}

/// What [`apply`] did, to tell the user.
#[derive(Debug)]
pub struct Report {
    /// Where the skeleton went, as the user named it.
    pub out: PathBuf,
    pub actions: Vec<(String, Action)>,
    /// The TODO numbers of each file, as in [`Skeleton::todos`].
    pub todos: Vec<FileTodos>,
}

/// Looks at what `out` holds, against the skeleton and the manifest of the
/// last generation.
pub fn plan(skeleton: &Skeleton, out: &Path) -> Result<Plan, Error> {
    let manifest = Manifest::load(&out.join(manifest::FILE_NAME))?;
    let mut found = Vec::new();
    for (path, file) in &skeleton.files {
        let target = out.join(path);
        let state = match fs::read(&target) {
            Err(err) if err.kind() == ErrorKind::NotFound => Found::Missing,
            Err(err) => return Err(Error::io("read", target)(err)),
            Ok(current) if current == file.content => Found::Same,
            Ok(current) if manifest.generated(path, &current) => Found::Generated,
            Ok(_) => Found::Changed {
                solution_changed: manifest
                    .hashes(path)
                    .is_some_and(|hashes| !hashes.contains(&sha256_hex(&file.content))),
            },
        };
        found.push((path.clone(), state));
    }
    let orphans = manifest
        .paths()
        .filter(|path| !skeleton.files.contains_key(*path) && out.join(path).exists())
        .map(str::to_owned)
        .collect();
    Ok(Plan {
        out: out.to_path_buf(),
        manifest,
        found,
        orphans,
    })
}

/// Writes the skeleton as planned. With `backup` (the folder of
/// `--reset`), files the student changed are copied there, then
/// overwritten; without, they are kept.
pub fn apply(plan: Plan, skeleton: &Skeleton, backup: Option<&Path>) -> Result<Report, Error> {
    let Plan {
        out,
        manifest: old,
        found,
        orphans,
    } = plan;
    let manifest_path = out.join(manifest::FILE_NAME);

    let mut actions = Vec::new();
    let mut writes = Vec::new();
    for (path, found) in found {
        let action = match found {
            Found::Missing => Action::Created,
            Found::Same => Action::Unchanged,
            Found::Generated => Action::Updated,
            Found::Changed { solution_changed } => match backup {
                None => Action::Kept { solution_changed },
                Some(folder) => {
                    let copy = folder.join(&path);
                    let current = out.join(&path);
                    if let Some(parent) = copy.parent() {
                        fs::create_dir_all(parent)
                            .map_err(Error::io("create the folder", parent))?;
                    }
                    fs::copy(&current, &copy).map_err(Error::io("back up", &current))?;
                    Action::Reset { backup: copy }
                }
            },
        };
        if matches!(
            action,
            Action::Created | Action::Updated | Action::Reset { .. }
        ) {
            writes.push(path.clone());
        }
        actions.push((path, action));
    }

    // The new hashes go into the manifest before the files change, so a
    // generation stopped half-way leaves no generated file that looks like
    // the student's.
    let mut pending = old.clone();
    for path in &writes {
        pending.insert(path, sha256_hex(&skeleton.files[path].content));
    }
    if !writes.is_empty() {
        pending.save(&manifest_path)?;
    }
    for path in &writes {
        let file = &skeleton.files[path];
        write_atomic(&out.join(path), &file.content, file.executable)?;
    }

    // The final manifest: for a kept file, what was generated before (so
    // that undoing the edit makes it the generator's again); for an orphan,
    // its old hashes, so that it stays reported until it is deleted.
    let mut manifest = Manifest::default();
    for (path, action) in &actions {
        match action {
            Action::Kept { .. } => {
                for hash in old.hashes(path).into_iter().flatten() {
                    manifest.insert(path, hash.clone());
                }
            }
            _ => manifest.insert(path, sha256_hex(&skeleton.files[path].content)),
        }
    }
    for path in &orphans {
        for hash in old.hashes(path).into_iter().flatten() {
            manifest.insert(path, hash.clone());
        }
        actions.push((path.clone(), Action::Orphaned));
    }
    if manifest != old {
        manifest.save(&manifest_path)?;
    }

    if let Some(lockfile) = &skeleton.lockfile {
        let path = out.join("Cargo.lock");
        if !path.exists() {
            write_atomic(&path, lockfile, false)?;
        }
    }

    Ok(Report {
        out,
        actions,
        todos: skeleton.todos.clone(),
    })
}

/// A new folder for the copies `--reset` makes: `out/.backup/<UTC time>`,
/// with a suffix if that one exists already.
pub fn backup_folder(out: &Path, now: SystemTime) -> PathBuf {
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let base = out.join(".backup").join(utc_timestamp(seconds));
    let mut folder = base.clone();
    let mut suffix = 1;
    while folder.exists() {
        suffix += 1;
        folder = PathBuf::from(format!("{}-{suffix}", base.display()));
    }
    folder
}

/// `20260121-130501` for a time in seconds since 1970, in UTC. The date is
/// computed with Howard Hinnant's `civil_from_days`, to need no date crate.
fn utc_timestamp(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX);
    let time = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        time / 3_600,
        time % 3_600 / 60,
        time % 60
    )
}

impl fmt::Display for Report {
    /// The summary: counts, then a line per file that changed or was kept,
    /// then where the TODOs are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |wanted: fn(&Action) -> bool| {
            self.actions
                .iter()
                .filter(|(_, action)| wanted(action))
                .count()
        };
        let counts = [
            (
                count(|a| matches!(a, Action::Created | Action::Updated)),
                "written",
            ),
            (count(|a| matches!(a, Action::Reset { .. })), "reset"),
            (count(|a| matches!(a, Action::Unchanged)), "unchanged"),
            (count(|a| matches!(a, Action::Kept { .. })), "kept"),
            (count(|a| matches!(a, Action::Orphaned)), "left alone"),
        ];
        let counts: Vec<String> = counts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        writeln!(f, "skeleton: {}: {}", self.out.display(), counts.join(", "))?;
        for (path, action) in &self.actions {
            match action {
                Action::Unchanged => {}
                Action::Created => writeln!(f, "  wrote {path}")?,
                Action::Updated => writeln!(f, "  wrote {path} (the solution changed)")?,
                Action::Kept { solution_changed } => {
                    let also = if *solution_changed {
                        " (the solution changed it too)"
                    } else {
                        ""
                    };
                    writeln!(
                        f,
                        "  kept {path}: you changed it; `make reset` overwrites it{also}"
                    )?;
                }
                Action::Reset { backup } => {
                    writeln!(f, "  reset {path}: your version is in {}", backup.display())?
                }
                Action::Orphaned => writeln!(
                    f,
                    "  left {path}: no longer part of the skeleton; keep it or delete it"
                )?,
            }
        }
        if self.todos.is_empty() {
            return writeln!(f, "no TODOs");
        }
        // The first lab as a kit with one lab shows it (lab 1's text
        // quotes these lines); each later lab under a line of its own.
        for (index, (lab, files)) in by_lab(&self.todos).iter().enumerate() {
            if index == 0 {
                writeln!(f, "TODOs, in the order of the lab:")?;
            } else {
                writeln!(f, "TODOs of lab {lab}, in order:")?;
            }
            for file in files {
                writeln!(f, "  {}: {}", file.path, todo_ranges(&file.numbers))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::generate::GeneratedFile;

    /// A folder under the system's temporary folder, removed when dropped.
    struct TempFolder(PathBuf);

    impl TempFolder {
        fn new(name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("skeleton-sync-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).expect("create a temporary folder");
            Self(path)
        }
    }

    impl Drop for TempFolder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn skeleton(files: &[(&str, &str)]) -> Skeleton {
        Skeleton {
            files: files
                .iter()
                .map(|(path, text)| {
                    let file = GeneratedFile {
                        content: text.as_bytes().to_vec(),
                        executable: false,
                    };
                    ((*path).to_owned(), file)
                })
                .collect::<BTreeMap<_, _>>(),
            todos: vec![FileTodos {
                path: String::from("a.rs"),
                lab: 1,
                numbers: vec![1, 2],
            }],
            lockfile: None,
        }
    }

    fn run(skeleton: &Skeleton, out: &Path, backup: Option<&Path>) -> Vec<(String, Action)> {
        let plan = plan(skeleton, out).expect("plan");
        apply(plan, skeleton, backup).expect("apply").actions
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).expect("read a generated file")
    }

    #[test]
    fn keeps_the_students_work_and_updates_the_rest() {
        let folder = TempFolder::new("keep");
        let out = &folder.0;
        let v1 = skeleton(&[("a.rs", "a1"), ("b.rs", "b1"), ("old.rs", "o")]);
        assert_eq!(
            run(&v1, out, None),
            [
                (String::from("a.rs"), Action::Created),
                (String::from("b.rs"), Action::Created),
                (String::from("old.rs"), Action::Created),
            ]
        );

        fs::write(out.join("a.rs"), "mine").expect("edit a.rs");
        fs::write(out.join("notes.txt"), "added").expect("add a file");
        let v2 = skeleton(&[("a.rs", "a2"), ("b.rs", "b2"), ("new.rs", "n")]);
        let plan = plan(&v2, out).expect("plan");
        assert_eq!(plan.changed(), ["a.rs"]);
        assert_eq!(
            apply(plan, &v2, None).expect("apply").actions,
            [
                (
                    String::from("a.rs"),
                    Action::Kept {
                        solution_changed: true
                    }
                ),
                (String::from("b.rs"), Action::Updated),
                (String::from("new.rs"), Action::Created),
                (String::from("old.rs"), Action::Orphaned),
            ]
        );
        assert_eq!(read(&out.join("a.rs")), "mine");
        assert_eq!(read(&out.join("b.rs")), "b2");
        assert_eq!(read(&out.join("old.rs")), "o");
        assert_eq!(read(&out.join("notes.txt")), "added");

        // Undoing the edit to what was generated makes the file the
        // generator's again.
        fs::write(out.join("a.rs"), "a1").expect("undo the edit");
        let actions = run(&v2, out, None);
        assert_eq!(actions[0], (String::from("a.rs"), Action::Updated));
        assert_eq!(read(&out.join("a.rs")), "a2");
    }

    #[test]
    fn reset_backs_up_then_overwrites_only_what_the_student_changed() {
        let folder = TempFolder::new("reset");
        let out = &folder.0;
        let v1 = skeleton(&[("src/a.rs", "a1"), ("b.rs", "b1")]);
        run(&v1, out, None);
        fs::write(out.join("src/a.rs"), "mine").expect("edit");
        fs::write(out.join("notes.txt"), "added").expect("add a file");

        let backup = backup_folder(out, SystemTime::now());
        let actions = run(&v1, out, Some(&backup));
        assert_eq!(
            actions,
            [
                (String::from("b.rs"), Action::Unchanged),
                (
                    String::from("src/a.rs"),
                    Action::Reset {
                        backup: backup.join("src/a.rs")
                    }
                ),
            ]
        );
        assert_eq!(read(&out.join("src/a.rs")), "a1");
        assert_eq!(read(&backup.join("src/a.rs")), "mine");
        assert_eq!(read(&out.join("notes.txt")), "added");
        assert_eq!(
            run(&v1, out, None),
            [
                (String::from("b.rs"), Action::Unchanged),
                (String::from("src/a.rs"), Action::Unchanged),
            ]
        );
    }

    #[test]
    fn a_file_already_there_before_any_generation_is_the_students() {
        let folder = TempFolder::new("foreign");
        let out = &folder.0;
        fs::write(out.join("a.rs"), "mine").expect("write");
        fs::write(out.join("b.rs"), "b1").expect("write");
        let v1 = skeleton(&[("a.rs", "a1"), ("b.rs", "b1")]);
        assert_eq!(
            run(&v1, out, None),
            [
                (
                    String::from("a.rs"),
                    Action::Kept {
                        solution_changed: false
                    }
                ),
                (String::from("b.rs"), Action::Unchanged),
            ]
        );
        assert_eq!(read(&out.join("a.rs")), "mine");
    }

    #[test]
    fn the_summary_says_what_happened_and_where_the_todos_are() {
        let report = Report {
            out: PathBuf::from("support"),
            actions: vec![
                (String::from("Cargo.toml"), Action::Unchanged),
                (String::from("src/new.rs"), Action::Created),
                (
                    String::from("src/w_epoll.rs"),
                    Action::Kept {
                        solution_changed: false,
                    },
                ),
                (String::from("src/old.rs"), Action::Orphaned),
            ],
            todos: vec![
                FileTodos {
                    path: String::from("src/w_epoll.rs"),
                    lab: 1,
                    numbers: vec![1, 2, 3],
                },
                FileTodos {
                    path: String::from("src/client.rs"),
                    lab: 1,
                    numbers: vec![4, 5],
                },
                FileTodos {
                    path: String::from("src/room/shm.rs"),
                    lab: 2,
                    numbers: vec![6],
                },
            ],
        };
        assert_eq!(
            report.to_string(),
            "\
skeleton: support: 1 written, 1 unchanged, 1 kept, 1 left alone
  wrote src/new.rs
  kept src/w_epoll.rs: you changed it; `make reset` overwrites it
  left src/old.rs: no longer part of the skeleton; keep it or delete it
TODOs, in the order of the lab:
  src/w_epoll.rs: TODO 1-3
  src/client.rs: TODO 4-5
TODOs of lab 2, in order:
  src/room/shm.rs: TODO 6
"
        );
    }

    #[test]
    fn timestamps_in_utc() {
        assert_eq!(utc_timestamp(0), "19700101-000000");
        assert_eq!(utc_timestamp(951_782_400), "20000229-000000");
        assert_eq!(utc_timestamp(1_763_730_061), "20251121-130101");
    }
}
