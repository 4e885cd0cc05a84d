//! The self-check an instructor relies on: the reference solution scores
//! full marks, and the skeleton students start from scores zero, each check
//! failing on evidence (the process died at its TODO) rather than by waiting
//! for a deadline.

use std::path::Path;

use crate::util::{self, Run};

/// Grades the crate in `dir` with `args`, building it in `target_dir` if
/// one is given; one grading at a time.
fn grade(args: &[&str], dir: &Path, target_dir: Option<&Path>) -> Run {
    let mut command = util::grader();
    command.arg("--dir").arg(dir).args(args);
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let _heavy = util::one_heavy_test_at_a_time();
    Run::new(&mut command)
}

#[test]
fn the_solution_scores_full_marks() {
    let run = grade(&["--format", "json"], &util::kit().join("solution"), None).assert_success();
    let report = run.json();
    assert_eq!(report["max_score"], 100, "{report}");
    assert_eq!(report["score"], 100, "{report}");
    eprintln!("the solution was graded in {:.1} s", run.seconds);
}

#[test]
fn a_fresh_skeleton_scores_zero_and_every_check_fails_without_waiting() {
    // Built in a target folder of its own, kept between runs.
    let target = util::scratch("self-check");
    let run = grade(&["--format", "junit"], util::skeleton(), Some(&target)).assert_code(1);
    let junit = run.stdout();
    assert!(
        junit.starts_with("<?xml"),
        "junit, not JSON: {}",
        run.explain()
    );

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
    eprintln!("the skeleton was graded in {:.1} s", run.seconds);
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
