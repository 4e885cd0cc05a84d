//! Batch grading: every student crate in a folder, a few at a time, into a
//! gradebook CSV and one report per submission.
//!
//! Each submission is graded by a child `grader --dir SUB` process, so one
//! submission cannot disturb the grading of another, and each has a
//! wall-clock bound. A worker grades its submissions one after the other in
//! a target folder of its own: the dependencies (libc) are compiled once per
//! worker, not once per submission, and no two builds share a folder at the
//! same time.
//!
//! The child is the grader's own executable, started through
//! `/proc/self/exe`: a submission that replaced the file on disk would not
//! be run in its place. A child that dies (killed, out of time) costs its
//! submission a grade, never the batch; whatever the submission left
//! running then (handed to the batch as their subreaper) is killed before
//! the next one. With grading users (the batch runs as root), a worker's
//! child grades as that worker's user, in a build folder of its own that it
//! removes: one submission's build cannot leave anything in the next one's,
//! and two submissions graded at once run as two users, so that neither can
//! read, signal or kill the other's processes and files (Submitty's pool of
//! untrusted users, for the same reason). There are as many workers as
//! users, at most.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::catalog::CHECKS;
use crate::report::json::Results;
use crate::sandbox::{self, Contained, Limits};

/// How long grading one submission may take, its build included.
pub const PER_SUBMISSION: Duration = Duration::from_secs(900);

/// What batch grading was asked to do.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The folder whose subfolders are the submissions.
    pub submissions: PathBuf,
    /// Where the per-submission reports and the gradebook go.
    pub reports: PathBuf,
    /// How many submissions are graded at once.
    pub jobs: usize,
    /// The grader's own executable, run once per submission.
    pub grader: PathBuf,
    /// The grading users the children run submissions as (`--user`), one
    /// per worker, when the batch runs as root; none otherwise.
    pub users: Vec<sandbox::user::Account>,
}

impl Batch {
    /// How many submissions are graded at once: `jobs`, but no more than
    /// there are grading users, when there are some.
    pub fn workers(&self) -> usize {
        if self.users.is_empty() {
            self.jobs.max(1)
        } else {
            self.jobs.clamp(1, self.users.len())
        }
    }
}

/// How grading one submission ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Graded {
    /// Graded: points per check name, in table order, and the total.
    Scored {
        score: u32,
        max_score: u32,
        points: Vec<(String, u32)>,
    },
    /// Not graded, and why (no crate, the grader failed, out of time).
    NotGraded(String),
}

/// One row of the gradebook.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub graded: Graded,
    pub seconds: f64,
}

/// Grades every submission; `progress` sees each row as it is done.
pub fn run(batch: &Batch, progress: &(dyn Fn(&Row) + Sync)) -> anyhow::Result<Vec<Row>> {
    let names = submission_names(&batch.submissions)?;
    if names.is_empty() {
        bail!("no submissions in {}", batch.submissions.display());
    }
    fs::create_dir_all(&batch.reports)
        .with_context(|| format!("create {}", batch.reports.display()))?;
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for worker in 0..batch.workers().min(names.len()) {
            let (next, rows, names) = (&next, &rows, &names);
            scope.spawn(move || {
                let target = batch.reports.join(format!(".target-{worker}"));
                let user = batch.users.get(worker);
                while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let row = grade_one(batch, name, &target, user);
                    progress(&row);
                    rows.lock().unwrap_or_else(|e| e.into_inner()).push(row);
                }
            });
        }
    });
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// The subfolders of `dir`, sorted; hidden ones are not submissions.
fn submission_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() && !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn grade_one(
    batch: &Batch,
    name: &str,
    target: &Path,
    user: Option<&sandbox::user::Account>,
) -> Row {
    let started = Instant::now();
    let dir = batch.submissions.join(name);
    let report = batch.reports.join(format!("{name}.json"));
    let graded = if !dir.join("Cargo.toml").is_file() {
        Graded::NotGraded("no Cargo.toml".into())
    } else {
        run_grader(batch, &dir, &report, target, user)
    };
    Row {
        name: name.to_owned(),
        graded,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn run_grader(
    batch: &Batch,
    dir: &Path,
    report: &Path,
    target: &Path,
    user: Option<&sandbox::user::Account>,
) -> Graded {
    let log = batch.reports.join(format!(
        "{}.log",
        report.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let Ok(log_file) = fs::File::create(&log) else {
        return Graded::NotGraded(format!("cannot write {}", log.display()));
    };
    let mut command = Command::new(&batch.grader);
    command
        .arg("--dir")
        .arg(dir)
        .args(["--format", "json", "--out"])
        .arg(report)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    match user {
        // A build folder of its own, in the child's own folder, removed
        // when it is done.
        Some(user) => {
            command
                .args(["--user", &user.name])
                .env_remove("CARGO_TARGET_DIR");
        }
        None => {
            command.env("CARGO_TARGET_DIR", target);
        }
    }
    let process = Contained::spawn(&mut command, Limits::BUILD);
    let outcome = match process {
        Ok(mut process) => {
            let status = process.wait_exit(Instant::now() + PER_SUBMISSION);
            drop(process);
            Ok(status)
        }
        Err(err) => Err(err),
    };
    // What the submission left running, handed to the batch when its
    // grader ended, goes before the next submission.
    sandbox::kill_orphans();
    let status = match outcome {
        Ok(Some(status)) => status,
        Ok(None) => {
            return Graded::NotGraded(format!("not graded within {} s", PER_SUBMISSION.as_secs()));
        }
        Err(err) => return Graded::NotGraded(format!("could not start the grader: {err}")),
    };
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        let why = fs::read_to_string(&log).unwrap_or_default();
        return Graded::NotGraded(format!(
            "its grader was killed (signal {signal}): {}",
            why.lines().last().unwrap_or("no message")
        ));
    }
    // 0: all passed, 1: some failed; both wrote a report.
    if !matches!(status.code(), Some(0 | 1)) {
        let why = fs::read_to_string(&log).unwrap_or_default();
        return Graded::NotGraded(format!(
            "the grader could not grade it ({status}): {}",
            why.lines().last().unwrap_or("no message")
        ));
    }
    match read_report(report) {
        Ok(graded) => graded,
        Err(err) => Graded::NotGraded(format!("unreadable report {}: {err:#}", report.display())),
    }
}

fn read_report(path: &Path) -> anyhow::Result<Graded> {
    let results = Results::parse(&fs::read_to_string(path)?)?;
    Ok(Graded::Scored {
        score: results.score,
        max_score: results.max_score,
        points: results
            .tests
            .into_iter()
            .map(|test| (test.name, test.score))
            .collect(),
    })
}

/// Writes the gradebook: one row per submission, the total, then the
/// points of every check (empty when not graded), then a note.
pub fn write_csv(rows: &[Row], out: impl io::Write) -> csv::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    let checks = CHECKS.iter().map(|check| check.name);
    csv.write_record(
        ["submission", "score", "max_score"]
            .into_iter()
            .chain(checks)
            .chain(["note"]),
    )?;
    for row in rows {
        let mut record = vec![row.name.clone()];
        match &row.graded {
            Graded::Scored {
                score,
                max_score,
                points,
            } => {
                record.extend([score.to_string(), max_score.to_string()]);
                record.extend(CHECKS.iter().map(|check| {
                    let earned = points.iter().find(|(name, _)| name == check.name);
                    earned.map(|(_, p)| p.to_string()).unwrap_or_default()
                }));
                record.push(String::new());
            }
            Graded::NotGraded(why) => {
                record.extend(std::iter::repeat_n(String::new(), 2 + CHECKS.len()));
                record.push(why.clone());
            }
        }
        csv.write_record(&record)?;
    }
    csv.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::Reader::from_reader(bytes)
            .records()
            .map(|record| {
                let record = record.expect("a CSV record");
                record.iter().map(str::to_owned).collect()
            })
            .collect()
    }

    #[test]
    fn the_gradebook_has_a_column_per_check_and_quotes_what_it_must() {
        let rows = vec![
            Row {
                name: "alice".into(),
                graded: Graded::Scored {
                    score: 3,
                    max_score: 100,
                    points: vec![("server/ready".into(), 3), ("server/join".into(), 0)],
                },
                seconds: 1.0,
            },
            Row {
                name: "bob, jr".into(),
                graded: Graded::NotGraded("no \"Cargo.toml\"".into()),
                seconds: 0.0,
            },
        ];
        let mut out = Vec::new();
        write_csv(&rows, &mut out).expect("write to a Vec");
        let text = String::from_utf8(out).expect("UTF-8");
        let header = text.lines().next().expect("a header");
        assert_eq!(header.split(',').count(), 3 + CHECKS.len() + 1);
        let column = |name: &str| {
            header
                .split(',')
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("no column {name}"))
        };
        let rows = read_csv(text.as_bytes());
        let alice = &rows[0];
        assert_eq!(
            (
                &alice[1][..],
                &alice[2][..],
                &alice[column("server/ready")][..],
                &alice[column("server/join")][..],
                &alice[column("wrapper/add")][..]
            ),
            ("3", "100", "3", "0", "")
        );
        assert_eq!(rows[1][0], "bob, jr");
        assert_eq!(rows[1][column("note")], "no \"Cargo.toml\"");
        assert!(rows[1][1..column("note")].iter().all(String::is_empty));
        // RFC 4180 quoting, as before the csv crate wrote it.
        assert!(
            text.ends_with("\n\"bob, jr\",,,") || text.contains("\n\"bob, jr\",,,"),
            "{text}"
        );
        assert!(text.ends_with(",\"no \"\"Cargo.toml\"\"\"\n"), "{text}");
    }
}
