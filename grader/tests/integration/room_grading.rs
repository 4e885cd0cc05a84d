//! `grader --lab room`: the self-check (the solution scores 100, the
//! generated skeleton 0, every check failing on evidence rather than a
//! deadline) and the fixtures of `tests/fixtures_room/` (a Python room and
//! select-client, and variants that each lose exactly their check).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

use grader::catalog::ROOM_CHECKS;
use grader::model::Part;

use crate::util;

fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
        .to_path_buf()
}

fn explain(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `grader --lab room ARGS --format json`; the output and its report.
fn grade(args: &[&str], target_dir: Option<&Path>) -> (Output, serde_json::Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grader"));
    command
        .args(["--lab", "room"])
        .args(args)
        .args(["--format", "json"]);
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let output = command.output().expect("run the grader");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, report)
}

#[test]
fn the_solution_scores_100_in_lab_2() {
    let _quiet = quiet();
    let started = Instant::now();
    let solution = kit_root().join("solution");
    let (output, report) = grade(&["--dir", solution.to_str().expect("UTF-8")], None);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(report["max_score"], 100, "{report}");
    assert_eq!(report["score"], 100, "{report}");
    eprintln!(
        "lab 2: the solution was graded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_fresh_skeleton_scores_0_in_lab_2_and_every_check_fails_without_waiting() {
    let _quiet = quiet();
    let root = kit_root();
    let skeleton =
        std::env::temp_dir().join(format!("grader-room-self-check-{}", std::process::id()));
    let generated = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--package", "skeleton", "--", "--out"])
        .arg(&skeleton)
        .current_dir(&root)
        .output()
        .expect("run the skeleton generator");
    assert!(generated.status.success(), "{}", explain(&generated));
    // Built in a target folder of its own, kept between runs.
    let target = root.join("target").join("room-self-check");
    let (output, report) = grade(&["--dir", skeleton.to_str().expect("UTF-8")], Some(&target));
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    assert_eq!(report["score"], 0, "{report}");
    assert_eq!(report["max_score"], 100, "{report}");
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), ROOM_CHECKS.len(), "{report}");
    for test in tests {
        let name = test["name"].as_str().unwrap_or("?");
        assert_eq!(test["status"], "failed", "{name} passed on the skeleton");
        // One step's deadline is 5 s: a check that took that long waited for
        // something instead of seeing the skeleton fail.
        let seconds = test["extra_data"]["seconds"].as_f64().expect("seconds");
        assert!(
            seconds < 4.5,
            "{name} took {seconds} s to fail on the skeleton"
        );
    }
    std::fs::remove_dir_all(&skeleton).expect("remove the generated skeleton");
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_room")
}

/// The mechanism checks a room fixture is graded on: lab 2's own, which a
/// room correct for the mechanisms alone (no flow control) passes. Each
/// must be lost alone by some fixture
/// ([`each_room_mechanism_check_has_a_fixture_that_loses_it`]).
const ROOM_MECHANISMS: &[&str] = &[
    "room/helpers",
    "room/descriptors",
    "room/reap",
    "room/self-pipe",
    "room/shared-memory",
    "room/idle",
    "room/sigterm",
    "room/slow-reader",
    "room/full-ring",
    "room/emfile",
];

/// The room's other checks: lab 1's server rules run against the room,
/// which lab 1's fixtures (`tests/fixtures/`) break one by one.
const LAB_1_RULES: &[&str] = &[
    "room/ready",
    "room/join",
    "room/broadcast",
    "room/tag",
    "room/empty-and-cr",
    "room/leave",
    "room/split",
    "room/merged",
    "room/long-line",
    "room/partial-leave",
    "room/reset",
    "room/fifty",
    "room/burst",
    "room/slow-consumer",
    "room/idle-cpu",
    "room/fd-leak",
    "room/e2e",
];

/// Issue 13: each mechanism has a broken fixture that loses exactly its
/// check. Every room check of the catalog is a lab-1 rule or a mechanism
/// (so a new check must be placed, and a new mechanism must get a
/// fixture), and `expected.json` names, for each mechanism, a room that
/// fails it. Reads the table only: the gradings that prove it are
/// [`each_broken_room_or_select_client_loses_exactly_its_check`].
#[test]
fn each_room_mechanism_check_has_a_fixture_that_loses_it() {
    let room_checks: BTreeSet<&str> = ROOM_CHECKS
        .iter()
        .filter(|check| check.part == Part::Room)
        .map(|check| check.name)
        .collect();
    let placed: BTreeSet<&str> = ROOM_MECHANISMS.iter().chain(LAB_1_RULES).copied().collect();
    assert_eq!(
        placed.len(),
        ROOM_MECHANISMS.len() + LAB_1_RULES.len(),
        "a check is both a mechanism and a lab-1 rule"
    );
    assert_eq!(
        room_checks, placed,
        "the room checks of the catalog, and those placed here (ROOM_MECHANISMS, LAB_1_RULES)"
    );
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("expected.json is JSON");
    // Lost alone: a fixture whose defect is that mechanism and nothing
    // else the grader sees.
    let lost_alone: BTreeSet<&str> = expected
        .values()
        .filter(|entry| entry["kind"] == "room")
        .filter_map(|entry| entry["fails"].as_array())
        .filter(|fails| fails.len() == 1)
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .collect();
    let missing: Vec<&str> = ROOM_MECHANISMS
        .iter()
        .copied()
        .filter(|check| !lost_alone.contains(check))
        .collect();
    assert!(
        missing.is_empty(),
        "no room fixture in expected.json loses {missing:?} alone"
    );
}

/// How many graders run at once: one. The idle check's margin (0.5 s) is
/// for a machine that is not overloaded, and a Python room's helpers start
/// slowly on a busy one.
const PARALLEL: usize = 1;

/// Held by each test of this file for its whole run: its gradings have
/// timing checks (the idle notice's margin, the CPU of a room out of
/// descriptors), so they run alone, never beside another test's gradings.
fn quiet() -> std::sync::MutexGuard<'static, ()> {
    util::one_heavy_test_at_a_time()
}

/// Grades one fixture; the checks it failed, each with what the report says
/// of it, or why it was not graded.
fn failed_checks(fixture: &str, kind: &str) -> Result<BTreeMap<String, String>, String> {
    let path = fixtures().join(fixture);
    let path = path.to_str().expect("UTF-8").to_owned();
    let mut args: Vec<String> = Vec::new();
    match kind {
        "room" => {
            // One check at a time: a Python helper starts slowly beside
            // the other checks' helpers, and the idle check's room gives
            // A's helper 1 s to pass on A's first line.
            args.extend([
                "--server".to_owned(),
                path,
                "--jobs".to_owned(),
                "1".to_owned(),
            ]);
            for check in ROOM_MECHANISMS {
                args.extend(["--check".to_owned(), (*check).to_owned()]);
            }
        }
        "select-client" => args.extend(["--client".to_owned(), path]),
        other => return Err(format!("{fixture}: no kind {other}")),
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (output, report) = grade(&args, None);
    if report.is_null() {
        return Err(format!("{fixture}: not graded\n{}", explain(&output)));
    }
    let graded = report["tests"].as_array().map_or(0, Vec::len);
    let expected = match kind {
        "room" => ROOM_MECHANISMS.len(),
        _ => ROOM_CHECKS
            .iter()
            .filter(|check| check.part == Part::SelectClient)
            .count(),
    };
    if graded != expected {
        return Err(format!(
            "{fixture}: {graded} checks graded, not {expected}\n{report}"
        ));
    }
    Ok(report["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|test| test["status"] != "passed")
        .map(|test| {
            (
                test["name"].as_str().unwrap_or("?").to_owned(),
                test["output"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect())
}

#[test]
fn each_broken_room_or_select_client_loses_exactly_its_check() {
    let _quiet = quiet();
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("expected.json is JSON");
    let work: Mutex<Vec<(String, serde_json::Value)>> = Mutex::new(expected.into_iter().collect());
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let Some((fixture, entry)) = work.lock().expect("lock").pop() else {
                        return;
                    };
                    let kind = entry["kind"].as_str().unwrap_or("?");
                    let wanted: BTreeSet<String> = entry["fails"]
                        .as_array()
                        .expect("a list of checks")
                        .iter()
                        .map(|name| name.as_str().expect("a name").to_owned())
                        .collect();
                    for name in &wanted {
                        assert!(
                            grader::catalog::Lab::of_check(name)
                                == Some(grader::catalog::Lab::Room),
                            "{fixture}: {name} is not a check of lab 2"
                        );
                    }
                    match failed_checks(&fixture, kind) {
                        Ok(failed) => {
                            let got: BTreeSet<String> = failed.keys().cloned().collect();
                            if got == wanted {
                                continue;
                            }
                            // A mismatch seen once on a loaded machine must
                            // explain itself: what the report says of each
                            // check failed against expectation.
                            let mut text = format!(
                                "{fixture}: failed {got:?}, expected {wanted:?} ({})",
                                entry["why"]
                            );
                            for name in got.difference(&wanted) {
                                text += &format!("\n  {name}, as the report says:");
                                for line in failed[name].lines() {
                                    text += &format!("\n    | {line}");
                                }
                            }
                            problems.lock().expect("lock").push(text);
                        }
                        Err(why) => problems.lock().expect("lock").push(why),
                    }
                }
            });
        }
    });
    let problems = problems.into_inner().expect("lock");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
