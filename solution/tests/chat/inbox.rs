//! [`Inbox`]: the bytes that arrive on a stream (a socket, a child's stdout),
//! collected by a background thread, so a test can wait for what it expects
//! with a deadline instead of sleeping, and say what it saw when the
//! expectation fails.

use std::io::{ErrorKind, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single expectation may take. Generous, because a loaded CI
/// machine is slow; a passing test returns as soon as its bytes arrive.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How much of a transcript a failure message shows.
const SHOWN: usize = 600;

pub struct Inbox {
    name: String,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Everything received so far.
    bytes: Vec<u8>,
    /// How much of `bytes` the test has already taken.
    taken: usize,
    /// Set when the stream ended: "end of stream" or the read error.
    ended: Option<String>,
}

/// The outcome of looking at the bytes not taken yet.
enum Look {
    /// Not there yet: keep waiting.
    Wait,
    /// Take this many bytes and return them.
    Take(usize),
}

impl Inbox {
    /// Starts collecting what `reader` delivers, under a name used in
    /// failure messages ("peer A", "client stdout").
    pub fn spawn(name: impl Into<String>, mut reader: impl Read + Send + 'static) -> Inbox {
        let shared = Arc::new(Shared::default());
        let collector = Arc::clone(&shared);
        thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                let result = reader.read(&mut buf);
                let mut state = collector.state.lock().expect("inbox lock");
                match result {
                    Ok(0) => state.ended = Some("end of stream".into()),
                    Ok(n) => state.bytes.extend_from_slice(&buf[..n]),
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(err) => state.ended = Some(format!("read error: {err}")),
                }
                let done = state.ended.is_some();
                drop(state);
                collector.changed.notify_all();
                if done {
                    return;
                }
            }
        });
        Inbox {
            name: name.into(),
            shared,
        }
    }

    /// Waits for the next line and returns it without its `\n`.
    pub fn next_line(&self) -> Vec<u8> {
        let mut line = self.take_when("a line", |unread, _| match find_newline(unread) {
            Some(end) => Look::Take(end + 1),
            None => Look::Wait,
        });
        line.pop();
        line
    }

    /// Waits for the next line; `None` if the stream ends before one.
    pub fn try_next_line(&self) -> Option<Vec<u8>> {
        let mut ended_early = false;
        let mut line = self.take_when("a line or the end", |unread, ended| {
            match find_newline(unread) {
                Some(end) => Look::Take(end + 1),
                None if ended => {
                    ended_early = true;
                    Look::Take(0)
                }
                None => Look::Wait,
            }
        });
        if ended_early {
            return None;
        }
        line.pop();
        Some(line)
    }

    /// Waits for the next line and checks that it is `expected`.
    #[track_caller]
    pub fn expect_line(&self, expected: impl AsRef<[u8]>) {
        let expected = expected.as_ref();
        let line = self.next_line();
        if line != expected {
            panic!(
                "{}: expected the line {}\nbut the next line was {}\n{}",
                self.name,
                show(expected),
                show(&line),
                self.transcript()
            );
        }
    }

    /// Waits until `expected.len()` more bytes arrived and checks that they
    /// are `expected`.
    #[track_caller]
    pub fn expect_bytes(&self, expected: &[u8]) {
        let got = self.take_when(&format!("{} bytes", expected.len()), |unread, _| {
            if unread.len() >= expected.len() {
                Look::Take(expected.len())
            } else {
                Look::Wait
            }
        });
        if got != expected {
            panic!(
                "{}: expected {}\nbut received {}\n{}",
                self.name,
                show(expected),
                show(&got),
                self.transcript()
            );
        }
    }

    /// Waits until the stream ends, and checks that nothing else arrived
    /// before the end.
    #[track_caller]
    pub fn expect_end(&self) {
        let rest = self.take_when("the end of the stream", |unread, ended| {
            if ended {
                Look::Take(unread.len())
            } else {
                Look::Wait
            }
        });
        if !rest.is_empty() {
            panic!(
                "{}: expected the stream to end, but first came {}\n{}",
                self.name,
                show(&rest),
                self.transcript()
            );
        }
    }

    /// Waits until the stream ends; returns what arrived and was not taken.
    pub fn rest_until_end(&self) -> Vec<u8> {
        self.take_when("the end of the stream", |unread, ended| {
            if ended {
                Look::Take(unread.len())
            } else {
                Look::Wait
            }
        })
    }

    /// Everything received so far, taken or not.
    pub fn everything(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// Waits until `look` finds what the test waits for in the bytes not
    /// taken yet, then takes them. Panics, with a transcript, when the stream
    /// ends first or the deadline passes.
    fn take_when(&self, what: &str, mut look: impl FnMut(&[u8], bool) -> Look) -> Vec<u8> {
        let deadline = Instant::now() + DEADLINE;
        let mut state = self.lock();
        loop {
            let ended = state.ended.is_some();
            if let Look::Take(len) = look(&state.bytes[state.taken..], ended) {
                let start = state.taken;
                state.taken += len;
                return state.bytes[start..start + len].to_vec();
            }
            if let Some(why) = &state.ended {
                panic!(
                    "{}: waited for {what}, but the stream ended ({why})\n{}",
                    self.name,
                    describe(&state)
                );
            }
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "{}: waited {DEADLINE:?} for {what}, in vain\n{}",
                    self.name,
                    describe(&state)
                );
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .expect("inbox lock")
                .0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().expect("inbox lock")
    }

    fn transcript(&self) -> String {
        describe(&self.lock())
    }
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// What was received, as a failure message shows it: the end of what was
/// already taken, then what was not.
fn describe(state: &State) -> String {
    let taken = &state.bytes[..state.taken];
    let unread = &state.bytes[state.taken..];
    format!(
        "  received and matched so far ({} bytes): {}\n  received, not matched ({} bytes): {}",
        taken.len(),
        show(&taken[taken.len().saturating_sub(SHOWN)..]),
        unread.len(),
        show(&unread[..unread.len().min(SHOWN)]),
    )
}

/// Bytes as a readable, length-capped string literal.
pub fn show(bytes: &[u8]) -> String {
    if bytes.len() > SHOWN {
        format!(
            "{:?}... ({} bytes in all)",
            String::from_utf8_lossy(&bytes[..SHOWN]),
            bytes.len()
        )
    } else {
        format!("{:?}", String::from_utf8_lossy(bytes))
    }
}
