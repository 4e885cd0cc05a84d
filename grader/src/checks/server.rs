//! The server checks (protocol.md, "Server"): the submission's server
//! against raw TCP peers, and reference clients on terminals.
//!
//! Most checks run one of the protocol's rules from [`harness::rules`],
//! which the lab's own tests run too, against the submission's server; the
//! rest need what only the grader has (the reference client, the exit
//! status of a contained process).

use harness::Failure;
use harness::rules;
use harness::show::show;

use crate::context::{CheckContext, Outcome};
use crate::pty::Terminal;
use crate::sandbox::Limits;

/// Runs `rule` against the submission's server, started with the run's
/// limits.
fn against_server(
    s: &CheckContext,
    rule: fn(&harness::Context, &dyn rules::UnderTest) -> Outcome,
) -> Outcome {
    let server = s.server()?;
    rule(s.harness(), &server)
}

pub fn ready(s: &CheckContext) -> Outcome {
    // The line is printed once the server listens: a client can connect at
    // once, without retrying. (Serving it is what the other checks test.)
    let server = s.server()?;
    s.peer(server.port)?;
    Ok(())
}

pub fn join(s: &CheckContext) -> Outcome {
    against_server(s, rules::join)
}

pub fn broadcast(s: &CheckContext) -> Outcome {
    against_server(s, rules::broadcast)
}

pub fn tag(s: &CheckContext) -> Outcome {
    against_server(s, rules::tag)
}

pub fn empty_and_cr(s: &CheckContext) -> Outcome {
    against_server(s, rules::empty_and_cr)
}

pub fn leave(s: &CheckContext) -> Outcome {
    against_server(s, rules::leave)
}

pub fn split(s: &CheckContext) -> Outcome {
    against_server(s, rules::split)
}

pub fn merged(s: &CheckContext) -> Outcome {
    against_server(s, rules::merged)
}

pub fn long_line(s: &CheckContext) -> Outcome {
    against_server(s, rules::long_line)
}

pub fn partial_leave(s: &CheckContext) -> Outcome {
    against_server(s, rules::partial_leave)
}

pub fn reset(s: &CheckContext) -> Outcome {
    against_server(s, rules::reset)
}

pub fn fifty(s: &CheckContext) -> Outcome {
    against_server(s, rules::fifty)
}

pub fn burst(s: &CheckContext) -> Outcome {
    against_server(s, rules::burst)
}

pub fn slow_reader(s: &CheckContext) -> Outcome {
    against_server(s, rules::slow_reader)
}

pub fn epollout_off(s: &CheckContext) -> Outcome {
    against_server(s, rules::epollout_off)
}

pub fn slow_consumer(s: &CheckContext) -> Outcome {
    against_server(s, rules::slow_consumer)
}

pub fn one_thread(s: &CheckContext) -> Outcome {
    against_server(s, rules::one_thread)
}

pub fn idle_cpu(s: &CheckContext) -> Outcome {
    against_server(s, rules::idle_cpu)
}

pub fn emfile(s: &CheckContext) -> Outcome {
    let limits = Limits {
        open_files: rules::EMFILE_LIMIT,
        ..s.config().limits
    };
    s.step(format!(
        "start the server with a limit of {} open descriptors",
        rules::EMFILE_LIMIT
    ));
    let server = s.server_with(limits)?;
    rules::emfile(s.harness(), &server)
}

pub fn fd_leak(s: &CheckContext) -> Outcome {
    against_server(s, rules::fd_leak)
}

pub fn sigterm(s: &CheckContext) -> Outcome {
    let mut server = s.server()?;
    let peers = s.peers(server.port, 2)?;
    s.step("send SIGTERM to the server");
    server.process.signal(libc::SIGTERM);
    let status = server.process.wait_exit(s.until());
    harness::process::expect_exit_status("the server", status, 0)?;
    for peer in &peers {
        peer.expect_closed()?;
    }
    Ok(())
}

pub fn end_to_end(s: &CheckContext) -> Outcome {
    let server = s.server()?;
    chat_on_terminals(s, server.port)
}

/// Three reference clients on terminals chat through the server on `port`,
/// watched by a raw peer.
pub fn chat_on_terminals(s: &CheckContext, port: u16) -> Outcome {
    let observer = s.peer(port)?;
    let mut clients = Vec::new();
    let mut tags = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let args = vec![
            "reference-client".to_owned(),
            "127.0.0.1".to_owned(),
            port.to_string(),
        ];
        clients.push(Terminal::start(
            s,
            &s.config().reference,
            &args,
            name,
            Limits::SUBMISSION,
        )?);
        let line = observer.next_line()?;
        let tag = String::from_utf8_lossy(&line)
            .strip_suffix(" (connected)")
            .map(str::to_owned)
            .ok_or_else(|| Failure {
                summary: format!("the observer did not see {name} connect"),
                expected: Some("[TAG] (connected)".into()),
                seen: Some(show(&line)),
                ..Failure::default()
            })?;
        for earlier in &clients[..clients.len() - 1] {
            earlier.expect_chat_line(&format!("{tag} (connected)"))?;
        }
        tags.push(tag);
    }
    // One line at a time: the order in which two senders' lines reach a
    // third is not fixed by the protocol.
    for (from, text) in [(0, "hi, bob and carol"), (1, "hi, alice")] {
        clients[from].type_line(text)?;
        for (i, client) in clients.iter().enumerate() {
            if i != from {
                client.expect_chat_line(&format!("{} {text}", tags[from]))?;
            }
        }
    }
    clients[2].type_line("exit")?;
    clients[2].expect_exit(0)?;
    clients[0].expect_chat_line(&format!("{} (disconnected)", tags[2]))?;
    clients[1].expect_chat_line(&format!("{} (disconnected)", tags[2]))
}
