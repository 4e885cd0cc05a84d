//! Batch grading as an instructor runs it: a folder of submissions in, a
//! gradebook out.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
        .to_path_buf()
}

/// Generates the students' crate from the solution into `out`.
fn generate_skeleton(out: &Path) {
    let status = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--package", "skeleton", "--", "--out"])
        .arg(out)
        .current_dir(kit_root())
        .status()
        .expect("run the skeleton generator");
    assert!(status.success(), "the skeleton generator failed");
}

/// Sets every file under `dir` to a time long past.
fn age(dir: &Path) {
    let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    for entry in fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            age(&path);
        } else {
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(past))
                .expect("age a file");
        }
    }
}

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

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a folder");
    for entry in fs::read_dir(from).expect("list a folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

#[test]
fn a_folder_of_submissions_becomes_a_gradebook() {
    // Kept under target/ so that the workers' build folders are reused by
    // the next run.
    let work = kit_root().join("target").join("batch-test");
    let submissions = work.join("submissions");
    let _ = fs::remove_dir_all(&submissions);
    // A student who has not started, graded first.
    generate_skeleton(&submissions.join("ada"));
    // A student who finished: the skeleton with the solution's sources,
    // files older than ada's build. In the one worker's shared build folder,
    // cargo would take ada's binaries as up to date for brian: the grader
    // must not let it.
    generate_skeleton(&submissions.join("brian"));
    copy_dir(
        &kit_root().join("solution/src"),
        &submissions.join("brian/src"),
    );
    age(&submissions.join("brian"));
    // A folder that is not a crate.
    fs::create_dir_all(submissions.join("carol")).expect("create a folder");

    let reports = work.join("grades");
    let output = Command::new(env!("CARGO_BIN_EXE_grader"))
        .arg("batch")
        .arg(&submissions)
        .arg("--reports")
        .arg(&reports)
        .args(["--jobs", "1"])
        .output()
        .expect("run the grader");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "one is not graded\n{stdout}\n{stderr}"
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
    assert_eq!(rows[3].last().map(String::as_str), Some("no Cargo.toml"));
    for row in &rows {
        assert_eq!(row.len(), rows[0].len(), "{rows:?}");
    }
    // Each graded submission has its Gradescope-shaped report.
    let report: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(reports.join("brian.json")).expect("brian's report"),
    )
    .expect("JSON");
    assert_eq!(report["score"], 100);
}
