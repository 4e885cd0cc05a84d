//! Running a build tool (cargo) for the grader: contained like a
//! submission's process (its build scripts and tests are the submission's
//! code), with a deadline, its output collected.

use std::ffi::OsString;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::model::Failure;
use crate::sandbox::{Contained, Limits};
use harness::Inbox;

/// What a tool printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The cargo to run: the grading user's, when there is one; else the one
/// that runs us (`CARGO`), or `cargo` on the path.
pub fn cargo() -> OsString {
    if let Some(run_as) = crate::sandbox::run_as() {
        return run_as.cargo.clone().into();
    }
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs `command` to its end, contained, giving up (and killing it) at
/// `until`. `what` names it in messages.
pub fn run_tool(
    mut command: Command,
    what: &str,
    limits: Limits,
    until: Instant,
) -> Result<Output, Failure> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = Contained::spawn(&mut command, limits)
        .map_err(|err| Failure::new(format!("could not run {what}: {err}")))?;
    let child = process.child_mut();
    let stdout = Inbox::spawn(
        format!("{what}'s stdout"),
        child.stdout.take().expect("piped"),
    );
    let stderr = Inbox::spawn(
        format!("{what}'s stderr"),
        child.stderr.take().expect("piped"),
    );
    let status = process
        .wait_exit(until)
        .ok_or_else(|| Failure::new(format!("{what} did not finish in time")))?;
    let collect = |stream: &Inbox| -> Result<String, Failure> {
        let bytes = stream.wait_end(until)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    Ok(Output {
        status,
        stdout: collect(&stdout)?,
        stderr: collect(&stderr)?,
    })
}

/// The last `lines` lines of `text`, saying how many were left out.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    if all.len() <= lines {
        return text.trim_end().to_owned();
    }
    format!(
        "[... {} lines not shown ...]\n{}",
        all.len() - lines,
        all[all.len() - lines..].join("\n")
    )
}
