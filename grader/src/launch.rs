//! Starting the programs a check runs, contained ([`crate::sandbox`]): the
//! submission's server (its port from its readiness line), programs on
//! pipes, and the audit that each runs the executable built from the
//! submission.

use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use harness::process::{self, Feeder};
use harness::rules::UnderTest;
use harness::rules::client::ClientUnderTest;
use harness::show::show;
use harness::{Failure, Inbox};

use crate::context::{CheckContext, Outcome, lock};
use crate::sandbox::{self, Audit, Contained, FileId, Limits};

/// Prepares the environment of a submission's process. A Rust panic names
/// its file, line and TODO; a backtrace on top (if the grader's user set
/// RUST_BACKTRACE) would bury that in the transcript and cost a debug
/// binary a tenth of a second of CPU to print.
pub fn submission_env(command: &mut Command) {
    command.env("RUST_BACKTRACE", "0");
}

/// The executables built from the submission, by path, with the file
/// each path named when it was built. A process started from one of these
/// paths must run that very file: a submission whose server or client
/// execs something else (the reference built into the grader, a script of
/// the kit) fails the check.
static BUILT: Mutex<Vec<(PathBuf, FileId)>> = Mutex::new(Vec::new());

/// Records `exe` as built from the submission, as it is now.
pub fn expect_built(exe: &std::path::Path) -> io::Result<()> {
    let id = FileId::of(exe)?;
    lock(&BUILT).push((exe.to_path_buf(), id));
    Ok(())
}

/// The file `program` named when it was built, if it was built from the
/// submission.
fn built(program: &std::ffi::OsStr) -> Option<FileId> {
    lock(&BUILT)
        .iter()
        .find(|(path, _)| path.as_os_str() == program)
        .map(|(_, id)| *id)
}

/// Checks that the process `pid` runs the executable built from the
/// submission at `path` (a room's helper, say); `Err` says what it runs
/// instead. A path not built from the submission is not checked.
pub(crate) fn check_built(pid: u32, path: &std::path::Path) -> Result<(), String> {
    match built(path.as_os_str()) {
        Some(expected) => sandbox::check_exe(pid, expected, path),
        None => Ok(()),
    }
}

/// Checks that `process`, started as `program`, runs the executable built
/// from the submission (if `program` is one), and has it checked again
/// when it is dropped.
pub(crate) fn audit_process(
    check: &CheckContext,
    process: &mut Contained,
    program: &std::ffi::OsStr,
    name: &str,
) -> Outcome {
    let Some(expected) = built(program) else {
        return Ok(());
    };
    if let Err(instead) = sandbox::check_exe(process.pid(), expected, std::path::Path::new(program))
    {
        return Err(Failure {
            summary: format!(
                "{name} is not the executable built from the submission: it runs {instead}"
            ),
            expected: Some(format!(
                "{} to run",
                std::path::Path::new(program).display()
            )),
            seen: Some(format!("/proc/{}/exe is {instead}", process.pid())),
            ..Failure::default()
        });
    }
    process.audit_on_drop(Audit {
        expected,
        name: name.to_owned(),
        started_as: PathBuf::from(program),
        found: Arc::clone(&check.exe_mismatches),
    });
    Ok(())
}

impl CheckContext {
    /// Starts the submission's server on port 0 and waits for its readiness
    /// line.
    pub fn server(&self) -> Result<Server, Failure> {
        self.server_with(self.config().limits)
    }

    /// [`CheckContext::server`] with other limits (fewer descriptors, say).
    pub fn server_with(&self, limits: Limits) -> Result<Server, Failure> {
        let exe = self
            .config()
            .server
            .clone()
            .ok_or_else(|| self.fail("no server to test"))?;
        let mut command = Command::new(&exe);
        command.arg("0");
        submission_env(&mut command);
        Server::start(self, command, "the server", limits)
    }

    /// Starts the reference server (built into the grader) on port 0.
    pub fn reference_server(&self) -> Result<Server, Failure> {
        let mut command = Command::new(&self.config().reference);
        command.args(["reference-server", "0"]);
        Server::start(self, command, "the reference server", Limits::SUBMISSION)
    }

    /// Starts a program with pipes for its standard streams, contained.
    pub fn piped(&self, command: Command, name: &str) -> Result<Piped<'_>, Failure> {
        self.piped_with_input(command, name, Stdio::piped())
    }

    /// Like [`CheckContext::piped`], with `input` as its standard input (a
    /// regular file, say); then nothing can be written to it.
    pub fn piped_with_input(
        &self,
        mut command: Command,
        name: &str,
        input: Stdio,
    ) -> Result<Piped<'_>, Failure> {
        submission_env(&mut command);
        command
            .stdin(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = Contained::spawn(&mut command, self.config().limits)
            .map_err(|err| self.fail(format!("could not start {name} ({command:?}): {err}")))?;
        audit_process(self, &mut process, command.get_program(), name)?;
        let child = process.child_mut();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = child.stderr.take().expect("stderr was piped");
        Ok(Piped {
            check: self,
            name: name.to_owned(),
            input: stdin.map(Feeder::spawn),
            stdout: self.watch(format!("{name}'s stdout"), stdout),
            stderr: self.watch(format!("{name}'s stderr"), stderr),
            process,
        })
    }
}
/// A server process, its port known from its readiness line.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    pub process: Contained,
    pub stdout: Inbox,
    pub stderr: Inbox,
}

impl Server {
    /// Starts `command` as a server (`name` in messages) and waits for its
    /// readiness line.
    pub(crate) fn start(
        check: &CheckContext,
        mut command: Command,
        name: &str,
        limits: Limits,
    ) -> Result<Server, Failure> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!("{command:?}").replace('"', "");
        let mut process = Contained::spawn(&mut command, limits)
            .map_err(|err| check.fail(format!("could not start {name} ({shown}): {err}")))?;
        let child = process.child_mut();
        let stdout = check.watch(
            format!("{name}'s stdout"),
            child.stdout.take().expect("piped"),
        );
        let stderr = check.watch(
            format!("{name}'s stderr"),
            child.stderr.take().expect("piped"),
        );
        stderr.transcript_only();
        check.step(format!("start {name}: {shown}"));
        let port = process::ready_port(name, &stdout, check.until())?;
        check.step(format!("{name} says it listens on port {port}"));
        // Ready: it must be the submission's own executable, and still be
        // when the check ends.
        audit_process(check, &mut process, command.get_program(), name)?;
        // What it prints from now on is free-form logging.
        stdout.transcript_only();
        Ok(Server {
            port,
            process,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

impl UnderTest for Server {
    fn port(&self) -> u16 {
        self.port
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// A program whose standard streams are pipes.
#[derive(Debug)]
pub struct Piped<'s> {
    check: &'s CheckContext,
    name: String,
    pub process: Contained,
    input: Option<Feeder>,
    pub stdout: Inbox,
    pub stderr: Inbox,
}

/// The client's rules ([`harness::rules::client`]) write to its standard
/// input and read its standard output.
impl ClientUnderTest for Piped<'_> {
    fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn input(&self) -> String {
        format!("{}'s stdin", self.name)
    }

    fn type_in(&mut self, bytes: &[u8]) -> Outcome {
        self.check
            .step(format!("write to {}'s stdin: {}", self.name, show(bytes)));
        self.type_quietly(bytes)
    }

    fn type_quietly(&mut self, bytes: &[u8]) -> Outcome {
        let written = match &self.input {
            Some(input) => input.write(bytes, self.check.until()),
            None => Err(io::Error::other("standard input is closed")),
        };
        written.map_err(|err| {
            self.check
                .fail(format!("writing to {}'s stdin failed: {err}", self.name))
        })
    }

    /// Closes its standard input: the end of input.
    fn end_input(&mut self) -> Outcome {
        self.check.step(format!("close {}'s stdin", self.name));
        self.input = None;
        Ok(())
    }

    fn output(&self) -> &Inbox {
        &self.stdout
    }

    fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        self.process.wait_exit(until)
    }
}
