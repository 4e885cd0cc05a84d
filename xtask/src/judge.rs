//! Each mutant's verdict, from cargo-mutants' outcome, the oracle's line in
//! the mutant's log, and the reviewed equivalents.
//!
//! The grader is the judge, not cargo-mutants: a mutant is caught when the
//! oracle test (grader/tests/integration/mutant_oracle.rs) failed and its log names the
//! checks that failed (`caught by: ...`). A failure without that line (the
//! grader could not grade, `no verdict: ...`) proves nothing, and neither
//! does a timeout: cargo-mutants stopped the grading before the grader
//! judged, so a timeout counts as caught only if the log still holds a
//! verdict. Everything that is neither caught, nor unviable (it does not
//! compile), nor a reviewed equivalent is a problem that fails the run.

use std::cmp::Ordering;

use crate::equivalents::Equivalent;
use crate::outcomes::{Mutant, Outcomes, Phase, Scenario, ScenarioOutcome, Summary};

/// The line the oracle prints when the grader failed some checks.
const CAUGHT_BY: &str = "caught by: ";
/// The line the oracle prints when the grader gave no report.
const NO_VERDICT: &str = "no verdict: ";

/// What to do about a missed mutant, said once wherever problems are shown.
pub const MISSED_HINT: &str = "A missed mutant gets full marks from the grader: add a check that fails on it, or, if no observable behaviour changes, write why in grader/mutants-equivalent.toml.";

/// What the oracle's log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogVerdict {
    /// The checks that failed.
    CaughtBy(Vec<String>),
    /// Why the grader gave no verdict.
    Unjudged(String),
    /// Neither line.
    Silent,
}

/// Reads the oracle's verdict in a scenario's log: its last `caught by:` or
/// `no verdict:` line. Only lines that start with it count, so that the
/// mutant's diff at the top of the log (every line of which starts with
/// `+`, `-`, `@` or a space) can never be taken for it.
pub fn log_verdict(log: &str) -> LogVerdict {
    let mut verdict = LogVerdict::Silent;
    for line in log.lines() {
        let line = line.trim_end();
        if let Some(names) = line.strip_prefix(CAUGHT_BY) {
            verdict = LogVerdict::CaughtBy(
                names
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        } else if let Some(why) = line.strip_prefix(NO_VERDICT) {
            verdict = LogVerdict::Unjudged(why.to_owned());
        }
    }
    verdict
}

/// A mutant's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The grader failed these checks.
    Caught(Vec<String>),
    /// Missed, and reviewed: no observable behaviour changes.
    Equivalent(String),
    /// Missed, without a reason: a check is missing.
    Missed,
    /// It does not compile.
    Unviable,
    /// cargo-mutants stopped the grading before the grader judged.
    Timeout,
    /// The oracle failed without judging, for this reason.
    Unjudged(String),
}

/// One mutant and its verdict.
#[derive(Debug, Clone)]
pub struct Judged {
    pub mutant: Mutant,
    pub verdict: Verdict,
    /// Seconds spent building and grading it.
    pub seconds: f64,
}

/// The unmutated tree's run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub passed: bool,
    pub build_seconds: f64,
    pub test_seconds: f64,
}

/// Every verdict, and every problem that fails the run.
#[derive(Debug)]
pub struct Judgement {
    pub baseline: Option<Baseline>,
    /// In the order of the source: file, line, column.
    pub mutants: Vec<Judged>,
    /// One line each.
    pub problems: Vec<String>,
}

/// Judges every scenario of `outcomes`; `log` returns the text of a
/// scenario's log, given its path relative to the output folder.
pub fn judge(
    outcomes: &Outcomes,
    log: &dyn Fn(&str) -> Result<String, String>,
    equivalents: &[Equivalent],
) -> Judgement {
    let mut judgement = Judgement {
        baseline: None,
        mutants: Vec::new(),
        problems: Vec::new(),
    };
    for outcome in &outcomes.outcomes {
        match &outcome.scenario {
            Scenario::Baseline => {
                let passed = outcome.summary == Summary::Success;
                if !passed {
                    judgement.problems.push(format!(
                        "the baseline (the unmutated solution) did not score full marks: see {}",
                        outcome.log_path
                    ));
                }
                judgement.baseline = Some(Baseline {
                    passed,
                    build_seconds: outcome.seconds_in(Phase::Build),
                    test_seconds: outcome.seconds_in(Phase::Test),
                });
            }
            Scenario::Mutant(mutant) => {
                let verdict = verdict_of(outcome, mutant, log, equivalents);
                judgement.mutants.push(Judged {
                    mutant: mutant.clone(),
                    verdict,
                    seconds: outcome.seconds(),
                });
            }
        }
    }
    if judgement.baseline.is_none() {
        judgement
            .problems
            .push("no baseline: the unmutated solution was never graded".to_owned());
    }
    judgement.mutants.sort_by(by_location);
    for judged in &judgement.mutants {
        let problem = match &judged.verdict {
            Verdict::Missed => "missed".to_owned(),
            Verdict::Timeout => "timeout: stopped before the grader judged".to_owned(),
            Verdict::Unjudged(why) => format!("no verdict: {why}"),
            _ => continue,
        };
        judgement
            .problems
            .push(format!("{}: {problem}", judged.mutant.name));
    }
    check_equivalents(&judgement.mutants, equivalents, &mut judgement.problems);
    judgement
}

fn by_location(a: &Judged, b: &Judged) -> Ordering {
    let key = |judged: &Judged| {
        let start = judged.mutant.span.start;
        (judged.mutant.file.clone(), start.line, start.column)
    };
    key(a)
        .cmp(&key(b))
        .then_with(|| a.mutant.name.cmp(&b.mutant.name))
}

fn verdict_of(
    outcome: &ScenarioOutcome,
    mutant: &Mutant,
    log: &dyn Fn(&str) -> Result<String, String>,
    equivalents: &[Equivalent],
) -> Verdict {
    let from_log = || match log(&outcome.log_path) {
        Ok(text) => log_verdict(&text),
        Err(err) => LogVerdict::Unjudged(format!("cannot read {}: {err}", outcome.log_path)),
    };
    match outcome.summary {
        Summary::Unviable => Verdict::Unviable,
        Summary::CaughtMutant => match from_log() {
            LogVerdict::CaughtBy(checks) => Verdict::Caught(checks),
            LogVerdict::Unjudged(why) => Verdict::Unjudged(why),
            LogVerdict::Silent => Verdict::Unjudged(format!(
                "the oracle failed without naming a check: see {}",
                outcome.log_path
            )),
        },
        Summary::Timeout => match from_log() {
            LogVerdict::CaughtBy(checks) => Verdict::Caught(checks),
            _ => Verdict::Timeout,
        },
        Summary::MissedMutant => {
            let at = (mutant.span.start.line, mutant.span.start.column);
            match equivalents
                .iter()
                .find(|entry| entry.names(&mutant.file, at, mutant.mutation()))
            {
                Some(entry) => Verdict::Equivalent(entry.reason.clone()),
                None => Verdict::Missed,
            }
        }
        Summary::Success | Summary::Failure => Verdict::Unjudged(format!(
            "cargo-mutants recorded {:?}, which is no mutant's outcome: see {}",
            outcome.summary, outcome.log_path
        )),
    }
}

/// An entry of the reviewed list must name exactly one mutant, and one the
/// grader missed: otherwise it is out of date, and says something false.
fn check_equivalents(mutants: &[Judged], equivalents: &[Equivalent], problems: &mut Vec<String>) {
    for entry in equivalents {
        let named: Vec<&Judged> = mutants
            .iter()
            .filter(|judged| {
                let mutant = &judged.mutant;
                let at = (mutant.span.start.line, mutant.span.start.column);
                entry.names(&mutant.file, at, mutant.mutation())
            })
            .collect();
        let label = entry.label();
        match named.as_slice() {
            [] => problems.push(format!(
                "{label}: listed as equivalent, but no mutant of this run has that name (out of date? remove it, or correct it)"
            )),
            [judged] => match &judged.verdict {
                Verdict::Equivalent(_) => {}
                Verdict::Caught(checks) => problems.push(format!(
                    "{label}: listed as equivalent, but the grader caught it ({}): remove the entry",
                    checks.join(", ")
                )),
                other => problems.push(format!(
                    "{label}: listed as equivalent, but its outcome is {other:?}: remove the entry"
                )),
            },
            several => problems.push(format!(
                "{label}: names {} mutants (at {}): give its `line`, and its `column` if they share a line",
                several.len(),
                several
                    .iter()
                    .map(|judged| {
                        let start = &judged.mutant.span.start;
                        format!("{}:{}", start.line, start.column)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::outcomes::{self, tests::SAMPLE};

    #[test]
    fn the_last_verdict_line_of_a_log_counts() {
        let log = "\
*** mutation diff:
--- solution/src/server.rs
+caught by: not a verdict, a line of the diff
*** /usr/bin/cargo test --package=grader --test=integration -- --ignored --exact mutant_oracle::the_solution_scores_full_marks

thread 'mutant_oracle::the_solution_scores_full_marks' panicked at grader/tests/integration/mutant_oracle.rs:95:5:

caught by: server/join, server/leave
the solution scored 90 of 100:
";
        assert_eq!(
            log_verdict(log),
            LogVerdict::CaughtBy(vec!["server/join".into(), "server/leave".into()])
        );
        assert_eq!(
            log_verdict("no verdict: GRADER_ORACLE_EXE is not set.\n"),
            LogVerdict::Unjudged("GRADER_ORACLE_EXE is not set.".into())
        );
        assert_eq!(log_verdict("test result: ok.\n"), LogVerdict::Silent);
    }

    fn logs(entries: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, String> {
        let map: BTreeMap<String, String> = entries
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect();
        move |path: &str| {
            map.get(path)
                .cloned()
                .ok_or_else(|| "no such log".to_owned())
        }
    }

    const CAUGHT_LOG: (&str, &str) = (
        "log/solution__src__server.rs_line_385_col_27.log",
        "caught by: server/leave\n",
    );

    #[test]
    fn caught_and_missed_from_the_sample() {
        let outcomes = outcomes::parse(SAMPLE).expect("the sample parses");
        let judgement = judge(&outcomes, &logs(&[CAUGHT_LOG]), &[]);
        assert_eq!(
            judgement.baseline,
            Some(Baseline {
                passed: true,
                build_seconds: 95.5,
                test_seconds: 30.25
            })
        );
        let verdicts: Vec<(&str, &Verdict)> = judgement
            .mutants
            .iter()
            .map(|judged| (judged.mutant.file.as_str(), &judged.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                (
                    "solution/src/server.rs",
                    &Verdict::Caught(vec!["server/leave".into()])
                ),
                ("solution/src/w_epoll.rs", &Verdict::Missed),
            ]
        );
        assert_eq!(
            judgement.problems,
            [
                "solution/src/w_epoll.rs:45:5: replace w_epoll_add_fd_in -> c_int with Default::default(): missed"
            ]
        );
    }

    fn entry(file: &str, mutation: &str, line: Option<usize>) -> Equivalent {
        Equivalent {
            file: file.into(),
            mutation: mutation.into(),
            line,
            column: None,
            reason: "no observable change".into(),
        }
    }

    #[test]
    fn a_reviewed_equivalent_is_no_problem() {
        let outcomes = outcomes::parse(SAMPLE).expect("the sample parses");
        let equivalents = [entry(
            "solution/src/w_epoll.rs",
            "replace w_epoll_add_fd_in -> c_int with Default::default()",
            None,
        )];
        let judgement = judge(&outcomes, &logs(&[CAUGHT_LOG]), &equivalents);
        assert_eq!(
            judgement.mutants[1].verdict,
            Verdict::Equivalent("no observable change".into())
        );
        assert_eq!(judgement.problems, Vec::<String>::new());
    }

    #[test]
    fn an_entry_that_names_no_missed_mutant_is_out_of_date() {
        let outcomes = outcomes::parse(SAMPLE).expect("the sample parses");
        let equivalents = [
            entry(
                "solution/src/server.rs",
                "replace || with && in Clients::broadcast",
                Some(385),
            ),
            entry("solution/src/server.rs", "replace + with - in gone", None),
        ];
        let judgement = judge(&outcomes, &logs(&[CAUGHT_LOG]), &equivalents);
        assert_eq!(
            judgement.problems[1..],
            [
                "solution/src/server.rs:385: replace || with && in Clients::broadcast: listed as equivalent, but the grader caught it (server/leave): remove the entry",
                "solution/src/server.rs: replace + with - in gone: listed as equivalent, but no mutant of this run has that name (out of date? remove it, or correct it)",
            ]
        );
    }

    #[test]
    fn a_failure_without_a_verdict_and_a_timeout_are_not_caught() {
        let text = SAMPLE
            .replacen(
                "\"Success\",\n      \"log_path\"",
                "\"Failure\",\n      \"log_path\"",
                1,
            )
            .replace("\"MissedMutant\"", "\"Timeout\"");
        let outcomes = outcomes::parse(&text).expect("the edited sample parses");
        let judgement = judge(
            &outcomes,
            &logs(&[(CAUGHT_LOG.0, "error: could not compile `chat`\n")]),
            &[],
        );
        assert_eq!(
            judgement.mutants[0].verdict,
            Verdict::Unjudged(
                "the oracle failed without naming a check: see log/solution__src__server.rs_line_385_col_27.log".into()
            )
        );
        assert_eq!(judgement.mutants[1].verdict, Verdict::Timeout);
        assert_eq!(judgement.problems.len(), 3, "{:?}", judgement.problems);
        assert!(
            judgement.problems[0]
                .starts_with("the baseline (the unmutated solution) did not score full marks"),
            "{:?}",
            judgement.problems
        );
    }

    #[test]
    fn a_timeout_whose_log_holds_the_verdict_is_caught() {
        let text = SAMPLE.replace("\"MissedMutant\"", "\"Timeout\"");
        let outcomes = outcomes::parse(&text).expect("the edited sample parses");
        let judgement = judge(
            &outcomes,
            &logs(&[
                CAUGHT_LOG,
                (
                    "log/solution__src__w_epoll.rs_line_45_col_5.log",
                    "caught by: wrapper/add\n",
                ),
            ]),
            &[],
        );
        assert_eq!(
            judgement.mutants[1].verdict,
            Verdict::Caught(vec!["wrapper/add".into()])
        );
    }
}
