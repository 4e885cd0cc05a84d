//! [`Inbox`]: bytes arriving from a peer socket, a child's pipe or a
//! terminal, collected by a background thread, so that a check waits for what
//! it expects with a deadline (never sleeping), and a failure can show what
//! actually arrived.
//!
//! Memory is bounded whatever a submission does: bytes not yet matched are
//! capped at [`UNREAD_CAP`] (past that the stream counts as flooded), and
//! for the transcript only the first and last [`KEPT`] bytes are kept.

use std::io::{ErrorKind, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

use crate::failure::Failure;
use crate::show::{show, show_against};

/// The most bytes a stream holds that no check has matched yet.
pub const UNREAD_CAP: usize = 16 * 1024 * 1024;

/// How many bytes of the beginning, and of the end, a transcript keeps.
pub const KEPT: usize = 2048;

/// How often a wait asks its `abort` condition.
pub const ABORT_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a wait goes on once its `abort` condition holds: bytes the
/// program sent just before it exited may still be on their way (through a
/// server, say).
pub const ABORT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// What a look at the unread bytes decided.
#[derive(Debug)]
pub enum Look<T> {
    /// Not there yet: wait for more bytes (or the end).
    Wait,
    /// Found: consume this many bytes and return the value.
    Take(usize, T),
    /// It will never be there: fail with this description of what was seen.
    Fail(String),
}

/// A stream being collected.
#[derive(Clone)]
pub struct Inbox {
    name: Arc<str>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").field("name", &self.name).finish()
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Received and not matched yet.
    unread: Vec<u8>,
    /// The first KEPT bytes ever received.
    head: Vec<u8>,
    /// The last bytes received after the head (at most 2 * KEPT of them;
    /// a transcript shows the last KEPT).
    tail: Vec<u8>,
    /// How many bytes arrived in all.
    total: u64,
    /// Why the stream ended ("end of stream", a read error), once it did.
    ended: Option<String>,
    /// Whether bytes were dropped because UNREAD_CAP was reached.
    flooded: bool,
    /// Whether new bytes are kept for matching; a log nobody matches
    /// against keeps only its transcript.
    transcript_only: bool,
}

impl State {
    fn receive(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let (to_head, after_head) = bytes.split_at(bytes.len().min(KEPT - self.head.len()));
        self.head.extend_from_slice(to_head);
        self.tail
            .extend_from_slice(&after_head[after_head.len().saturating_sub(KEPT)..]);
        if self.tail.len() > 2 * KEPT {
            let excess = self.tail.len() - KEPT;
            self.tail.drain(..excess);
        }
        if self.transcript_only {
            return;
        }
        let room = UNREAD_CAP.saturating_sub(self.unread.len());
        if bytes.len() > room {
            self.flooded = true;
        }
        self.unread
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl Inbox {
    /// Starts collecting what `reader` delivers. `name` says whose bytes
    /// these are in messages: "A", "the server's stdout", "the client's
    /// terminal".
    pub fn spawn(name: impl Into<String>, mut reader: impl Read + Send + 'static) -> Inbox {
        let stream = Inbox {
            name: name.into().into(),
            shared: Arc::new(Shared::default()),
        };
        let shared = Arc::clone(&stream.shared);
        thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                let result = reader.read(&mut buf);
                let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                match result {
                    Ok(0) => state.ended = Some("the end of the stream".into()),
                    Ok(n) => state.receive(&buf[..n]),
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    // A terminal whose other side closed reports EIO.
                    Err(err) if err.raw_os_error() == Some(libc::EIO) => {
                        state.ended = Some("the end of the stream".into())
                    }
                    Err(err) => state.ended = Some(format!("a read error ({err})")),
                }
                let done = state.ended.is_some();
                drop(state);
                shared.changed.notify_all();
                if done {
                    return;
                }
            }
        });
        stream
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// From now on, keep only the transcript of what arrives: for a log that
    /// no check matches against (a server's stderr, its stdout after the
    /// readiness line), however much a submission writes to it.
    pub fn transcript_only(&self) {
        let mut state = self.lock();
        state.transcript_only = true;
        state.unread = Vec::new();
    }

    /// Waits until `look` finds what it looks for in the unread bytes, until
    /// `until`. `what` describes the expectation for messages.
    pub fn wait<T>(
        &self,
        until: Instant,
        what: &str,
        look: impl FnMut(&[u8], bool) -> Look<T>,
    ) -> Result<T, Failure> {
        self.wait_unless(until, what, look, &|| None)
    }

    /// Like [`Inbox::wait`], but also gives up [`ABORT_GRACE`] after
    /// `abort` returns a reason (it is asked at least every
    /// [`ABORT_CHECK`]): for example when the program that should send these
    /// bytes has exited.
    pub fn wait_unless<T>(
        &self,
        until: Instant,
        what: &str,
        mut look: impl FnMut(&[u8], bool) -> Look<T>,
        abort: &dyn Fn() -> Option<String>,
    ) -> Result<T, Failure> {
        let mut state = self.lock();
        let mut aborting: Option<(String, Instant)> = None;
        loop {
            let ended = state.ended.is_some();
            let (summary, seen) = match look(&state.unread, ended) {
                Look::Take(len, value) => {
                    state.unread.drain(..len);
                    return Ok(value);
                }
                Look::Fail(seen) => (format!("received something else than {what}"), seen),
                Look::Wait => match self.why_give_up(&state, what, &mut aborting, abort, until) {
                    Some(summary) => {
                        let seen = match &state.ended {
                            Some(why) if state.unread.is_empty() => {
                                format!("nothing more, then {why}")
                            }
                            Some(why) => format!("{}, then {why}", show(&state.unread)),
                            None if state.unread.is_empty() => "nothing".to_owned(),
                            None => show(&state.unread),
                        };
                        (summary, seen)
                    }
                    None => {
                        let left = until.saturating_duration_since(Instant::now());
                        state = self
                            .shared
                            .changed
                            .wait_timeout(state, left.min(ABORT_CHECK))
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                        continue;
                    }
                },
            };
            return Err(Failure {
                summary: format!("{} {summary}", self.name),
                expected: Some(what.to_owned()),
                seen: Some(seen),
                ..Failure::default()
            });
        }
    }

    /// Why a wait for `what` that has not found it yet ends now, if it
    /// does: the stream was flooded or ended, `abort` gave a reason
    /// [`ABORT_GRACE`] ago (remembered in `aborting`), or `until` passed.
    fn why_give_up(
        &self,
        state: &State,
        what: &str,
        aborting: &mut Option<(String, Instant)>,
        abort: &dyn Fn() -> Option<String>,
        until: Instant,
    ) -> Option<String> {
        if state.flooded {
            return Some(format!(
                "was flooded: more than {} MiB arrived without matching {what}",
                UNREAD_CAP >> 20
            ));
        }
        if let Some(why) = &state.ended {
            return Some(format!("reached {why} while waiting for {what}"));
        }
        if aborting.is_none() {
            *aborting = abort().map(|reason| (reason, Instant::now() + ABORT_GRACE));
        }
        let now = Instant::now();
        if let Some((reason, _)) = aborting.as_ref().filter(|(_, at)| now >= *at) {
            return Some(format!("did not receive {what}: {reason}"));
        }
        (now >= until).then(|| format!("did not receive {what} in time"))
    }

    /// Waits for the next line; returns it without its `\n`.
    pub fn next_line(&self, until: Instant) -> Result<Vec<u8>, Failure> {
        self.next_line_unless(until, &|| None)
    }

    /// Like [`Inbox::next_line`], giving up early when `abort` says so.
    pub fn next_line_unless(
        &self,
        until: Instant,
        abort: &dyn Fn() -> Option<String>,
    ) -> Result<Vec<u8>, Failure> {
        let look = |unread: &[u8], _| match find_newline(unread) {
            Some(end) => Look::Take(end + 1, unread[..end].to_vec()),
            None => Look::Wait,
        };
        self.wait_unless(until, "a line", look, abort)
    }

    /// Waits for the next line and checks that it is `expected`.
    pub fn expect_line(&self, expected: &[u8], until: Instant) -> Result<(), Failure> {
        self.expect_line_unless(expected, until, &|| None)
    }

    /// Like [`Inbox::expect_line`], giving up early when `abort` says so.
    pub fn expect_line_unless(
        &self,
        expected: &[u8],
        until: Instant,
        abort: &dyn Fn() -> Option<String>,
    ) -> Result<(), Failure> {
        let what = format!("the line {}", show(expected));
        let look = |unread: &[u8], _| match find_newline(unread) {
            Some(end) if &unread[..end] == expected => Look::Take(end + 1, ()),
            Some(end) => Look::Fail(format!(
                "the line {}",
                show_against(expected, &unread[..end])
            )),
            // A partial line that already differs will never match.
            None if !expected.starts_with(unread) => Look::Fail(show(unread)),
            None => Look::Wait,
        };
        self.wait_unless(until, &what, look, abort)
    }

    /// Waits for the next line that contains a `[` (skipping a client's
    /// banners and notes, which the protocol allows) and checks that, from
    /// its first `[` on, it is `expected`: a prompt printed before the line
    /// is tolerated.
    pub fn expect_chat_line(&self, expected: &[u8], until: Instant) -> Result<(), Failure> {
        let what = format!("the line {}", show(expected));
        self.wait(until, &what, |unread, _| {
            let mut start = 0;
            while let Some(len) = find_newline(&unread[start..]) {
                let line = &unread[start..start + len];
                if let Some(bracket) = line.iter().position(|&b| b == b'[') {
                    return if &line[bracket..] == expected {
                        Look::Take(start + len + 1, ())
                    } else {
                        Look::Fail(format!("the line {}", show(line)))
                    };
                }
                start += len + 1;
            }
            Look::Wait
        })
    }

    /// Waits until `expected` has arrived as a contiguous run of bytes,
    /// anywhere in what was not matched yet, and consumes up to its end.
    pub fn expect_bytes_somewhere(&self, expected: &[u8], until: Instant) -> Result<(), Failure> {
        let what = show(expected);
        self.wait(until, &what, |unread, _| {
            match unread.windows(expected.len()).position(|w| w == expected) {
                Some(at) => Look::Take(at + expected.len(), ()),
                None => Look::Wait,
            }
        })
    }

    /// Waits for the end of the stream; returns the bytes not matched yet.
    pub fn wait_end(&self, until: Instant) -> Result<Vec<u8>, Failure> {
        self.wait(until, "the end of the connection", |unread, ended| {
            if ended {
                Look::Take(unread.len(), unread.to_vec())
            } else {
                Look::Wait
            }
        })
    }

    /// What arrived so far, for a failure report: the beginning and the end,
    /// with what was cut in between.
    pub fn transcript(&self) -> String {
        let state = self.lock();
        let tail = &state.tail[state.tail.len().saturating_sub(KEPT)..];
        let cut = state.total - (state.head.len() + tail.len()) as u64;
        let mut text = if state.total == 0 {
            "(nothing)".to_owned()
        } else if cut == 0 {
            crate::show::show_block(&[&state.head[..], tail].concat())
        } else {
            format!(
                "{}\n[... {cut} bytes not shown ...]\n{}",
                crate::show::show_block(&state.head),
                crate::show::show_block(tail)
            )
        };
        if let Some(why) = &state.ended {
            text.push_str(&format!("\n[{why}]"));
        }
        // A rendered block of lines; an unfinished last line of the stream
        // itself is marked `[no newline]` inside it.
        text.push('\n');
        text
    }

    /// Waits until the stream ends or `until` passes, consuming nothing;
    /// returns whether it ended.
    pub fn wait_ended(&self, until: Instant) -> bool {
        let mut state = self.lock();
        while state.ended.is_none() {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
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
    fn lines_are_matched_in_order_and_a_wrong_one_is_reported() {
        let stream = Inbox::spawn("A", Cursor::new(b"one\ntwo\nthree\n".to_vec()));
        stream.expect_line(b"one", soon()).expect("first line");
        assert_eq!(stream.next_line(soon()).expect("second"), b"two");
        let failure = stream.expect_line(b"four", soon()).expect_err("mismatch");
        assert_eq!(failure.expected.as_deref(), Some("the line \"four\""));
        assert_eq!(failure.seen.as_deref(), Some("the line \"three\""));
        assert!(
            failure.summary.starts_with("A received something else"),
            "{}",
            failure.summary
        );
    }

    #[test]
    fn the_end_of_the_stream_ends_a_wait_at_once() {
        let stream = Inbox::spawn("B", Cursor::new(b"partial".to_vec()));
        let started = Instant::now();
        let failure = stream
            .next_line(Instant::now() + Duration::from_secs(60))
            .expect_err("no line");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited for the deadline"
        );
        assert_eq!(
            failure.seen.as_deref(),
            Some("\"partial\", then the end of the stream")
        );
    }

    #[test]
    fn a_chat_line_may_follow_notes_and_a_prompt() {
        let screen = Inbox::spawn("C", Cursor::new(b"welcome!\n> [1.2.3.4:5] hi\n".to_vec()));
        screen
            .expect_chat_line(b"[1.2.3.4:5] hi", soon())
            .expect("found after a note");
    }

    #[test]
    fn a_transcript_keeps_the_beginning_and_the_end() {
        let mut data = vec![b'a'; 10 * KEPT];
        data.extend_from_slice(b"THE END\n");
        let stream = Inbox::spawn("D", Cursor::new(data));
        stream.wait_end(soon()).expect("ends");
        let transcript = stream.transcript();
        assert!(transcript.contains("bytes not shown"), "{transcript}");
        assert!(transcript.contains("THE END"), "{transcript}");
        assert!(
            transcript.len() < 3 * KEPT + 200,
            "{} bytes",
            transcript.len()
        );
    }
}
