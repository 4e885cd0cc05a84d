//! The grader's command line: what instructors and CI script against.

use assert_cmd::Command;
use predicates::prelude::*;
use std::time::Duration;

fn grader() -> Command {
    let mut command = Command::cargo_bin("grader").expect("the grader binary");
    command.timeout(Duration::from_secs(60));
    command
}

#[test]
fn list_shows_every_check_with_its_points_and_the_total() {
    let assert = grader().arg("--list").assert().success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for check in grader::catalog::CHECKS {
        let line = out
            .lines()
            .find(|line| line.split_whitespace().next() == Some(check.name))
            .unwrap_or_else(|| panic!("{} is not listed:\n{out}", check.name));
        assert!(line.contains(check.description), "{line}");
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(check.points.to_string().as_str())
        );
    }
    assert!(out.contains("total: 100 points"), "{out}");
}

#[test]
fn a_directory_without_a_crate_cannot_be_graded_status_2() {
    let empty = std::env::temp_dir().join(format!("grader-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("create a folder");
    grader()
        .arg("--dir")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Cargo.toml in"));
    std::fs::remove_dir_all(&empty).expect("remove the folder");
}

#[test]
fn bad_arguments_are_usage_errors_status_2() {
    grader()
        .args(["--format", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("xml"));
    grader().args(["--part", "kernel"]).assert().code(2);
    grader()
        .args(["--dir", "x", "--server", "y"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn asking_for_a_part_whose_executable_is_not_given_is_an_error() {
    grader()
        .args(["--server", "/bin/true", "--part", "client"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to grade"));
}

#[test]
fn a_missing_executable_fails_its_checks_and_the_run_finishes() {
    let assert = grader()
        .args(["--server", "/nonexistent/server", "--format", "json"])
        .assert()
        .code(1);
    let report: serde_json::Value =
        serde_json::from_slice(&assert.get_output().stdout).expect("a JSON report");
    assert_eq!(report["score"], 0);
    assert_eq!(report["max_score"], 60);
    let first = &report["tests"][0];
    assert_eq!(first["status"], "failed");
    assert!(
        first["output"]
            .as_str()
            .is_some_and(|o| o.contains("could not start the server")),
        "{first}"
    );
}

#[test]
fn the_reference_peers_follow_the_command_line_contract() {
    grader()
        .args(["reference-server", "not-a-port"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("usage: server [PORT]"));
    grader()
        .args(["reference-client", "127.0.0.1", "1", "extra"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("usage: client [HOST [PORT]]"));
}
