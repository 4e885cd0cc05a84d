//! `select-client`: lab 1's client behaviour, waiting in `select`. (Lab 1's
//! client tests run against it too: `CHAT_CLIENT_EXE=target/debug/select-client
//! cargo test --test chat client::`.)

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

use harness::procfs::eventually;
use harness::rules::UnderTest;
use harness::{Context, Failure, Inbox, Outcome};

use crate::procs::{Room, run, select_client_exe};

/// A running `select-client`, its standard input a pipe.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Inbox,
}

impl Client {
    fn start(c: &Context, port: u16) -> Result<Client, Failure> {
        c.step(format!("start select-client 127.0.0.1 {port}"));
        let mut child = Command::new(select_client_exe())
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Failure::new(format!("could not start select-client: {err}")))?;
        let stdout = c.watch("the client's stdout", child.stdout.take().expect("piped"));
        c.watch("the client's stderr", child.stderr.take().expect("piped"));
        Ok(Client {
            stdin: child.stdin.take(),
            child,
            stdout,
        })
    }

    fn type_in(&mut self, c: &Context, line: &str) -> Outcome {
        c.step(format!("type {line:?} into the client"));
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(line.as_bytes())
            .map_err(|err| Failure::new(format!("write to the client's stdin: {err}")))
    }

    fn expect_exit_0(&mut self, until: Instant) -> Outcome {
        let mut status = None;
        eventually(until, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        harness::process::expect_exit_status("the client", status, 0)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn it_waits_in_select_never_epoll_and_chats_like_lab_1s_client() {
    run(|c| {
        let room = Room::start(c, &[])?;
        let mut peer = c.peer(room.port())?;
        let mut client = Client::start(c, room.port())?;
        let joined = peer.next_line()?;
        let client_tag = String::from_utf8_lossy(&joined)
            .strip_suffix(" (connected)")
            .map(str::to_owned)
            .ok_or_else(|| Failure::new("the peer did not see the client connect"))?;
        let pid = client.child.id();
        harness::room::waits_in_select(c, pid)?;
        peer.send("hello, select\n")?;
        client
            .stdout
            .expect_chat_line(format!("{} hello, select", peer.tag).as_bytes(), c.until())?;
        client.type_in(c, "from the terminal\r\n")?;
        peer.expect_line(format!("{client_tag} from the terminal"))?;
        client.type_in(c, "exit\nnot sent\n")?;
        client.expect_exit_0(c.until())?;
        peer.expect_line(format!("{client_tag} (disconnected)"))
    });
}

#[test]
fn it_says_when_the_server_closes_and_exits_0() {
    run(|c| {
        let mut room = Room::start(c, &[])?;
        let peer = c.peer(room.port())?;
        let mut client = Client::start(c, room.port())?;
        peer.next_line()?;
        c.step("send SIGTERM to the room");
        room.signal(libc::SIGTERM);
        let status = room.wait_exit(c.until());
        harness::process::expect_exit_status("the room", status, 0)?;
        client
            .stdout
            .expect_line(b"[SERVER] Connection closed.", c.until())?;
        client.expect_exit_0(c.until())
    });
}

#[test]
fn a_socket_past_fd_setsize_is_refused_not_set() {
    run(|c| {
        let room = Room::start(c, &[])?;
        c.step(
            "start select-client with descriptors 3 to 1023 taken, so its socket is 1024 or more",
        );
        let mut command = Command::new(select_client_exe());
        command
            .args(["127.0.0.1", &room.port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure runs in the child between fork and exec, and
        // only calls getrlimit, setrlimit and dup2, which are
        // async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
                limit.rlim_cur = limit.rlim_max.min(4096);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                for fd in 3..libc::FD_SETSIZE as libc::c_int {
                    libc::dup2(2, fd);
                }
                Ok(())
            });
        }
        let output = command
            .output()
            .map_err(|err| Failure::new(format!("run select-client: {err}")))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(1) || !stderr.contains("FD_SETSIZE") {
            return Err(Failure {
                summary: "select-client with a socket past FD_SETSIZE did not refuse it".into(),
                expected: Some("exit status 1 and a message naming FD_SETSIZE".into()),
                seen: Some(format!("{}: {stderr}", output.status)),
                ..Failure::default()
            });
        }
        Ok(())
    });
}
