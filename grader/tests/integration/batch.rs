//! Batch grading as an instructor runs it: a folder of submissions in, a
//! gradebook out; on one machine, or in shards merged afterwards.

use std::fs;
use std::path::Path;

use crate::util::{self, Run};

/// The gradebook's records, its header first.
fn read_gradebook(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    reader
        .records()
        .map(|record| {
            let record = record.expect("a CSV record");
            record.iter().map(str::to_owned).collect()
        })
        .collect()
}

/// Runs the grader with `args`; returns its stdout, showing everything
/// about the run if it ended otherwise than `expected`.
fn grader(args: &[&std::ffi::OsStr], expected: i32) -> String {
    Run::new(util::grader().args(args))
        .assert_code(expected)
        .stdout()
}

#[test]
fn a_folder_of_submissions_becomes_a_gradebook() {
    // Kept under target/ so that the workers' build folders are reused by
    // the next run.
    let work = util::scratch("batch-test");
    let submissions = work.join("submissions");
    let _ = fs::remove_dir_all(&submissions);
    // A student who has not started, graded first.
    util::copy_dir(util::skeleton(), &submissions.join("ada"));
    // A student who finished: the skeleton with the solution's sources,
    // files older than ada's build. In the one worker's shared build folder,
    // cargo would take ada's binaries as up to date for brian: the grader
    // must not let it.
    util::copy_dir(util::skeleton(), &submissions.join("brian"));
    util::copy_dir(
        &util::kit().join("solution/src"),
        &submissions.join("brian/src"),
    );
    util::make_old(&submissions.join("brian"));
    // A folder that is not a crate.
    fs::create_dir_all(submissions.join("carol")).expect("create a folder");

    let reports = work.join("grades");
    let _heavy = util::one_heavy_test_at_a_time();
    let stdout = grader(
        &[
            "batch".as_ref(),
            submissions.as_os_str(),
            "--reports".as_ref(),
            reports.as_os_str(),
            "--jobs".as_ref(),
            "1".as_ref(),
        ],
        2,
    );
    assert!(
        stdout.contains("3 submissions, 2 graded, 1 not graded"),
        "{stdout}"
    );

    let rows = read_gradebook(&reports.join("gradebook.csv"));
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(&rows[0][..3], ["submission", "score", "max_score"]);
    assert_eq!(&rows[1][..3], ["ada", "0", "100"], "{rows:?}");
    assert_eq!(&rows[2][..3], ["brian", "100", "100"], "{rows:?}");
    assert_eq!(&rows[3][..3], ["carol", "", ""], "{rows:?}");
    assert_eq!(
        rows[3].last().map(String::as_str),
        Some("no crate: the folder has no Cargo.toml")
    );
    // ada failed checks for different reasons: nothing to say in one line.
    assert_eq!(rows[1].last().map(String::as_str), Some(""));
    for row in &rows {
        assert_eq!(row.len(), rows[0].len(), "{rows:?}");
    }
    // Each graded submission has its Gradescope-shaped report.
    let report: serde_json::Value =
        serde_json::from_str(&util::read(&reports.join("brian.json"))).expect("JSON");
    assert_eq!(report["score"], 100);
}

/// A crate whose library does not compile, with `src/lib.rs` as given.
fn broken_crate(dir: &Path, lib: &str) {
    fs::create_dir_all(dir.join("src/bin")).expect("create a folder");
    fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"chat\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .expect("write Cargo.toml");
    fs::write(dir.join("src/lib.rs"), lib).expect("write lib.rs");
    for bin in ["server", "client"] {
        fs::write(dir.join(format!("src/bin/{bin}.rs")), "fn main() {}\n").expect("write a bin");
    }
}

#[test]
fn shards_merged_give_the_gradebook_of_one_batch_and_every_report_explains_itself() {
    // Submissions that are quick to grade: crates that do not compile, and
    // folders that are not crates.
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let work = scratch.path();
    let submissions = work.join("submissions");
    broken_crate(&submissions.join("ada"), "pub fn f() -> u32 { \"x\" }\n");
    fs::create_dir_all(submissions.join("bea")).expect("create a folder");
    broken_crate(&submissions.join("cy"), "pub fn g() -> u8 { y }\n");
    broken_crate(&submissions.join("dee, jr"), "pub fn h( {}\n");
    fs::create_dir_all(submissions.join("eve/src")).expect("create a folder");

    let batch = |reports: &Path, shard: &str| {
        let args = [
            "batch".as_ref(),
            submissions.as_os_str(),
            "--reports".as_ref(),
            reports.as_os_str(),
            "--jobs".as_ref(),
            "2".as_ref(),
            "--shard".as_ref(),
            shard.as_ref(),
        ];
        grader(&args, 2)
    };
    let whole = work.join("whole");
    assert!(batch(&whole, "1/1").starts_with("5 submissions, 3 graded, 2 not graded;"));
    let (one, two) = (work.join("shard-1"), work.join("shard-2"));
    assert!(batch(&one, "1/2").starts_with("3 submissions, 2 graded, 1 not graded (shard 1/2);"));
    assert!(batch(&two, "2/2").starts_with("2 submissions, 1 graded, 1 not graded (shard 2/2);"));
    let merged = work.join("merged.csv");
    grader(
        &[
            "gradebook".as_ref(),
            one.as_os_str(),
            two.as_os_str(),
            "--out".as_ref(),
            merged.as_os_str(),
        ],
        2,
    );
    let expected = fs::read(whole.join("gradebook.csv")).expect("the whole gradebook");
    assert!(
        fs::read(&merged).expect("the merged gradebook") == expected,
        "--- merged\n{}\n--- whole\n{}",
        String::from_utf8_lossy(&fs::read(&merged).unwrap_or_default()),
        String::from_utf8_lossy(&expected)
    );
    // Shard K holds the names at places K-1, K-1+N, ... of the sorted list.
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("list reports")
            .filter_map(|entry| {
                let name = entry.expect("an entry").file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&one), ["ada", "cy", "eve"]);
    assert_eq!(names(&two), ["bea", "dee, jr"]);

    // The note says why, without opening a report.
    let rows = read_gradebook(&merged);
    let note = |name: &str| -> String {
        let row = rows
            .iter()
            .find(|row| row[0] == name)
            .unwrap_or_else(|| panic!("no row {name}: {rows:?}"));
        row.last().cloned().unwrap_or_default()
    };
    assert_eq!(
        note("ada"),
        "does not compile: error[E0308]: mismatched types at src/lib.rs:1:21"
    );
    assert_eq!(
        note("cy"),
        "does not compile: error[E0425]: cannot find value `y` in this scope at src/lib.rs:1:20"
    );
    assert!(
        note("dee, jr").starts_with("does not compile: error"),
        "{rows:?}"
    );
    assert_eq!(note("bea"), "no crate: the folder has no Cargo.toml");
    assert_eq!(note("eve"), "no crate: the folder has no Cargo.toml");

    // Every submission has its text report: what `grader render` prints of
    // its JSON report, or why it was not graded.
    for name in ["ada", "cy", "eve"] {
        let json = one.join(format!("{name}.json"));
        let text = fs::read_to_string(one.join(format!("{name}.txt"))).expect("a text report");
        if name == "eve" {
            assert_eq!(
                text,
                "eve: the submission was not graded: no crate: the folder has no Cargo.toml\n"
            );
            continue;
        }
        assert_eq!(grader(&["render".as_ref(), json.as_os_str()], 0), text);
        // A build failure's checks carry the compiler's message, and a hint
        // that says to fix it first, not their TODO.
        assert!(text.contains("\n--- wrapper/add (2 points) ---\n  does not compile: error[E"));
        assert!(!text.contains("TODO"), "{text}");
        assert!(text.contains("hint:     Nothing was checked: fix what the first line says first"));
    }
}
