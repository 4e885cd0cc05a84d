//! What the lab's tests and the grader share about the programs under
//! test: the server's readiness line, feeding a program's input without
//! blocking past a deadline, and the exit status a program must end with.
//! Starting and containing the processes is each side's own (the grader
//! sandboxes them; the lab's tests do not).

use std::io::{self, ErrorKind, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use crate::failure::{Failure, Outcome};
use crate::inbox::Inbox;
use crate::show::show;

/// How the server's readiness line begins; the port follows.
pub const READY_PREFIX: &str = "listening on 0.0.0.0:";

/// Waits for the readiness line of a server started on port 0 (`name` in
/// messages) on its `stdout`, and returns the port it gives.
pub fn ready_port(name: &str, stdout: &Inbox, until: Instant) -> Result<u16, Failure> {
    let line = stdout.next_line(until).map_err(|failure| {
        failure.after(format!(
            "{name} did not print its readiness line `{READY_PREFIX}PORT`"
        ))
    })?;
    String::from_utf8_lossy(&line)
        .strip_prefix(READY_PREFIX)
        .and_then(|port| port.parse::<u16>().ok())
        .filter(|&port| port != 0)
        .ok_or_else(|| Failure {
            summary: format!("{name}'s first line is not its readiness line"),
            expected: Some(format!(
                "\"{READY_PREFIX}PORT\", PORT the port it listens on"
            )),
            seen: Some(show(&line)),
            ..Failure::default()
        })
}

/// A writer on a thread of its own, so that writing to a program that does
/// not read (a full pipe or terminal buffer) never blocks a test beyond its
/// deadline.
#[derive(Debug)]
pub struct Feeder {
    chunks: mpsc::Sender<Vec<u8>>,
    done: mpsc::Receiver<io::Result<()>>,
}

impl Feeder {
    pub fn spawn(mut sink: impl Write + Send + 'static) -> Feeder {
        let (chunks, incoming) = mpsc::channel::<Vec<u8>>();
        let (report, done) = mpsc::channel();
        thread::spawn(move || {
            for chunk in incoming {
                let result = sink.write_all(&chunk).and_then(|()| sink.flush());
                if report.send(result).is_err() {
                    return;
                }
            }
        });
        Feeder { chunks, done }
    }

    /// Writes `bytes`; fails if that takes past `until`.
    pub fn write(&self, bytes: &[u8], until: Instant) -> io::Result<()> {
        self.chunks
            .send(bytes.to_vec())
            .map_err(|_| io::Error::other("the writer stopped"))?;
        let left = until.saturating_duration_since(Instant::now());
        match self.done.recv_timeout(left) {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                ErrorKind::TimedOut,
                "the program did not read its input in time",
            )),
        }
    }
}

/// Sends `signal` to the child `pid` (not its group).
pub fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill takes no pointers. The caller's child is not reaped yet
    // (its owner reaps it), so the pid is still its.
    unsafe { libc::kill(pid, signal) };
}

/// Stops the child `pid` (SIGSTOP) and returns once it is stopped, or has
/// exited: then whatever peers send waits in its sockets, all of it ready
/// at once when it goes on (SIGCONT, [`resume`]).
pub fn stop(pid: u32) -> io::Result<()> {
    signal(pid, libc::SIGSTOP);
    // WNOWAIT leaves the state to be collected later (the exit status stays
    // for `wait`); a process that cannot be stopped has exited, which
    // WEXITED reports, so the wait is bounded.
    wait_id(pid, libc::WSTOPPED | libc::WEXITED | libc::WNOWAIT).map(drop)
}

/// Lets a child stopped by [`stop`] go on.
pub fn resume(pid: u32) {
    signal(pid, libc::SIGCONT);
}

/// How the child `pid` ended, if it has, without reaping it: its owner
/// still collects the status.
pub fn peek_exit(pid: u32) -> Option<String> {
    let info = wait_id(pid, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT).ok()?;
    // SAFETY: waitid filled `info` for a child that changed state; si_pid
    // is 0 when none did (WNOHANG).
    let (child, status) = unsafe { (info.si_pid(), info.si_status()) };
    if child == 0 {
        return None;
    }
    Some(match info.si_code {
        libc::CLD_EXITED => format!("exit status {status}"),
        _ => format!("killed by signal {status}"),
    })
}

/// `waitid(P_PID, pid, ..., flags)`, retried when a signal interrupts it.
fn wait_id(pid: u32, flags: libc::c_int) -> io::Result<libc::siginfo_t> {
    loop {
        // SAFETY: siginfo_t is plain data, for which all zeros is valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid siginfo_t that lives across the call.
        if unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) } == 0 {
            return Ok(info);
        }
        let err = io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// How a process ended, in words: "exit status 1", "killed by signal 9".
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// Checks that a program exited with status `code`; `status` is what
/// waiting for it found (`None`: still running at the deadline).
pub fn expect_exit_status(name: &str, status: Option<ExitStatus>, code: i32) -> Outcome {
    let seen = match status {
        Some(status) if status.code() == Some(code) => return Ok(()),
        Some(status) => describe_status(status),
        None => "still running at the deadline".to_owned(),
    };
    Err(Failure {
        summary: format!("{name} did not exit with status {code}"),
        expected: Some(format!("exit status {code}")),
        seen: Some(seen),
        ..Failure::default()
    })
}

/// Makes `command` start its program with at most `limit` open
/// descriptors (RLIMIT_NOFILE, soft and hard), as the checks of a program
/// out of descriptors need.
pub fn limit_descriptors(command: &mut Command, limit: u64) {
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls setrlimit, which is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn the_port_comes_from_the_readiness_line() {
        let stdout = Inbox::spawn("out", Cursor::new(b"listening on 0.0.0.0:4242\n".to_vec()));
        assert_eq!(ready_port("the server", &stdout, soon()), Ok(4242));
        let wrong = Inbox::spawn("out", Cursor::new(b"listening on 0.0.0.0:0\n".to_vec()));
        let failure = ready_port("the server", &wrong, soon()).expect_err("port 0");
        assert_eq!(
            failure.summary,
            "the server's first line is not its readiness line"
        );
    }

    #[test]
    fn an_exit_status_is_described_in_words() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(1 << 8)),
            "exit status 1"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(9)),
            "killed by signal 9"
        );
        assert!(expect_exit_status("the client", Some(ExitStatus::from_raw(0)), 0).is_ok());
        let failure = expect_exit_status("the client", None, 0).expect_err("running");
        assert_eq!(
            failure.seen.as_deref(),
            Some("still running at the deadline")
        );
    }
}
