//! The grader against implementations whose defects are known
//! (`tests/fixtures/`, Python): the correct server and client score full
//! marks, and every broken one fails exactly the checks `expected.json`
//! names for it, and passes every other check of its part. A fixture that
//! fails a whole part says so, `"fails": "every server check"` (with the
//! checks it passes all the same in `"except"`), so that a new check needs
//! no edit there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::thread;

use grader::catalog::{CHECKS, find};

use crate::util::{self, Run};

fn fixtures() -> PathBuf {
    util::kit().join("grader/tests/fixtures")
}

/// How many graders run at once: each runs several checks at once too.
const PARALLEL: usize = 3;

/// Grades one fixture; returns the names of the checks that failed, each
/// with its failure's text (what the report says about it).
fn failed_checks(fixture: &str, part: &str) -> Result<BTreeMap<String, String>, String> {
    let run = Run::new(
        util::grader()
            .arg(format!("--{part}"))
            .arg(fixtures().join(fixture))
            .args(["--format", "json"]),
    );
    let report: serde_json::Value = serde_json::from_slice(&run.output.stdout)
        .map_err(|err| format!("not a JSON report ({err}): {}", run.explain()))?;
    let tests = report["tests"].as_array().ok_or("no tests in the report")?;
    Ok(tests
        .iter()
        .filter(|test| test["status"] != "passed")
        .map(|test| {
            (
                test["name"].as_str().unwrap_or("?").to_owned(),
                test["output"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect())
}

/// The names of the checks of `part`.
fn checks_of(part: &str) -> BTreeSet<String> {
    CHECKS
        .iter()
        .filter(|check| check.part.to_string() == part)
        .map(|check| check.name.to_owned())
        .collect()
}

/// The names of a list of checks of `part` in an entry of `expected.json`.
fn names(fixture: &str, part: &str, list: &serde_json::Value) -> Result<BTreeSet<String>, String> {
    let list = list
        .as_array()
        .ok_or(format!("{fixture}: not a list of checks: {list}"))?;
    let mut names = BTreeSet::new();
    for name in list {
        let name = name
            .as_str()
            .ok_or(format!("{fixture}: not a check name: {name}"))?;
        let check = find(name).ok_or(format!("{fixture}: {name} is not a check"))?;
        if check.part.to_string() != part {
            return Err(format!(
                "{fixture}: {name} is not a check of its part, {part}"
            ));
        }
        names.insert(name.to_owned());
    }
    Ok(names)
}

/// The checks a fixture must fail, from its entry in `expected.json`:
/// `"fails"` lists them, or says `"every PART check"` (its part's: all of
/// them, today's and those added later), less the checks of `"except"`.
fn expected_failures(fixture: &str, entry: &serde_json::Value) -> Result<BTreeSet<String>, String> {
    let part = entry["part"]
        .as_str()
        .ok_or(format!("{fixture}: no part"))?;
    let all = checks_of(part);
    if all.is_empty() {
        return Err(format!("{fixture}: {part} is not a part"));
    }
    let fails = &entry["fails"];
    if let Some(whole) = fails.as_str() {
        if whole != format!("every {part} check") {
            return Err(format!(
                "{fixture}: \"fails\" is a list of checks, or \"every {part} check\": {whole:?}"
            ));
        }
        let except = match entry.get("except") {
            Some(list) => names(fixture, part, list)?,
            None => BTreeSet::new(),
        };
        return Ok(all.difference(&except).cloned().collect());
    }
    if entry.get("except").is_some() {
        return Err(format!(
            "{fixture}: \"except\" goes with \"fails\": \"every {part} check\""
        ));
    }
    let listed = names(fixture, part, fails)?;
    if !listed.is_empty() && listed == all {
        return Err(format!(
            "{fixture}: it lists every {part} check: write \"fails\": \"every {part} check\", \
             so that a new check needs no edit here"
        ));
    }
    Ok(listed)
}

#[test]
fn expectations_are_read_as_written() {
    let server = checks_of("server");
    let whole = serde_json::json!({"part": "server", "fails": "every server check"});
    assert_eq!(expected_failures("a", &whole), Ok(server.clone()));
    let but = serde_json::json!({
        "part": "server", "fails": "every server check", "except": ["server/ready"]
    });
    let mut all_but_ready = server.clone();
    all_but_ready.remove("server/ready");
    assert_eq!(expected_failures("a", &but), Ok(all_but_ready));
    let listed = serde_json::json!({"part": "client", "fails": ["client/pipe"]});
    assert_eq!(
        expected_failures("a", &listed),
        Ok(BTreeSet::from([String::from("client/pipe")]))
    );
    let every: Vec<String> = server.iter().cloned().collect();
    for wrong in [
        serde_json::json!({"part": "server", "fails": "every client check"}),
        serde_json::json!({"part": "server", "fails": ["client/pipe"]}),
        serde_json::json!({"part": "server", "fails": ["server/nope"]}),
        serde_json::json!({"part": "server", "fails": [], "except": []}),
        serde_json::json!({"part": "server", "fails": every}),
    ] {
        assert!(expected_failures("a", &wrong).is_err(), "{wrong}");
    }
}

#[test]
fn every_entry_of_expected_json_is_well_formed() {
    let expected: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&util::read(&fixtures().join("expected.json"))).expect("valid JSON");
    for (fixture, entry) in &expected {
        assert!(
            fixtures().join(fixture).exists(),
            "{fixture}: no such fixture"
        );
        if let Err(why) = expected_failures(fixture, entry) {
            panic!("{why}");
        }
    }
}

/// What differs between the checks `fixture` should fail and those it
/// failed, with the report's text for each unexpected failure: a mismatch
/// seen once on a loaded CI machine must explain itself.
fn mismatch(
    fixture: &str,
    want: &BTreeSet<String>,
    failed: &BTreeMap<String, String>,
) -> Option<String> {
    let got: BTreeSet<String> = failed.keys().cloned().collect();
    if &got == want {
        return None;
    }
    let mut text = format!(
        "{fixture}: failed {got:?}\n    expected {want:?}\n    \
         unexpected failures {:?}, missing failures {:?}",
        got.difference(want).collect::<Vec<_>>(),
        want.difference(&got).collect::<Vec<_>>()
    );
    for name in got.difference(want) {
        text += &format!("\n  {name}, as the report says:\n");
        for line in failed[name].lines() {
            text += &format!("    | {line}\n");
        }
    }
    Some(text)
}

#[test]
fn every_fixture_fails_exactly_the_checks_of_its_defect() {
    let _heavy = util::one_heavy_test_at_a_time();
    let expected: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&util::read(&fixtures().join("expected.json"))).expect("valid JSON");
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
                    let want = match expected_failures(fixture, entry) {
                        Ok(want) => want,
                        Err(why) => panic!("{why}"),
                    };
                    let mismatch = match failed_checks(fixture, part) {
                        Ok(failed) => mismatch(fixture, &want, &failed),
                        Err(why) => Some(format!("{fixture}: {why}")),
                    };
                    if let Some(mismatch) = mismatch {
                        mismatches.lock().expect("mismatches").push(mismatch);
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
