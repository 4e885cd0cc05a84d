//! The oracle of mutation testing (`make mutants`): the solution crate must
//! score full marks in both labs (`--lab chat`, then `--lab room`).
//!
//! cargo-mutants mutates a line of a solution block in a copy of the kit and
//! runs this test there; the mutant is caught when the test fails. The
//! grader that judges must be a clean one, built before any mutation: the
//! reference server and client the checks talk to are compiled into the
//! grader from the `chat` crate, so a grader built from the mutated copy
//! would compare the mutant with itself. `make mutants` builds that grader
//! and names it in `GRADER_ORACLE_EXE`.
//!
//! On failure the message has one line `caught by: NAME, NAME` with the
//! checks that failed, which `cargo run -p xtask -- mutants-report` reads
//! from each mutant's log, or one line `no verdict: WHY` when the grader
//! could not grade (that proves nothing about the mutant).

use std::process::Command;

use serde::Deserialize;

use crate::util;

/// The variable that names the clean grader.
const ORACLE_VAR: &str = "GRADER_ORACLE_EXE";

/// The part of the grader's `--format json` report the verdict needs.
#[derive(Debug, Deserialize)]
struct Report {
    score: u32,
    max_score: u32,
    tests: Vec<Test>,
}

#[derive(Debug, Deserialize)]
struct Test {
    name: String,
    status: String,
    output: String,
}

/// The labs the solution is graded in, as `--lab` names them, and how a
/// check of that lab is named in the verdict: lab 2 runs lab 1's behaviour
/// checks under their own names, so its names say the lab.
const LABS: [(&str, &str); 2] = [("chat", ""), ("room", " (lab 2)")];

#[test]
#[ignore = "the oracle of `make mutants`: needs GRADER_ORACLE_EXE, a grader built before mutating"]
fn the_solution_scores_full_marks() {
    let Some(grader) = std::env::var_os(ORACLE_VAR) else {
        panic!(
            "no verdict: {ORACLE_VAR} is not set. This test judges a mutated solution with a \
             grader built before mutating; run it through `make mutants`, or set \
             {ORACLE_VAR} to a grader executable built from the unmutated kit"
        );
    };
    let (mut names, mut details, mut scores) = (Vec::new(), Vec::new(), Vec::new());
    let mut full = true;
    for (lab, suffix) in LABS {
        let report = grade(&grader, lab);
        full &= report.score == report.max_score;
        scores.push(format!(
            "{} of {} in --lab {lab}",
            report.score, report.max_score
        ));
        for test in report.tests.iter().filter(|test| test.status != "passed") {
            full = false;
            names.push(format!("{}{suffix}", test.name));
            let first = test.output.lines().next().unwrap_or("");
            details.push(format!("  {}{suffix}: {first}", test.name));
        }
    }
    if full {
        return;
    }
    panic!(
        "\ncaught by: {}\nthe solution scored {}:\n{}",
        if names.is_empty() {
            "(no failed check, yet not full marks)".to_owned()
        } else {
            names.join(", ")
        },
        scores.join(", "),
        details.join("\n")
    );
}

/// The solution graded in `lab` by the clean grader.
fn grade(grader: &std::ffi::OsStr, lab: &str) -> Report {
    // Under cargo-mutants, the kit is the mutated copy.
    let kit = util::kit();
    let solution = kit.join("solution");
    let mut command = Command::new(grader);
    command
        .args(["--lab", lab, "--dir"])
        .arg(&solution)
        .args(["--format", "json"])
        // The mutated crate builds into this copy's own target folder,
        // never into one the environment shares with the real kit.
        .env("CARGO_TARGET_DIR", kit.join("target"));
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("no verdict: cannot run {command:?}: {err}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "no verdict: the grader ({}) gave no JSON report ({err}) for {} in --lab {lab}\n\
             --- stderr\n{stderr}",
            output.status,
            solution.display()
        )
    })
}
