//! Runs the selected checks: the wrapper tests once, then the live checks on
//! a few worker threads at a time (they mostly wait on sockets, and each
//! has its own deadline), reporting each result as soon as every check
//! before it in the table has one.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::catalog::{Check, Run};
use crate::checks::wrapper::{self, Outcomes, TestOutcome};
use crate::context::{CheckContext, Config};
use crate::model::{CheckResult, Failure, Figures};

/// What to run.
#[derive(Debug)]
pub struct Plan {
    pub config: Arc<Config>,
    /// In the order of the check table.
    pub checks: Vec<&'static Check>,
    /// When the submission does not build: every check fails with this.
    pub build_failure: Option<Failure>,
    /// The submission's crate and its target directory, for the wrapper
    /// tests.
    pub wrapper_crate: Option<(PathBuf, PathBuf)>,
    /// How many live checks run at once.
    pub jobs: usize,
}

/// How long the wrapper tests may take to build and run.
const WRAPPER_TIME: Duration = Duration::from_secs(600);

/// Runs the plan; `progress` sees each result, in table order.
pub fn run(plan: &Plan, progress: &(dyn Fn(&CheckResult) + Sync)) -> Vec<CheckResult> {
    let ordered = Ordered::new(plan.checks.len(), progress);
    if let Some(failure) = &plan.build_failure {
        for (index, check) in plan.checks.iter().enumerate() {
            ordered.done(index, result(check, Some(failure.clone()), Duration::ZERO));
        }
        return ordered.into_results();
    }

    let wrapper_outcomes = plan
        .checks
        .iter()
        .any(|check| matches!(check.run, Run::WrapperTests(_)))
        .then(|| run_wrapper_tests(plan));
    // The wrapper tests are the submission's code too: whatever they left
    // running is stopped before the live checks.
    crate::sandbox::kill_strays();
    let next = AtomicUsize::new(0);
    let workers = plan.jobs.clamp(1, plan.checks.len().max(1));
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(check) = plan.checks.get(index) else {
                        return;
                    };
                    let started = Instant::now();
                    let (failure, figures) = match check.run {
                        Run::WrapperTests(tests) => (
                            wrapper_failure(tests, wrapper_outcomes.as_ref().expect("run above")),
                            Figures::new(),
                        ),
                        Run::Live(function) => live_failure(check, function, &plan.config),
                    };
                    let mut result = result(check, failure, started.elapsed());
                    result.figures = figures;
                    ordered.done(index, result);
                }
            });
        }
    });
    ordered.into_results()
}

fn run_wrapper_tests(plan: &Plan) -> Result<Outcomes, Failure> {
    match &plan.wrapper_crate {
        Some((crate_dir, target_dir)) => {
            wrapper::run(crate_dir, target_dir, Instant::now() + WRAPPER_TIME)
        }
        None => Err(Failure::new(
            "the wrapper is graded only for a crate (--dir)",
        )),
    }
}

/// `None` when every test of a wrapper check passed.
fn wrapper_failure(tests: &[&str], outcomes: &Result<Outcomes, Failure>) -> Option<Failure> {
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(failure) => return Some(failure.clone()),
    };
    let mut failed = Vec::new();
    let mut messages = Vec::new();
    for &test in tests {
        match outcomes.get(test) {
            Some(TestOutcome::Passed) => {}
            Some(TestOutcome::Failed(message)) => {
                failed.push(test);
                messages.push(format!("{test}:\n{message}"));
            }
            None => {
                failed.push(test);
                messages.push(format!("{test}: did not run"));
            }
        }
    }
    if failed.is_empty() {
        return None;
    }
    Some(Failure {
        summary: format!("wrapper test failed: {}", failed.join(", ")),
        seen: Some(messages.join("\n\n")),
        steps: vec![format!(
            "build the grader's copy of tests/w_epoll.rs against the crate, and run {}",
            tests.join(", ")
        )],
        ..Failure::default()
    })
}

/// Runs one live check, catching a panic of the grader's own; returns how it
/// failed (`None` when it passed) and what it measured.
fn live_failure(
    check: &Check,
    function: fn(&CheckContext) -> crate::context::Outcome,
    config: &Arc<Config>,
) -> (Option<Failure>, Figures) {
    let context = CheckContext::new(Arc::clone(config));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| function(&context)));
    let failure = judge(check, &context, outcome);
    (failure, context.take_figures())
}

/// The failure, completed with steps and transcripts, of a check that
/// ended with `outcome`.
fn judge(
    check: &Check,
    session: &CheckContext,
    outcome: thread::Result<crate::context::Outcome>,
) -> Option<Failure> {
    // The check's processes are gone now: if one of them ran something
    // else than the submission's executable, nothing it did counts.
    if let Some(failure) = session.exe_mismatch() {
        return Some(session.finish(failure));
    }
    match outcome {
        Ok(Ok(())) => None,
        Ok(Err(failure)) => Some(session.finish(failure)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Some(session.finish(Failure::new(format!(
                "the grader itself failed in {} (please report this): {message}",
                check.name
            ))))
        }
    }
}

fn result(check: &Check, failure: Option<Failure>, duration: Duration) -> CheckResult {
    CheckResult {
        name: check.name.to_owned(),
        part: check.part,
        description: check.description.to_owned(),
        hint: check.hint.to_owned(),
        max_points: check.points,
        failure,
        duration,
        figures: Figures::new(),
    }
}

/// Results as they come, handed to `progress` in table order.
struct Ordered<'p> {
    state: Mutex<(usize, Vec<Option<CheckResult>>)>,
    progress: &'p (dyn Fn(&CheckResult) + Sync),
}

impl<'p> Ordered<'p> {
    fn new(count: usize, progress: &'p (dyn Fn(&CheckResult) + Sync)) -> Self {
        Ordered {
            state: Mutex::new((0, vec![None; count])),
            progress,
        }
    }

    fn done(&self, index: usize, result: CheckResult) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (next, results) = &mut *state;
        results[index] = Some(result);
        while let Some(Some(ready)) = results.get(*next) {
            (self.progress)(ready);
            *next += 1;
        }
    }

    fn into_results(self) -> Vec<CheckResult> {
        let (_, results) = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        results.into_iter().flatten().collect()
    }
}
