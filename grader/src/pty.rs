//! A client on a pseudo-terminal, as a person would run it: the grader types
//! lines and reads the screen.
//!
//! The grader opens the terminal itself (`posix_openpt`) and starts the
//! program through std's `Command`, with the terminal's other side as its
//! standard streams and as its controlling terminal (a new session). That
//! gives the program's pid (for the `/proc` checks), its exit status, and
//! the same containment as every other process. The lab's own tests of the
//! client on a terminal use `rexpect`; the grader keeps its own code because
//! rexpect 0.7 keeps the child's pid crate-private (`PtyProcess::child_pid`
//! is `pub(crate)`, with no getter), calls `fork()` itself and runs Rust
//! code in the child up to `exec` although the program it forks is
//! multi-threaded (the grader is, and rexpect starts a reading thread per
//! terminal), and waits for the screen by polling, sleeping 100 ms between
//! looks, where a check wakes as soon as bytes arrive.
//!
//! Before the program starts, the terminal's echo is turned off (else what
//! is typed would show up on the screen, mixed with what the client prints)
//! and so is its output processing (so the screen shows the bytes the client
//! wrote: `\n` is not turned into `\r\n`). Input stays in canonical mode, as
//! for a person typing: the client reads one line at a time, and Ctrl-D ends
//! the input.
//!
//! A [`Inbox`] reads the screen and wakes a waiting check as soon as bytes
//! arrive; a [`Feeder`] types, with a deadline.

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::model::Failure;
use crate::sandbox::{Contained, Group, Limits};
use harness::process::Feeder;
use harness::rules::client::ClientUnderTest;

use crate::context::{CheckContext, Outcome};
use harness::{Inbox, show};

#[derive(Debug)]
pub struct Terminal<'s> {
    session: &'s CheckContext,
    name: String,
    process: Contained,
    keyboard: Feeder,
    /// Whether what was typed so far ends with a newline: where Ctrl-D
    /// ends the input.
    at_line_start: bool,
    /// What the program wrote to its terminal.
    pub screen: Inbox,
}

impl<'s> Terminal<'s> {
    /// Starts `program args...` on a new terminal, contained with `limits`.
    pub fn start(
        session: &'s CheckContext,
        program: &Path,
        args: &[String],
        name: &str,
        limits: Limits,
    ) -> Result<Terminal<'s>, Failure> {
        let shown = format!("{} {}", program.display(), args.join(" "));
        let fail = |err: io::Error| {
            session.fail(format!(
                "could not start {name} ({shown}) on a terminal: {err}"
            ))
        };
        let (master, slave) = open_terminal().map_err(fail)?;
        let mut command = Command::new(program);
        crate::launch::submission_env(&mut command);
        command
            .args(args)
            .stdin(Stdio::from(slave.try_clone().map_err(fail)?))
            .stdout(Stdio::from(slave.try_clone().map_err(fail)?))
            .stderr(Stdio::from(slave));
        // SAFETY: runs in the child between fork and exec, and only makes
        // async-signal-safe system calls (setsid, ioctl).
        unsafe {
            command.pre_exec(|| {
                // A new session, with the terminal (now its stdin) as the
                // controlling terminal: Ctrl-D and line editing as for a
                // person at a terminal.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut process =
            Contained::spawn_as(&mut command, limits, Group::CheckContextLeader).map_err(fail)?;
        crate::launch::audit_process(session, &mut process, command.get_program(), name)?;
        let keyboard = Feeder::spawn(master.try_clone().map_err(fail)?);
        let screen = session.watch(format!("{name}'s terminal"), master);
        session.step(format!("start {name} on a terminal: {shown}"));
        Ok(Terminal {
            session,
            name: name.to_owned(),
            process,
            keyboard,
            at_line_start: true,
            screen,
        })
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) -> Outcome {
        self.type_in(format!("{line}\n").as_bytes())
    }

    /// Waits for the next chat line on the screen (banners and prompts
    /// skipped) and checks it is `line`.
    pub fn expect_chat_line(&self, line: &str) -> Outcome {
        self.screen
            .expect_chat_line(line.as_bytes(), self.session.until())
    }

    /// Waits for the program to exit and checks it exited with status
    /// `code`.
    pub fn expect_exit(&mut self, code: i32) -> Outcome {
        let status = self.process.wait_exit(self.session.until());
        harness::process::expect_exit_status(&self.name, status, code)
    }
}

/// The client's rules ([`harness::rules::client`]) type on the terminal
/// and read its screen.
impl ClientUnderTest for Terminal<'_> {
    fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn input(&self) -> String {
        format!("{}'s terminal", self.name)
    }

    fn type_in(&mut self, bytes: &[u8]) -> Outcome {
        self.session
            .step(format!("type into {}: {}", self.name, show(bytes)));
        self.type_quietly(bytes)
    }

    fn type_quietly(&mut self, bytes: &[u8]) -> Outcome {
        self.keyboard
            .write(bytes, self.session.until())
            .map_err(|err| {
                self.session
                    .fail(format!("typing into {} failed: {err}", self.name))
            })?;
        if let Some(&last) = bytes.last() {
            self.at_line_start = last == b'\n';
        }
        Ok(())
    }

    /// Ctrl-D at the start of a line is the end of input; after an
    /// unfinished line, the first one hands that line over.
    fn end_input(&mut self) -> Outcome {
        if self.at_line_start {
            self.session.step(format!("press Ctrl-D in {}", self.name));
            self.type_quietly(&[CTRL_D])
        } else {
            self.session.step(format!(
                "press Ctrl-D twice in {} (the first hands over the unfinished line)",
                self.name
            ));
            self.type_quietly(&[CTRL_D])?;
            self.type_quietly(&[CTRL_D])
        }
    }

    fn output(&self) -> &Inbox {
        &self.screen
    }

    fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        self.process.wait_exit(until)
    }
}

/// What Ctrl-D types: the terminal's end-of-file character (VEOF).
const CTRL_D: u8 = 4;

/// Opens a new pseudo-terminal with echo and output processing off; returns
/// its master side and its other side (for the program).
fn open_terminal() -> io::Result<(File, File)> {
    // SAFETY: posix_openpt takes flags only.
    let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let master = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `master` is a terminal master; `name` is a writable buffer of
    // the size passed.
    let ok = unsafe {
        libc::grantpt(fd) == 0
            && libc::unlockpt(fd) == 0
            && libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) == 0
    };
    if !ok {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_str()
        .map_err(io::Error::other)?
        .to_owned();
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    no_echo_raw_output(&slave)?;
    Ok((master, slave))
}

/// Turns off echo and output processing on a terminal.
fn no_echo_raw_output(terminal: &File) -> io::Result<()> {
    let fd = terminal.as_raw_fd();
    // SAFETY: an all-zero termios is a valid value for tcgetattr to fill.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open terminal; `settings` is writable.
    if unsafe { libc::tcgetattr(fd, &mut settings) } != 0 {
        return Err(io::Error::last_os_error());
    }
    settings.c_lflag &= !(libc::ECHO | libc::ECHONL);
    settings.c_oflag &= !libc::OPOST;
    // SAFETY: `settings` is a valid termios obtained from tcgetattr.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &settings) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
