//! The fixed parts of the chat protocol (`lab-docs/protocol.md`): defaults,
//! limits, and how the server writes its messages.

use std::net::SocketAddr;

/// The port the server listens on, and the client connects to, by default.
pub const DEFAULT_PORT: u16 = 5000;

/// The host the client connects to by default.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The most bytes of one unfinished line the server holds for a client. A
/// longer line is forwarded in pieces of this size.
pub const MAX_LINE: usize = 4096;

/// The most bytes the server queues for a client that does not read. Past
/// this, the client is disconnected, so one stuck reader cannot make the
/// server's memory grow without end.
pub const OUTBOX_LIMIT: usize = 1024 * 1024;

/// The text of the notice the others get when a client connects.
pub const CONNECTED: &[u8] = b"(connected)";

/// The text of the notice the others get when a client leaves.
pub const DISCONNECTED: &[u8] = b"(disconnected)";

/// What the client prints, on a line of its own, when the server closes the
/// connection.
pub const SERVER_CLOSED: &str = "[SERVER] Connection closed.";

/// What the room sends a user it disconnects for sending no line for
/// `secs` seconds (lab 2), on a line of its own (without its `\n`).
pub fn idle_notice(secs: u32) -> String {
    format!("[SERVER] Disconnected: idle for {secs} s.")
}

/// A client's name in the chat: its address as the server sees it, in
/// brackets, for example `[127.0.0.1:40312]`.
pub fn tag(peer: SocketAddr) -> String {
    format!("[{peer}]")
}

/// Appends one message as the server sends it, `[TAG] TEXT\n`, to `out`.
pub fn push_message(out: &mut Vec<u8>, tag: &str, text: &[u8]) {
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// The server's readiness line (without its `\n`): printed once it listens.
pub fn readiness_line(port: u16) -> String {
    format!("listening on 0.0.0.0:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_tag_space_text_newline() {
        let mut out = Vec::new();
        push_message(&mut out, "[127.0.0.1:4000]", b"hello");
        push_message(&mut out, "[127.0.0.1:4000]", CONNECTED);
        assert_eq!(
            out,
            b"[127.0.0.1:4000] hello\n[127.0.0.1:4000] (connected)\n"
        );
    }

    #[test]
    fn a_tag_is_the_address_in_brackets() {
        let addr: SocketAddr = "127.0.0.2:40312".parse().expect("a valid address");
        assert_eq!(tag(addr), "[127.0.0.2:40312]");
    }
}
