//! Batch grading: every student crate in a folder, a few at a time, into a
//! gradebook CSV and two reports per submission (`NAME.json`, Gradescope's
//! shape, and `NAME.txt`, the human report), or a [`Shard`] of the folder
//! per machine, whose reports [`gradebook`] merges.
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

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::catalog::Lab;
use crate::report::json::{Results, Status};
use crate::report::{self, Format, Style};
use crate::sandbox::{self, Contained, Limits};

/// How long grading one submission may take, its build included, at a
/// `--timeout-scale` of 1.
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
    /// The part of the folder this batch grades.
    pub shard: Shard,
    /// Each grading's `--timeout-scale`; the bound on a whole grading,
    /// [`PER_SUBMISSION`], is scaled by it too.
    pub timeout_scale: f64,
    /// The lab graded (`--lab`).
    pub lab: crate::catalog::Lab,
}

/// One of N disjoint parts of a folder of submissions, for grading a
/// folder on N machines at once (`--shard K/N`).
///
/// Part K holds the submissions whose place in the list of their names,
/// sorted, counted from 0, is K-1 modulo N: submissions 1, N+1, 2N+1 ...
/// of the sorted list are part 1. Every machine that sees the same folder
/// makes the same parts; together they hold every submission once, and
/// their sizes differ by one at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 1.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// The whole folder: part 1 of 1.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Whether the submission at `position` (from 0) of the sorted list is
    /// in this part.
    pub fn holds(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// A `--shard` that is not K/N with 1 <= K <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a shard K/N (part K of N, 1 <= K <= N), such as 1/2")]
pub struct BadShard(String);

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(text: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(text.to_owned());
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: index.parse().map_err(|_| bad())?,
            count: count.parse().map_err(|_| bad())?,
        };
        if shard.index == 0 || shard.index > shard.count {
            return Err(bad());
        }
        Ok(shard)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
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
    /// Graded: points per check name, in table order, the total, and what
    /// the gradebook's note says (see [`Graded::from_results`]).
    Scored {
        score: u32,
        max_score: u32,
        points: Vec<(String, u32)>,
        note: String,
    },
    /// Not graded, and why (no crate, the grader failed, out of time).
    NotGraded(String),
}

impl Graded {
    /// What a stored report says. The note is empty, unless every check
    /// failed the same way: then it is the summary they share, which names
    /// the one cause ("does not compile: error[E0308]: mismatched types at
    /// src/lib.rs:1:21", "the crate has no `server` binary ...").
    pub fn from_results(results: &Results) -> Graded {
        if let Some(why) = &results.extra_data.not_graded {
            return Graded::NotGraded(why.clone());
        }
        fn summary(test: &crate::report::json::Test) -> &str {
            test.output.lines().next().unwrap_or("")
        }
        let first = results.tests.first().map(summary);
        let shared = results
            .tests
            .iter()
            .all(|test| test.status == Status::Failed && Some(summary(test)) == first);
        Graded::Scored {
            score: results.score,
            max_score: results.max_score,
            points: results
                .tests
                .iter()
                .map(|test| (test.name.clone(), test.score))
                .collect(),
            note: first.filter(|_| shared).unwrap_or_default().to_owned(),
        }
    }
}

/// One row of the gradebook.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub graded: Graded,
    pub seconds: f64,
}

/// Grades every submission of the batch's shard; `progress` sees each row
/// as it is done. Rows come sorted by name.
pub fn run(batch: &Batch, progress: &(dyn Fn(&Row) + Sync)) -> anyhow::Result<Vec<Row>> {
    let all = submission_names(&batch.submissions)?;
    if all.is_empty() {
        bail!("no submissions in {}", batch.submissions.display());
    }
    // A shard may be empty (more machines than submissions): that is not
    // an error, and its gradebook has no rows.
    let names: Vec<String> = all
        .into_iter()
        .enumerate()
        .filter(|&(position, _)| batch.shard.holds(position))
        .map(|(_, name)| name)
        .collect();
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

/// The rows of the reports (`NAME.json`) in `dirs`, the report folders of
/// one batch or of the shards of one folder, sorted by name: the same rows
/// as one batch over the whole folder would give. A name found in two
/// folders is an error (a shard graded twice, or two folders mixed up).
pub fn gradebook(dirs: &[PathBuf]) -> anyhow::Result<Vec<Row>> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        for entry in fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
            let path = entry
                .with_context(|| format!("list {}", dir.display()))?
                .path();
            let (Some(name), Some("json")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            if let Some(other) = found.insert(name.to_owned(), path.clone()) {
                bail!(
                    "{name} has two reports, {} and {}: merge each shard once",
                    other.display(),
                    path.display()
                );
            }
        }
    }
    if found.is_empty() {
        bail!("no reports (NAME.json) in {}", shown(dirs));
    }
    Ok(found
        .into_iter()
        .map(|(name, path)| {
            let (graded, seconds) = read_report(&path);
            Row {
                name,
                graded,
                seconds,
            }
        })
        .collect())
}

fn shown(dirs: &[PathBuf]) -> String {
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    dirs.join(", ")
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
    // A report of an earlier batch is never read as this one's.
    let _ = fs::remove_file(&report);
    let graded = if !dir.join("Cargo.toml").is_file() {
        Err("no crate: the folder has no Cargo.toml".to_owned())
    } else {
        run_grader(batch, &dir, &report, target, user)
    };
    let seconds = started.elapsed().as_secs_f64();
    let graded = match graded {
        // An unreadable report stays as it is, for a look: the gradebook
        // reads it the same way.
        Ok(()) => read_report(&report).0,
        // The reason is the report (in place of whatever the grader left),
        // so that `gradebook` finds it too.
        Err(why) => {
            let results = Results::not_graded(name, &why, Duration::from_secs_f64(seconds));
            match write_json(&report, &results) {
                Ok(()) => Graded::NotGraded(why),
                Err(err) => Graded::NotGraded(format!("{why}; and cannot write its report: {err}")),
            }
        }
    };
    if let Err(err) = write_text(&report, name) {
        eprintln!("grader: {name}: no text report: {err:#}");
    }
    Row {
        name: name.to_owned(),
        graded,
        seconds,
    }
}

fn write_json(path: &Path, results: &Results) -> io::Result<()> {
    fs::write(path, results.to_json()?)
}

/// Writes `NAME.txt` beside `NAME.json`: the human report, as `grader
/// render NAME.json` prints it, or why there is none.
fn write_text(report: &Path, name: &str) -> anyhow::Result<()> {
    let text_path = report.with_extension("txt");
    let mut file =
        fs::File::create(&text_path).with_context(|| format!("create {}", text_path.display()))?;
    let stored = fs::read_to_string(report)
        .map_err(anyhow::Error::from)
        .and_then(|text| Ok(Results::parse(&text)?.into_report()?));
    match stored {
        Ok(stored) => report::write(&stored, Format::Human, &mut file, Style { color: false })?,
        Err(err) => io::Write::write_all(&mut file, format!("{name}: {err:#}\n").as_bytes())?,
    }
    Ok(())
}

/// Grades the crate in `dir` with a child grader that writes `report`;
/// `Err` says why it did not.
fn run_grader(
    batch: &Batch,
    dir: &Path,
    report: &Path,
    target: &Path,
    user: Option<&sandbox::user::Account>,
) -> Result<(), String> {
    let log = report.with_extension("log");
    let log_file =
        fs::File::create(&log).map_err(|err| format!("cannot write {}: {err}", log.display()))?;
    let mut command = Command::new(&batch.grader);
    command
        .arg("--dir")
        .arg(dir)
        .args(["--format", "json", "--out"])
        .arg(report)
        .arg("--timeout-scale")
        .arg(batch.timeout_scale.to_string())
        .args(["--lab", batch.lab.name()])
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
    let limit = PER_SUBMISSION.mul_f64(batch.timeout_scale);
    let outcome = match Contained::spawn(&mut command, Limits::BUILD) {
        Ok(mut process) => {
            let status = process.wait_exit(Instant::now() + limit);
            drop(process);
            Ok(status)
        }
        Err(err) => Err(err),
    };
    // What the submission left running, handed to the batch when its
    // grader ended, goes before the next submission.
    sandbox::kill_orphans();
    let last_log_line = || {
        let log = fs::read_to_string(&log).unwrap_or_default();
        log.lines().last().unwrap_or("no message").to_owned()
    };
    let status = match outcome {
        Ok(Some(status)) => status,
        Ok(None) => {
            return Err(format!(
                "timed out: not graded within {} s",
                limit.as_secs()
            ));
        }
        Err(err) => return Err(format!("could not start the grader: {err}")),
    };
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return Err(format!(
            "its grader was killed (signal {signal}): {}",
            last_log_line()
        ));
    }
    // 0: all passed, 1: some failed; both wrote a report.
    if !matches!(status.code(), Some(0 | 1)) {
        return Err(format!(
            "the grader could not grade it ({status}): {}",
            last_log_line()
        ));
    }
    Ok(())
}

/// How a stored report graded its submission, and how long that took.
fn read_report(path: &Path) -> (Graded, f64) {
    let results = fs::read_to_string(path)
        .map_err(|err| err.to_string())
        .and_then(|text| Results::parse(&text).map_err(|err| err.to_string()));
    match results {
        Ok(results) => (Graded::from_results(&results), results.execution_time),
        Err(err) => {
            // The file's name, not its folder: a shard's gradebook and the
            // whole folder's say the same.
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            (
                Graded::NotGraded(format!("unreadable report {name}: {err}")),
                0.0,
            )
        }
    }
}

/// Writes the gradebook: one row per submission, the total, then the
/// points of every check (empty when not graded), then a note: why it was
/// not graded, or what every check failed on (see [`Graded::from_results`]).
pub fn write_csv(rows: &[Row], out: impl io::Write) -> csv::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    // The lab of the reports: lab 2's when a row scored one of its checks.
    let lab = rows
        .iter()
        .filter_map(|row| match &row.graded {
            Graded::Scored { points, .. } => points.first(),
            Graded::NotGraded(_) => None,
        })
        .find_map(|(name, _)| Lab::of_check(name))
        .unwrap_or_default();
    let table = lab.checks();
    let checks = table.iter().map(|check| check.name);
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
                note,
            } => {
                record.extend([score.to_string(), max_score.to_string()]);
                record.extend(table.iter().map(|check| {
                    let earned = points.iter().find(|(name, _)| name == check.name);
                    earned.map(|(_, p)| p.to_string()).unwrap_or_default()
                }));
                record.push(note.clone());
            }
            Graded::NotGraded(why) => {
                record.extend(std::iter::repeat_n(String::new(), 2 + table.len()));
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
                    note: String::new(),
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
        assert_eq!(
            header.split(',').count(),
            3 + crate::catalog::CHECKS.len() + 1
        );
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

    #[test]
    fn a_shard_is_every_nth_name_and_the_shards_cover_the_folder_once() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().expect("a shard"))
            .collect();
        assert_eq!(shards[1], Shard { index: 2, count: 3 });
        assert_eq!(shards[1].to_string(), "2/3");
        let held = |shard: Shard| (0..8).filter(|&p| shard.holds(p)).collect::<Vec<_>>();
        assert_eq!(held(shards[0]), [0, 3, 6]);
        assert_eq!(held(shards[1]), [1, 4, 7]);
        assert_eq!(held(shards[2]), [2, 5]);
        assert_eq!(held(Shard::WHOLE), (0..8).collect::<Vec<_>>());
        for bad in ["0/2", "3/2", "1", "1/0", "a/b", "1/2/3", "-1/2", ""] {
            let err = bad.parse::<Shard>().expect_err(bad);
            assert!(err.to_string().contains("is not a shard K/N"), "{err}");
        }
    }

    fn results(outputs: &[(&str, bool)]) -> Results {
        let mut report = crate::report::sample::report();
        report.results.truncate(outputs.len());
        for (result, (summary, passed)) in report.results.iter_mut().zip(outputs) {
            result.failure = (!passed).then(|| crate::model::Failure::new(*summary));
        }
        Results::new(&report)
    }

    #[test]
    fn the_note_names_the_cause_every_check_failed_on_and_only_that() {
        let build = "does not compile: error[E0308]: mismatched types at src/lib.rs:1:21";
        let note = |graded: Graded| match graded {
            Graded::Scored { note, .. } => note,
            Graded::NotGraded(why) => panic!("not graded: {why}"),
        };
        let all_alike = results(&[(build, false), (build, false), (build, false)]);
        assert_eq!(note(Graded::from_results(&all_alike)), build);
        let one_passed = results(&[(build, false), ("", true), (build, false)]);
        assert_eq!(note(Graded::from_results(&one_passed)), "");
        let different = results(&[(build, false), ("no", false)]);
        assert_eq!(note(Graded::from_results(&different)), "");
        let not_graded =
            Results::not_graded("ada", "timed out: not graded within 900 s", Duration::ZERO);
        assert_eq!(
            Graded::from_results(&not_graded),
            Graded::NotGraded("timed out: not graded within 900 s".into())
        );
    }

    #[test]
    fn reports_in_several_folders_merge_into_one_sorted_gradebook() {
        let scratch = tempfile::tempdir().expect("a scratch folder");
        let (one, two) = (scratch.path().join("1"), scratch.path().join("2"));
        for dir in [&one, &two] {
            fs::create_dir(dir).expect("mkdir");
        }
        let graded = results(&[("x", false), ("", true)]);
        write_json(&two.join("ada.json"), &graded).expect("write");
        let none = Results::not_graded(
            "bea",
            "no crate: the folder has no Cargo.toml",
            Duration::ZERO,
        );
        write_json(&one.join("bea.json"), &none).expect("write");
        fs::write(one.join("cy.json"), "{").expect("write");
        fs::write(one.join("cy.log"), "not a report").expect("write");
        let rows = gradebook(&[one.clone(), two.clone()]).expect("merged");
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ada", "bea", "cy"]);
        assert!(matches!(&rows[0].graded, Graded::Scored { score: 3, .. }));
        assert_eq!(
            rows[1].graded,
            Graded::NotGraded("no crate: the folder has no Cargo.toml".into())
        );
        assert!(
            matches!(&rows[2].graded, Graded::NotGraded(why) if why.starts_with("unreadable report cy.json: ")),
            "{:?}",
            rows[2].graded
        );
        write_json(&two.join("bea.json"), &none).expect("write");
        let err = gradebook(&[one, two]).expect_err("bea twice");
        assert!(err.to_string().contains("bea has two reports"), "{err}");
        let empty = scratch.path().join("empty");
        fs::create_dir(&empty).expect("mkdir");
        assert!(gradebook(&[empty]).is_err());
    }
}
