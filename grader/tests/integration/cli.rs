//! The grader's command line: what instructors and CI script against.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::util::GRADER;

/// The grader, through assert_cmd: an assertion that fails shows the
/// command, its status and what it printed.
fn grader() -> Command {
    let mut command = Command::new(GRADER);
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
    let empty = tempfile::tempdir().expect("a scratch folder");
    grader()
        .arg("--dir")
        .arg(empty.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Cargo.toml in"));
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
        .args(["--check", "server/jion"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no check is called \"server/jion\": `grader --list` shows them all",
        ));
    grader()
        .args(["batch", "subs", "--shard", "0/2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a shard K/N"));
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

/// Lines of a human report, the time it took masked: two gradings of one
/// submission differ in that alone.
fn without_time(report: &str) -> String {
    report
        .lines()
        .map(|line| match line.rsplit_once(" in ") {
            Some((head, tail)) if line.starts_with("Score: ") && tail.ends_with(" s") => {
                format!("{head} in (time)")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_stored_report_renders_as_grading_printed_it() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let json = scratch.path().join("results.json");
    // A server that exits at once fails every check, quickly.
    let graded = |format: &str, out: Option<&std::path::Path>| {
        let mut command = grader();
        command.args([
            "--server",
            "/bin/true",
            "--part",
            "server",
            "--format",
            format,
        ]);
        if let Some(out) = out {
            command.arg("--out").arg(out);
        }
        let output = command.assert().code(1).get_output().stdout.clone();
        String::from_utf8(output).expect("UTF-8")
    };
    let printed = graded("human", None);
    graded("json", Some(&json));
    let render = |format: &str| {
        let output = grader()
            .arg("render")
            .arg(&json)
            .args(["--format", format])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(output).expect("UTF-8")
    };
    assert_eq!(without_time(&render("human")), without_time(&printed));
    // JSON in, JSON out: the same bytes.
    let stored = std::fs::read_to_string(&json).expect("the report");
    assert_eq!(render("json"), stored);
    let server_checks = grader::catalog::CHECKS
        .iter()
        .filter(|check| check.part == grader::model::Part::Server)
        .count();
    assert!(render("tap").starts_with(&format!(
        "TAP version 14\n1..{server_checks}\nnot ok 1 - server/ready\n"
    )));
    assert!(render("junit").contains("<testcase classname=\"server\" name=\"server/ready\""));

    grader()
        .arg("render")
        .arg(scratch.path().join("none.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("none.json"));
    std::fs::write(&json, "{\"score\": 1}").expect("write");
    grader()
        .arg("render")
        .arg(&json)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot be rendered: not a report of the grader",
        ));
}
