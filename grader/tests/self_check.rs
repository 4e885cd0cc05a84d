//! The self-check an instructor relies on: the reference solution scores
//! full marks, and the skeleton students start from scores zero, each check
//! failing on evidence (the process died at its TODO) rather than by waiting
//! for a deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
        .to_path_buf()
}

fn grade(args: &[&str], dir: &Path, target_dir: Option<&Path>) -> (Output, serde_json::Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grader"));
    command.arg("--dir").arg(dir).args(args);
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let output = command.output().expect("run the grader");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, report)
}

fn explain(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_solution_scores_full_marks() {
    let started = Instant::now();
    let (output, report) = grade(&["--format", "json"], &kit_root().join("solution"), None);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(report["max_score"], 100, "{report}");
    assert_eq!(report["score"], 100, "{report}");
    eprintln!(
        "the solution was graded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_fresh_skeleton_scores_zero_and_every_check_fails_without_waiting() {
    let root = kit_root();
    let skeleton = std::env::temp_dir().join(format!("grader-self-check-{}", std::process::id()));
    let generated = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--package", "skeleton", "--", "--out"])
        .arg(&skeleton)
        .current_dir(&root)
        .output()
        .expect("run the skeleton generator");
    assert!(generated.status.success(), "{}", explain(&generated));

    // Built in a target folder of its own, kept between runs.
    let target = root.join("target").join("self-check");
    let started = Instant::now();
    let (output, report) = grade(&["--format", "junit"], &skeleton, Some(&target));
    let elapsed = started.elapsed();
    let junit = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    assert_eq!(report, serde_json::Value::Null, "junit, not JSON");

    let cases: Vec<&str> = junit.split("<testcase ").skip(1).collect();
    assert_eq!(cases.len(), grader::catalog::CHECKS.len(), "{junit}");
    for case in cases {
        let name = attribute(case, "name");
        assert!(
            case.contains("<failure"),
            "{name} passed on the skeleton:\n{case}"
        );
        let seconds: f64 = attribute(case, "time").parse().expect("a time");
        // One step's deadline is 5 s: a check that took that long waited for
        // something instead of seeing the skeleton fail.
        assert!(
            seconds < 4.5,
            "{name} took {seconds} s to fail on the skeleton"
        );
    }
    eprintln!("the skeleton was graded in {:.1} s", elapsed.as_secs_f64());
    std::fs::remove_dir_all(&skeleton).expect("remove the generated skeleton");
}

/// The value of `name="..."` in an XML start tag.
fn attribute<'a>(tag: &'a str, name: &str) -> &'a str {
    let start = tag
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 2;
    let end = tag[start..].find('"').expect("a closing quote") + start;
    &tag[start..end]
}
