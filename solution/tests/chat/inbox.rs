//! [`Inbox`]: the bytes that arrive on a stream (a socket, a child's stdout),
//! collected by a background thread, so a test can wait for what it expects
//! with a deadline instead of sleeping, and say what it saw when the
//! expectation fails.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::failure;

/// How long any single expectation may take. A correct program answers in
/// well under a millisecond on loopback, so this leaves a margin of a
/// thousand and more for a loaded CI machine (the suite passes with every
/// core kept busy by other processes), while a broken program costs a few
/// seconds per failing test, not minutes. A passing test never waits it out:
/// each wait returns as soon as its bytes arrive.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// How many lines of a transcript a failure shows, before and after the
/// point the test had reached.
const SHOWN_LINES: usize = 6;

/// How many characters of one line (escaped) a failure shows.
const SHOWN_CHARS: usize = 160;

#[derive(Clone)]
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

impl Shared {
    /// The state, even if a thread panicked while holding the lock: the
    /// state is consistent at every point where a panic can happen, and a
    /// test that failed must still be able to show what it received. (A
    /// poisoned lock would otherwise add a second, misleading panic.)
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inbox {
    /// Starts collecting what `reader` delivers, under a name used in
    /// failure messages ("peer [127.0.0.1:40000]", "client stdout").
    pub fn spawn(name: impl Into<String>, mut reader: impl Read + Send + 'static) -> Inbox {
        let shared = Arc::new(Shared::default());
        let collector = Arc::clone(&shared);
        thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                let result = reader.read(&mut buf);
                let mut state = collector.lock();
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

    /// Waits for the next line and returns it without its `\n`; `what` says
    /// in a failure message what the line was to be ("a join notice").
    #[track_caller]
    pub fn next_line_expecting(&self, what: &str) -> Vec<u8> {
        let mut line = self.take_when(what, |unread, _| match find_newline(unread) {
            Some(end) => Look::Take(end + 1),
            None => Look::Wait,
        });
        line.pop();
        line
    }

    /// Waits for the next line; `None` if the stream ends before one.
    #[track_caller]
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
        let line = self.next_line_expecting(&format!("the line {}", show(expected)));
        if line != expected {
            let message = format!(
                "{} expected the line {}\n  but the next line was {}{}\n{}",
                self.name,
                show(expected),
                show(&line),
                difference(expected, &line),
                self.render()
            );
            failure::fail(message);
        }
    }

    /// Waits until `expected.len()` more bytes arrived and checks that they
    /// are `expected`.
    #[track_caller]
    pub fn expect_bytes(&self, expected: &[u8]) {
        let got = self.take_when(&format!("the bytes {}", show(expected)), |unread, _| {
            if unread.len() >= expected.len() {
                Look::Take(expected.len())
            } else {
                Look::Wait
            }
        });
        if got != expected {
            let message = format!(
                "{} expected the bytes {}\n  but received {}{}\n{}",
                self.name,
                show(expected),
                show(&got),
                difference(expected, &got),
                self.render()
            );
            failure::fail(message);
        }
    }

    /// Waits until the stream ends, and checks that nothing else arrived
    /// before the end.
    #[track_caller]
    pub fn expect_end(&self) {
        let rest = self.rest_until_end();
        if !rest.is_empty() {
            let message = format!(
                "{} expected the stream to end, but first came {}\n{}",
                self.name,
                show(&rest),
                self.render()
            );
            failure::fail(message);
        }
    }

    /// Waits until the stream ends; returns what arrived and was not taken.
    #[track_caller]
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
        self.shared.lock().bytes.clone()
    }

    /// Waits, at most `timeout`, until the stream ends; returns whether it
    /// did. Takes nothing: for failure messages, which show a stream whole.
    pub fn wait_for_end(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Waits until `look` finds what the test waits for (`what`, for the
    /// failure message) in the bytes not taken yet, then takes them. Fails,
    /// with a transcript, when the stream ends first or the deadline passes.
    #[track_caller]
    fn take_when(&self, what: &str, mut look: impl FnMut(&[u8], bool) -> Look) -> Vec<u8> {
        let deadline = Instant::now() + DEADLINE;
        let mut state = self.shared.lock();
        let (message, ended) = loop {
            let ended = state.ended.is_some();
            if let Look::Take(len) = look(&state.bytes[state.taken..], ended) {
                let start = state.taken;
                state.taken += len;
                return state.bytes[start..start + len].to_vec();
            }
            if let Some(why) = &state.ended {
                let message = format!(
                    "{} waited for {what}, but the stream ended first ({why}).\n{}",
                    self.name,
                    render(&self.name, &state)
                );
                break (message, true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let message = format!(
                    "{} waited {DEADLINE:?} for {what}, in vain.\n{}",
                    self.name,
                    render(&self.name, &state)
                );
                break (message, false);
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        // Not while holding the lock: the collecting thread needs it.
        drop(state);
        failure::fail_after(message, ended)
    }

    /// What was received, for a failure message.
    fn render(&self) -> String {
        render(&self.name, &self.shared.lock())
    }

    /// At most `count` lines of a process's stderr, for a failure message
    /// about that process: around its last panic if it panicked (the
    /// message says which TODO it stopped at, and may be followed by a long
    /// backtrace), else the last lines.
    pub fn excerpt(&self, count: usize) -> String {
        let state = self.shared.lock();
        let all = lines(&state.bytes);
        let panicked = all
            .iter()
            .rposition(|line| line.windows(12).any(|w| w == b"panicked at "));
        let (from, to) = match panicked {
            Some(at) => {
                // The message goes on until the notes or the backtrace.
                let end = all[at + 1..]
                    .iter()
                    .position(|line| {
                        line.starts_with(b"note: ") || line.starts_with(b"stack backtrace:")
                    })
                    .map_or(all.len(), |len| at + 1 + len);
                let from = at.saturating_sub(2);
                (from, end.min(from + count))
            }
            None => (all.len().saturating_sub(count), all.len()),
        };
        let mut out = String::new();
        if all.is_empty() {
            out.push_str("    | (nothing)\n");
        }
        if from > 0 {
            let _ = writeln!(out, "    | ... {from} earlier lines");
        }
        for line in &all[from..to] {
            let _ = writeln!(out, "    | {}", show_line(line));
        }
        if to < all.len() {
            let _ = writeln!(out, "    | ... {} later lines", all.len() - to);
        }
        if state.ended.is_some() {
            out.push_str("    [the end of the stream]\n");
        }
        out
    }
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// What `name` received, as a failure message shows it: the last lines the
/// test had matched, then the first ones it had not.
fn render(name: &str, state: &State) -> String {
    let mut out = if state.bytes.is_empty() {
        format!("  {name} received nothing.\n")
    } else {
        format!(
            "  what {name} received ({} bytes; `|` matched earlier, `>` not matched yet):\n",
            state.bytes.len()
        )
    };
    if !state.bytes.is_empty() {
        out.push_str(&transcript(
            &state.bytes,
            state.taken,
            SHOWN_LINES,
            SHOWN_LINES,
        ));
    }
    if state.ended.is_some() {
        out.push_str("    [the end of the stream]\n");
    }
    out.pop();
    out
}

/// `bytes` as lines, one `    | line` each for the last `before` lines of
/// `bytes[..taken]` and one `    > line` each for the first `after` lines of
/// the rest: the lines around the point a test had reached.
fn transcript(bytes: &[u8], taken: usize, before: usize, after: usize) -> String {
    let mut out = String::new();
    let matched = lines(&bytes[..taken]);
    let skipped = matched.len().saturating_sub(before);
    if skipped > 0 {
        let _ = writeln!(out, "    | ... {skipped} earlier lines");
    }
    for line in &matched[skipped..] {
        let _ = writeln!(out, "    | {}", show_line(line));
    }
    let unmatched = lines(&bytes[taken..]);
    for line in unmatched.iter().take(after) {
        let _ = writeln!(out, "    > {}", show_line(line));
    }
    if unmatched.len() > after && after > 0 {
        let _ = writeln!(out, "    > ... {} more lines", unmatched.len() - after);
    }
    out
}

/// Splits after each `\n`, keeping it.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// One line of a transcript: escaped, without its `\n`, shortened if long.
fn show_line(line: &[u8]) -> String {
    match line.strip_suffix(b"\n") {
        Some(line) => shorten(&escape(line, false), line.len()),
        None => format!("{} [no newline]", shorten(&escape(line, false), line.len())),
    }
}

/// Bytes as a quoted, escaped string, shortened if long: what a test
/// expected or got.
pub fn show(bytes: &[u8]) -> String {
    format!("\"{}\"", shorten(&escape(bytes, true), bytes.len()))
}

/// Printable ASCII as it is, anything else escaped as in a Rust string
/// (`\r`, `\xff`), so that every byte shows; `"` too when the text is
/// quoted.
fn escape(bytes: &[u8], quoted: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'"' if quoted => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(byte as char),
            _ => out.extend(std::ascii::escape_default(byte).map(char::from)),
        }
    }
    out
}

/// Keeps the start and the end of a long escaped text, and says how long
/// the original was.
fn shorten(escaped: &str, len: usize) -> String {
    if escaped.len() <= SHOWN_CHARS {
        return escaped.to_owned();
    }
    // Escapes are ASCII, so any index is a character boundary.
    let head = &escaped[..SHOWN_CHARS - 40];
    let tail = &escaped[escaped.len() - 30..];
    format!("{head}...{tail} ({len} bytes)")
}

/// Where two long byte strings part, when the shortened forms of both would
/// hide it: " (the first N bytes match; then ... and ...)".
fn difference(expected: &[u8], got: &[u8]) -> String {
    let same = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    if same < 60 {
        return String::new();
    }
    let from = same - 20;
    format!(
        "\n  (the first {same} bytes match; from byte {from} on, expected {} but got {})",
        show(&expected[from..expected.len().min(same + 40)]),
        show(&got[from..got.len().min(same + 40)]),
    )
}
