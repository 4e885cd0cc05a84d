//! The grader against implementations whose defects are known
//! (`tests/fixtures/`, Python): the correct server and client score full
//! marks, and every broken one fails exactly the checks `expected.json`
//! names for it, and passes every other check of its part.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::thread;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// How many graders run at once: each runs several checks at once too.
const PARALLEL: usize = 3;

/// Grades one fixture; returns the names of the checks that failed.
fn failed_checks(fixture: &str, part: &str) -> Result<BTreeSet<String>, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_grader"))
        .arg(format!("--{part}"))
        .arg(fixtures().join(fixture))
        .args(["--format", "json"])
        .output()
        .map_err(|err| format!("run the grader: {err}"))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|err| {
        format!(
            "not a JSON report ({err}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let tests = report["tests"].as_array().ok_or("no tests in the report")?;
    Ok(tests
        .iter()
        .filter(|test| test["status"] != "passed")
        .map(|test| test["name"].as_str().unwrap_or("?").to_owned())
        .collect())
}

#[test]
fn every_fixture_fails_exactly_the_checks_of_its_defect() {
    let expected: BTreeMap<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json"),
    )
    .expect("valid JSON");
    let queue = Mutex::new(expected.iter().collect::<Vec<_>>());
    let mismatches = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let Some((fixture, entry)) = queue.lock().expect("queue").pop() else {
                        return;
                    };
                    let part = entry["part"].as_str().expect("a part");
                    let want: BTreeSet<String> = entry["fails"]
                        .as_array()
                        .expect("a list of checks")
                        .iter()
                        .map(|name| name.as_str().expect("a check name").to_owned())
                        .collect();
                    for name in &want {
                        assert!(
                            grader::catalog::find(name).is_some(),
                            "{fixture}: {name} is not a check"
                        );
                    }
                    let got = failed_checks(fixture, part);
                    if got.as_ref() != Ok(&want) {
                        mismatches.lock().expect("mismatches").push(match got {
                            Ok(got) => format!(
                                "{fixture}: failed {got:?}\n    expected {want:?}\n    \
                                 unexpected failures {:?}, missing failures {:?}",
                                got.difference(&want).collect::<Vec<_>>(),
                                want.difference(&got).collect::<Vec<_>>()
                            ),
                            Err(why) => format!("{fixture}: {why}"),
                        });
                    }
                }
            });
        }
    });
    let mismatches = mismatches.into_inner().expect("mismatches");
    assert!(
        mismatches.is_empty(),
        "{} of {} fixtures graded differently than expected.json says:\n{}",
        mismatches.len(),
        expected.len(),
        mismatches.join("\n")
    );
}
