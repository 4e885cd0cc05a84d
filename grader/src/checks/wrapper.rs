//! The wrapper part: the grader's own copy of the wrapper tests (the ones
//! students get in `tests/w_epoll.rs`), built against the submission's crate
//! and run once; each wrapper check then looks at the tests it covers.
//!
//! The grader's copy is used, not the submission's: editing the shipped
//! tests cannot change the grade.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::model::Failure;
use crate::sandbox::Limits;
use crate::tool::{self, run_tool};

/// The wrapper tests, as shipped with the solution.
pub const TESTS: &str = include_str!("../../../solution/tests/w_epoll.rs");

/// What one test did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    /// Failed, with what the test printed (its panic message).
    Failed(String),
}

/// Every test's outcome, by test name.
pub type Outcomes = HashMap<String, TestOutcome>;

/// Builds the tests against the crate in `crate_dir` (into `target_dir`)
/// and runs them. An `Err` means they could not run at all: the crate does
/// not build, or the run did not finish by `until`.
pub fn run(crate_dir: &Path, target_dir: &Path, until: Instant) -> Result<Outcomes, Failure> {
    let harness = target_dir.join("grader-wrapper-tests");
    write_harness(crate_dir, &harness).map_err(|err| {
        Failure::new(format!(
            "could not set up the wrapper tests in {}: {err}",
            harness.display()
        ))
    })?;
    let mut command = Command::new(tool::cargo());
    command
        .arg("test")
        .arg("--manifest-path")
        .arg(harness.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .args(["--test", "w_epoll", "--", "--test-threads=2"])
        .env("CARGO_TERM_COLOR", "never")
        .env("RUST_BACKTRACE", "0");
    let output = run_tool(
        command,
        "cargo test (the wrapper tests)",
        Limits::BUILD,
        until,
    )?;
    let outcomes = parse(&output.stdout);
    if outcomes.is_empty() {
        return Err(Failure {
            summary: "the wrapper tests did not run: the crate does not build with them".into(),
            seen: Some(tool::tail(&output.stderr, 60)),
            ..Failure::default()
        });
    }
    Ok(outcomes)
}

/// A tiny crate whose only test file is the grader's copy of the wrapper
/// tests, depending on the submission's crate by path.
fn write_harness(crate_dir: &Path, harness: &Path) -> std::io::Result<()> {
    let crate_dir = crate_dir.canonicalize()?;
    fs::create_dir_all(harness.join("tests"))?;
    fs::create_dir_all(harness.join("src"))?;
    let manifest = format!(
        r#"# Written by the grader: its copy of the wrapper tests, run against
# the submission's crate.
[package]
name = "grader-wrapper-tests"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
chat = {{ path = {path} }}
libc = "0.2"

[workspace]
"#,
        path = toml_string(&crate_dir.to_string_lossy()),
    );
    fs::write(harness.join("Cargo.toml"), manifest)?;
    fs::write(harness.join("src/lib.rs"), "")?;
    fs::write(harness.join("tests/w_epoll.rs"), TESTS)?;
    // The submission's lock file, if any, so that the same versions are used.
    let lock = crate_dir.join("Cargo.lock");
    if lock.exists() {
        fs::copy(lock, harness.join("Cargo.lock"))?;
    }
    Ok(())
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads the outcomes from libtest's output: `test NAME ... ok` or
/// `... FAILED` lines, and the `---- NAME stdout ----` sections.
pub fn parse(output: &str) -> Outcomes {
    let mut outcomes = Outcomes::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some(name) = rest.strip_suffix(" ... ok") {
            outcomes.insert(name.to_owned(), TestOutcome::Passed);
        } else if let Some(name) = rest.strip_suffix(" ... FAILED") {
            outcomes.insert(name.to_owned(), TestOutcome::Failed(String::new()));
        }
    }
    // The failure sections: from `---- NAME stdout ----` to the next
    // section or the `failures:` list.
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in output.lines().chain(std::iter::once("failures:")) {
        let header = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"));
        if (header.is_some() || line == "failures:")
            && let Some((name, text)) = current.take()
            && let Some(TestOutcome::Failed(message)) = outcomes.get_mut(&name)
        {
            *message = text.join("\n").trim().to_owned();
        }
        match header {
            Some(name) => current = Some((name.to_owned(), Vec::new())),
            None => {
                if let Some((_, text)) = current.as_mut() {
                    text.push(line);
                }
            }
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_failure_messages_are_read_from_libtest_output() {
        let output = "\
running 3 tests
test add_works ... ok
test del_works ... FAILED
test update_works ... FAILED

failures:

---- del_works stdout ----

thread 'del_works' panicked at tests/w_epoll.rs:10:5:
not yet implemented: TODO 2

---- update_works stdout ----
assertion failed: left == right

failures:
    del_works
    update_works

test result: FAILED. 1 passed; 2 failed
";
        let outcomes = parse(output);
        assert_eq!(outcomes["add_works"], TestOutcome::Passed);
        assert_eq!(
            outcomes["del_works"],
            TestOutcome::Failed("thread 'del_works' panicked at tests/w_epoll.rs:10:5:\nnot yet implemented: TODO 2".into())
        );
        assert_eq!(
            outcomes["update_works"],
            TestOutcome::Failed("assertion failed: left == right".into())
        );
        assert_eq!(outcomes.len(), 3);
    }

    #[test]
    fn a_path_with_quotes_is_a_valid_toml_string() {
        assert_eq!(toml_string(r#"/a "b" \c"#), r#""/a \"b\" \\c""#);
    }
}
