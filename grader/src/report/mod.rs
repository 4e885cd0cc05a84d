//! Reports, all written from one [`crate::model::Report`].
//!
//! - `human`: the report a student reads on a terminal, with a live progress
//!   line per check ([`progress_line`]);
//! - `json`: the shape of Gradescope's `results.json`, which also reads a
//!   stored report back ([`json::Results`]) to write it in another format;
//! - `junit`: JUnit XML, as GitLab reads it;
//! - `tap`: TAP version 14.
//!
//! Every format takes what it says about a failed check from one place
//! ([`Rendered`], printed as text by [`failure_text`]), so a student reads the
//! same summary, steps, transcripts and hint whichever format CI picked.

mod human;
pub mod json;
mod junit;
mod tap;

use std::fmt;
use std::io;
use std::time::Duration;

use crate::model::{CheckResult, Failure, Part, Report};

/// The report formats of `grader --format` (and `grader render --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// For a person on a terminal (the default).
    Human,
    /// Gradescope's `results.json`.
    Json,
    /// JUnit XML (GitLab).
    Junit,
    /// TAP version 14.
    Tap,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = clap::ValueEnum::to_possible_value(self).ok_or(fmt::Error)?;
        f.write_str(value.get_name())
    }
}

/// How to present the human report. The caller decides: colour only when the
/// report goes to a terminal (and `NO_COLOR` is unset); the machine formats
/// ignore it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours and the marks ✓/✗.
    pub color: bool,
}

/// Writes `report` to `out` in `format`.
pub fn write(
    report: &Report,
    format: Format,
    out: &mut dyn io::Write,
    style: Style,
) -> io::Result<()> {
    // Each format renders to a string first: reports are small, and a report
    // is then either written whole or not at all by a failing writer.
    let text = match format {
        Format::Human => human::render(report, style),
        Format::Json => json::render(report)?,
        Format::Junit => junit::render(report),
        Format::Tap => tap::render(report),
    };
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// One line (without its newline) for a check that just finished, for live
/// progress: mark, points, name and description, as in the final human
/// report.
pub fn progress_line(result: &CheckResult, style: Style) -> String {
    human::check_line(result, style)
}

/// What the reports say about a failed check, as plain text without colour:
/// the summary, what the check tests, expected and seen, the numbered steps,
/// each transcript and the hint. `None` when the check passed.
pub fn failure_text(result: &CheckResult) -> Option<String> {
    result
        .failure
        .as_ref()
        .map(|failure| Rendered::new(result, failure).text())
}

// ---------------------------------------------------------------------------
// Making text visible and short enough to read.

/// Lines kept from a long transcript: the first ones (how it started) and the
/// last ones (where it went wrong).
const HEAD_LINES: usize = 30;
const TAIL_LINES: usize = 10;
/// Characters kept of one long line (the 10000-byte line of the long-line
/// check would otherwise fill a screen).
const MAX_LINE_CHARS: usize = 200;

/// The escape that shows `c`, or `None` when it can be printed as it is.
///
/// Control characters are what a student cannot see in a terminal (a stray
/// `\r` of a client that sends CRLF, a NUL of a buffer sent whole), and
/// invisible format characters (zero-width spaces, direction overrides, a
/// BOM) make two equal-looking lines differ. Printable non-ASCII text stays as
/// it is; U+FFFD is the mark of bytes that were not UTF-8 and stays too.
fn escape_char(c: char) -> Option<String> {
    let escaped = match c {
        '\0' => "\\0".to_owned(),
        '\t' => "\\t".to_owned(),
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        // Bytes as bytes: `\x1b` is what a student finds in an ASCII table.
        c if c.is_ascii_control() => format!("\\x{:02x}", u32::from(c)),
        c if c.is_control() || is_invisible(c) => format!("\\u{{{:x}}}", u32::from(c)),
        _ => return None,
    };
    Some(escaped)
}

/// Format characters and non-characters that print as nothing.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0xAD | 0x061C
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xFFFE
            | 0xFFFF
    )
}

/// `text` on one line, every control character (newlines too) escaped, cut
/// after `max` characters when a maximum is given.
fn visible_line(text: &str, max: Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut shown = 0;
    for (index, c) in text.char_indices() {
        let escaped = escape_char(c);
        let width = escaped.as_ref().map_or(1, String::len);
        if max.is_some_and(|max| shown + width > max) {
            let rest = text[index..].chars().count();
            out.push_str(&format!(" ... ({} more)", count(rest, "character")));
            return out;
        }
        match escaped {
            Some(escaped) => out.push_str(&escaped),
            None => out.push(c),
        }
        shown += width;
    }
    out
}

/// A sequence too long to show whole: its first and last items and how many
/// were cut between them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Capped {
    head: Vec<String>,
    cut: usize,
    tail: Vec<String>,
}

impl Capped {
    /// Keeps [`HEAD_LINES`] + [`TAIL_LINES`] items at most, each made visible
    /// and cut to [`MAX_LINE_CHARS`].
    fn new(items: &[&str]) -> Capped {
        let show = |items: &[&str]| -> Vec<String> {
            items
                .iter()
                .map(|item| visible_line(item, Some(MAX_LINE_CHARS)))
                .collect()
        };
        if items.len() <= HEAD_LINES + TAIL_LINES {
            return Capped {
                head: show(items),
                cut: 0,
                tail: Vec::new(),
            };
        }
        Capped {
            head: show(&items[..HEAD_LINES]),
            cut: items.len() - HEAD_LINES - TAIL_LINES,
            tail: show(&items[items.len() - TAIL_LINES..]),
        }
    }

    fn is_empty(&self) -> bool {
        self.head.is_empty()
    }

    /// The items with their 1-based position, and `None` where items were
    /// cut.
    fn numbered(&self) -> impl Iterator<Item = Option<(usize, &str)>> {
        let tail_start = self.head.len() + self.cut;
        let head = self
            .head
            .iter()
            .enumerate()
            .map(|(i, item)| Some((i + 1, item.as_str())));
        let cut = (self.cut > 0).then_some(None);
        let tail = self
            .tail
            .iter()
            .enumerate()
            .map(move |(i, item)| Some((tail_start + i + 1, item.as_str())));
        head.chain(cut).chain(tail)
    }

    /// `... 5 lines cut ...`, for `what` = `line`.
    fn cut_note(&self, what: &str) -> String {
        format!("... {} cut ...", count(self.cut, what))
    }
}

/// `1 line`, `2 lines`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Multi-line text (a transcript, or an expected or seen value that spans
/// lines), split into capped visible lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lines {
    lines: Capped,
    /// Whether the text ended with a newline; a missing one is worth saying
    /// (a partial line, a prompt).
    final_newline: bool,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let final_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n').collect()
        };
        Lines {
            lines: Capped::new(&lines),
            final_newline,
        }
    }
}

/// An expected or seen value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// At most one line (a final newline is shown as `\n`, so that
    /// `hello\n` and `hello` differ on screen).
    Inline(String),
    /// Several lines, shown as a block.
    Block(Lines),
}

impl Value {
    fn new(text: &str) -> Value {
        let body = text.strip_suffix('\n').unwrap_or(text);
        if body.contains('\n') {
            Value::Block(Lines::new(text))
        } else {
            Value::Inline(visible_line(text, Some(MAX_LINE_CHARS)))
        }
    }
}

/// A failed check made ready to print: everything escaped and capped once,
/// here, so that every format shows the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rendered {
    summary: String,
    description: String,
    expected: Option<Value>,
    seen: Option<Value>,
    steps: Capped,
    /// (name, text) of each participant.
    transcripts: Vec<(String, Lines)>,
    hint: String,
}

impl Rendered {
    fn new(result: &CheckResult, failure: &Failure) -> Rendered {
        let steps: Vec<&str> = failure.steps.iter().map(String::as_str).collect();
        Rendered {
            summary: visible_line(&failure.summary, Some(MAX_LINE_CHARS)),
            description: visible_line(&result.description, None),
            expected: failure.expected.as_deref().map(Value::new),
            seen: failure.seen.as_deref().map(Value::new),
            steps: Capped::new(&steps),
            transcripts: failure
                .transcripts
                .iter()
                .map(|(name, text)| (visible_line(name, Some(MAX_LINE_CHARS)), Lines::new(text)))
                .collect(),
            // A hint is written for students and may be long; never cut it.
            hint: visible_line(&result.hint, None),
        }
    }

    /// The failure as plain text, one item per line, ending with a newline.
    /// Labels are padded so that values line up.
    fn text(&self) -> String {
        self.text_with(None)
    }

    /// The text, with the details (expected, seen, steps, transcripts)
    /// replaced by a pointer to `same_as` when given: the human report shows
    /// a failure shared by many checks (a build error) once.
    fn text_with(&self, same_as: Option<&str>) -> String {
        let mut out = String::new();
        let summary = if self.summary.is_empty() {
            "The check failed."
        } else {
            &self.summary
        };
        out.push_str(summary);
        out.push('\n');
        if !self.description.is_empty() {
            out.push_str(&format!("check:    {}\n", self.description));
        }
        if let Some(same_as) = same_as {
            out.push_str(&format!("(details as for {same_as} above)\n"));
        } else {
            self.push_details(&mut out);
        }
        if !self.hint.is_empty() {
            out.push_str(&format!("hint:     {}\n", self.hint));
        }
        out
    }

    fn has_details(&self) -> bool {
        self.expected.is_some()
            || self.seen.is_some()
            || !self.steps.is_empty()
            || !self.transcripts.is_empty()
    }

    fn push_details(&self, out: &mut String) {
        for (label, value) in [("expected:", &self.expected), ("seen:", &self.seen)] {
            match value {
                None => {}
                Some(Value::Inline(text)) if text.is_empty() => {
                    out.push_str(&format!("{label:<9} (nothing)\n"));
                }
                Some(Value::Inline(text)) => out.push_str(&format!("{label:<9} {text}\n")),
                Some(Value::Block(lines)) => {
                    out.push_str(label);
                    out.push('\n');
                    push_lines(out, lines);
                }
            }
        }
        if !self.steps.is_empty() {
            out.push_str("steps:\n");
            for step in self.steps.numbered() {
                match step {
                    Some((number, step)) => out.push_str(&format!("  {number}. {step}\n")),
                    None => out.push_str(&format!("  {}\n", self.steps.cut_note("step"))),
                }
            }
        }
        for (name, lines) in &self.transcripts {
            if lines.lines.is_empty() {
                out.push_str(&format!("transcript of {name}: (nothing)\n"));
            } else {
                out.push_str(&format!("transcript of {name}:\n"));
                push_lines(out, lines);
            }
        }
    }
}

/// The failure text of a failed `result` for the human report, shortened
/// when an `earlier` failed check failed in exactly the same way.
fn failure_text_after(result: &CheckResult, earlier: &[&CheckResult]) -> Option<String> {
    let failure = result.failure.as_ref()?;
    let rendered = Rendered::new(result, failure);
    let same_as = earlier
        .iter()
        .find(|e| e.failure.as_ref() == Some(failure))
        .filter(|_| rendered.has_details())
        .map(|e| e.name.as_str());
    Some(rendered.text_with(same_as))
}

/// Text lines behind a `| ` gutter, which shows where each line starts and
/// ends (and that an empty line is there at all).
fn push_lines(out: &mut String, lines: &Lines) {
    for line in lines.lines.numbered() {
        match line {
            Some((_, line)) => {
                out.push_str("  | ");
                out.push_str(line);
                out.push('\n');
            }
            None => {
                out.push_str("  ");
                out.push_str(&lines.lines.cut_note("line"));
                out.push('\n');
            }
        }
    }
    if !lines.lines.is_empty() && !lines.final_newline {
        out.push_str("  (no newline at the end)\n");
    }
}

// ---------------------------------------------------------------------------
// Summary lines shared by the formats.

/// `wrapper 10/10, server 30/60, client 17/30`: the parts that were graded.
fn part_scores(report: &Report) -> String {
    Part::ALL
        .into_iter()
        .filter_map(|part| {
            let results = report.results.iter().filter(|r| r.part == part);
            let (points, max) = results.fold((0, 0), |(points, max), r| {
                (points + r.points(), max + r.max_points)
            });
            let graded = report.results.iter().any(|r| r.part == part);
            graded.then(|| format!("{part} {points}/{max}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The TODO a hint points at (`TODO 12`, `TODOs 13 and 14`), when it starts
/// with one.
fn hint_todo(hint: &str) -> Option<&str> {
    let (head, _) = hint.split_once(':')?;
    (head.starts_with("TODO ") || head.starts_with("TODOs ")).then_some(head)
}

/// The first TODO number in a hint that points at TODOs (`TODOs 13 and
/// 14` gives 13).
fn first_todo(hint: &str) -> Option<u32> {
    let todo = hint_todo(hint)?;
    let digits: String = todo
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The one thing to do next: fix the failed check whose TODO comes first in
/// the lab's order (the TODOs build on each other), in table order among
/// equals. Before it come checks that failed on their own behaviour rather
/// than in their set-up ("not checked"), and checks whose hint names one
/// or two TODOs rather than a range of them (`TODOs 9 to 16` says little)
/// or none. `hint_at` says where this format shows its hint.
fn next_step(report: &Report, hint_at: &str) -> Option<String> {
    let first = report.failed().next()?;
    let failed = report.failed().count();
    // A submission that does not build, or a server that never starts,
    // fails every check the same way: that one cause is the thing to fix,
    // not the first check's TODO.
    if failed > 1 && report.failed().all(|r| r.failure == first.failure) {
        let summary = first
            .failure
            .as_ref()
            .map(|f| visible_line(&f.summary, Some(MAX_LINE_CHARS)))
            .unwrap_or_default();
        return Some(format!(
            "Next step: all {failed} failed checks failed the same way ({summary}); \
             fix that first, see {} {hint_at}.",
            first.name
        ));
    }
    let first = report
        .failed()
        .min_by_key(|r| {
            let not_checked = r.failure.as_ref().is_some_and(Failure::is_not_checked);
            let range = hint_todo(&r.hint).is_none_or(|todo| todo.contains(" to "));
            (not_checked, range, first_todo(&r.hint).unwrap_or(u32::MAX))
        })
        .unwrap_or(first);
    let todo = hint_todo(&first.hint)
        .map(|todo| format!(" ({todo})"))
        .unwrap_or_default();
    Some(format!(
        "Next step: fix {}{todo} first; its hint is {hint_at}.",
        first.name
    ))
}

/// One line with the score, for the summaries of the machine formats.
fn score_line(report: &Report) -> String {
    let parts = part_scores(report);
    let parts = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({parts})")
    };
    format!(
        "Score: {}/{}{parts}; {}.",
        report.points(),
        report.max_points(),
        outcome(report)
    )
}

/// `F of N checks failed`, or `all N checks passed`, N the checks that ran.
fn outcome(report: &Report) -> String {
    let failed = report.failed().count();
    match report.results.len() {
        0 => "no checks were run".to_owned(),
        1 if failed == 0 => "the check passed".to_owned(),
        total if failed == 0 => format!("all {total} checks passed"),
        total => format!("{failed} of {total} checks failed"),
    }
}

/// Seconds with millisecond precision, as JUnit and Gradescope take them.
fn seconds(duration: Duration) -> f64 {
    // Whole milliseconds keep the number short and the output stable.
    duration.as_millis() as f64 / 1000.0
}

/// Test data shared by the tests of every format.
#[cfg(test)]
pub(crate) mod sample {
    use std::time::Duration;

    use crate::model::{CheckResult, Failure, Part, Report};

    pub fn passed(name: &str, part: Part, points: u32, description: &str) -> CheckResult {
        CheckResult {
            name: name.to_owned(),
            part,
            description: description.to_owned(),
            hint: "Look at the lab text.".to_owned(),
            max_points: points,
            failure: None,
            duration: Duration::from_millis(12),
            figures: Vec::new(),
        }
    }

    /// Bytes a broken server might send: a CRLF, a NUL and bytes that are not
    /// UTF-8, made lossy as the grader makes every transcript.
    pub fn raw_transcript() -> String {
        let mut bytes = b"[127.0.0.1:40002] (connected)\r\nhel".to_vec();
        bytes.push(0);
        bytes.extend_from_slice(b"lo \xff\xfe world\n");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The failure of `server/join` with every field filled.
    pub fn join_failure() -> Failure {
        Failure {
            summary: "B did not see the notice that C joined".to_owned(),
            expected: Some("[127.0.0.1:40003] (connected)\n".to_owned()),
            seen: Some("nothing within 2 s".to_owned()),
            steps: vec![
                "start the server: `server 0`".to_owned(),
                "A connects".to_owned(),
                "B connects".to_owned(),
                "C connects from 127.0.0.1:40003".to_owned(),
                "B waits for \"[127.0.0.1:40003] (connected)\\n\"".to_owned(),
            ],
            transcripts: vec![
                ("A".to_owned(), raw_transcript()),
                ("B".to_owned(), String::new()),
                (
                    "server stderr".to_owned(),
                    "thread 'main' panicked\nnote: run with `RUST_BACKTRACE=1`".to_owned(),
                ),
            ],
        }
    }

    /// Two passed checks, one with every field of a failure, one with just a
    /// summary, and a passed one after them: 7 of 13 points.
    pub fn report() -> Report {
        let join = CheckResult {
            name: "server/join".to_owned(),
            part: Part::Server,
            description:
                "a newcomer is announced as `[TAG] (connected)` to the others, not to itself"
                    .to_owned(),
            hint: "TODO 12: broadcast `[TAG] (connected)` before inserting the new client into the table.".to_owned(),
            max_points: 3,
            failure: Some(join_failure()),
            duration: Duration::from_millis(2_004),
            figures: Vec::new(),
        };
        let paste = CheckResult {
            name: "client/paste".to_owned(),
            part: Part::Client,
            description: "200 lines pasted into the terminal at once all arrive, in order"
                .to_owned(),
            hint: "TODO 8: handle every line a read returns, and keep an unfinished one for later."
                .to_owned(),
            max_points: 3,
            failure: Some(Failure::new("only 37 of 200 lines arrived")),
            duration: Duration::from_millis(1_500),
            figures: Vec::new(),
        };
        Report {
            submission: "support/".to_owned(),
            results: vec![
                passed(
                    "wrapper/add",
                    Part::Wrapper,
                    2,
                    "w_epoll_add_fd_in returns 0 and the descriptor is then reported readable, for input only",
                ),
                passed(
                    "server/ready",
                    Part::Server,
                    3,
                    "`server 0` prints `listening on 0.0.0.0:PORT` with the port it got, and accepts at once",
                ),
                join,
                paste,
                passed(
                    "client/eof",
                    Part::Client,
                    2,
                    "Ctrl-D (end of input) closes the connection and exits with status 0",
                ),
            ],
            duration: Duration::from_millis(4_217),
        }
    }

    /// A report that passed every check.
    pub fn all_passed() -> Report {
        let mut report = report();
        for result in &mut report.results {
            result.failure = None;
        }
        report
    }

    /// A failure whose transcript holds every byte value, as the grader's
    /// lossy conversion makes it.
    pub fn every_byte() -> Report {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut report = report();
        let failure = report.results[2]
            .failure
            .as_mut()
            .expect("server/join failed");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        failure.summary = format!("saw {text}");
        failure.seen = Some(text.clone());
        failure.steps.push(text.clone());
        failure.transcripts.push((text.clone(), text));
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_on_the_command_line_as_they_print() {
        use clap::ValueEnum;
        let names: Vec<String> = Format::value_variants()
            .iter()
            .map(Format::to_string)
            .collect();
        assert_eq!(names, ["human", "json", "junit", "tap"]);
        for format in Format::value_variants() {
            // Names are exact: the command line is scripted against.
            assert_eq!(Format::from_str(&format.to_string(), false), Ok(*format));
        }
        assert!(Format::from_str("JSON", false).is_err());
    }

    #[test]
    fn control_characters_are_escaped_and_printable_text_is_kept() {
        assert_eq!(
            visible_line("a\r\n\0\t\x1b[31m\x7f", None),
            "a\\r\\n\\0\\t\\x1b[31m\\x7f"
        );
        assert_eq!(
            visible_line("\u{85}\u{200b}\u{feff}", None),
            "\\u{85}\\u{200b}\\u{feff}"
        );
        assert_eq!(
            visible_line("héllo \u{fffd} → \\r", None),
            "héllo \u{fffd} → \\r"
        );
    }

    #[test]
    fn long_lines_are_cut_with_the_count_of_what_was_cut() {
        let line = "x".repeat(10_000);
        let shown = visible_line(&line, Some(MAX_LINE_CHARS));
        assert_eq!(
            shown,
            format!("{} ... (9800 characters more)", "x".repeat(200))
        );
        // An escape is never split: `\r` is two characters wide.
        let shown = visible_line(&format!("{}\r", "x".repeat(199)), Some(200));
        assert_eq!(shown, format!("{} ... (1 character more)", "x".repeat(199)));
        assert_eq!(visible_line("short", Some(200)), "short");
    }

    #[test]
    fn long_transcripts_keep_their_first_and_last_lines() {
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let lines = Lines::new(&text);
        assert!(lines.final_newline);
        assert_eq!(lines.lines.head.len(), HEAD_LINES);
        assert_eq!(lines.lines.cut, 60);
        assert_eq!(lines.lines.tail.len(), TAIL_LINES);
        let numbered: Vec<_> = lines.lines.numbered().collect();
        assert_eq!(numbered[0], Some((1, "line 1")));
        assert_eq!(numbered[29], Some((30, "line 30")));
        assert_eq!(numbered[30], None);
        assert_eq!(numbered[31], Some((91, "line 91")));
        assert_eq!(numbered[40], Some((100, "line 100")));
        assert_eq!(numbered.len(), 41);

        let text: String = (1..=41).map(|i| format!("{i}\n")).collect();
        assert_eq!(
            Lines::new(&text).lines.cut_note("line"),
            "... 1 line cut ..."
        );

        // 40 lines fit: nothing is cut.
        let text: String = (1..=40).map(|i| format!("{i}\n")).collect();
        let lines = Lines::new(&text);
        assert_eq!((lines.lines.head.len(), lines.lines.cut), (40, 0));
    }

    #[test]
    fn a_missing_final_newline_is_kept_apart_from_a_present_one() {
        assert!(!Lines::new("a\nb").final_newline);
        assert_eq!(Lines::new("a\nb").lines.head, ["a", "b"]);
        assert_eq!(Lines::new("a\n\n").lines.head, ["a", ""]);
        assert!(Lines::new("").lines.is_empty());
        assert_eq!(Value::new("hi\n"), Value::Inline("hi\\n".to_owned()));
        assert_eq!(Value::new("hi"), Value::Inline("hi".to_owned()));
        assert!(matches!(Value::new("a\nb\n"), Value::Block(_)));
    }

    #[test]
    fn the_failure_text_has_every_part_in_order() {
        let report = sample::report();
        let text = failure_text(&report.results[2]).expect("server/join failed");
        // Summary, check, expected, seen, steps, transcripts, hint: see
        // snapshots/ (`cargo insta review` after a deliberate change).
        insta::assert_snapshot!(text);
        assert_eq!(failure_text(&report.results[0]), None);
    }
    #[test]
    fn a_bare_failure_has_its_summary_and_hint() {
        let report = sample::report();
        let text = failure_text(&report.results[3]).expect("client/paste failed");
        assert_eq!(
            text,
            "only 37 of 200 lines arrived\n\
             check:    200 lines pasted into the terminal at once all arrive, in order\n\
             hint:     TODO 8: handle every line a read returns, and keep an unfinished one for later.\n"
        );
    }

    #[test]
    fn many_steps_keep_their_numbers_around_the_cut() {
        let mut report = sample::report();
        let failure = report.results[2].failure.as_mut().expect("failed");
        failure.steps = (1..=50).map(|i| format!("client {i} sends")).collect();
        failure.transcripts.clear();
        let text = failure_text(&report.results[2]).expect("failed");
        assert!(
            text.contains("  30. client 30 sends\n  ... 10 steps cut ...\n  41. client 41 sends\n")
        );
        assert!(text.contains("  50. client 50 sends\n"));
        assert!(!text.contains("client 31 sends"));
    }

    #[test]
    fn a_multi_line_expected_value_is_a_block() {
        let mut report = sample::report();
        let failure = report.results[2].failure.as_mut().expect("failed");
        failure.expected = Some("one\ntwo\r\n".to_owned());
        failure.seen = Some(String::new());
        let text = failure_text(&report.results[2]).expect("failed");
        assert!(
            text.contains("expected:\n  | one\n  | two\\r\nseen:     (nothing)\n"),
            "{text}"
        );
    }

    #[test]
    fn the_next_step_names_the_first_failed_check_and_its_todo() {
        let report = sample::report();
        assert_eq!(
            next_step(&report, "above").as_deref(),
            Some("Next step: fix client/paste (TODO 8) first; its hint is above.")
        );
        assert_eq!(next_step(&sample::all_passed(), "above"), None);
        assert_eq!(
            hint_todo("TODOs 13 and 14: format"),
            Some("TODOs 13 and 14")
        );
        assert_eq!(hint_todo("Print the readiness line: now"), None);
        assert_eq!(first_todo("TODOs 13 and 14: format"), Some(13));
        assert_eq!(first_todo("TODO 8: read"), Some(8));
        assert_eq!(first_todo("Print the readiness line: now"), None);
        assert_eq!(hint_todo("TODO 8"), None);
    }

    #[test]
    fn the_next_step_prefers_the_earliest_todo_and_a_hint_that_names_one() {
        let mut report = sample::report();
        // client/paste (TODO 8) is listed after server/join (TODO 12), and
        // still comes first: the lab's order is the TODOs' order.
        assert!(next_step(&report, "above").is_some_and(|s| s.contains("client/paste")));
        for result in &mut report.results {
            if result.name == "client/paste" {
                result.hint = "Look at the whole client.".to_owned();
            }
        }
        assert_eq!(
            next_step(&report, "above").as_deref(),
            Some("Next step: fix server/join (TODO 12) first; its hint is above.")
        );
    }

    #[test]
    fn the_next_step_passes_over_set_up_failures_and_ranges_of_todos() {
        let mut report = sample::report();
        for result in &mut report.results {
            if result.name == "client/paste" {
                // Not checked: its set-up failed, so it comes last.
                let failure = result.failure.take().expect("paste failed");
                result.failure = Some(failure.not_checked("client/receive"));
            }
        }
        assert!(next_step(&report, "above").is_some_and(|s| s.contains("server/join")));
        for result in &mut report.results {
            if result.name == "server/join" {
                // Even with a range of TODOs, a failure of the check itself
                // comes before a failure of a set-up.
                result.hint = "TODOs 9 to 16: the whole server.".to_owned();
            }
        }
        assert!(next_step(&report, "above").is_some_and(|s| s.contains("server/join")));
        for result in &mut report.results {
            if result.name == "client/paste" {
                result.failure = Some(Failure::new("only 37 of 200 lines arrived"));
            }
        }
        assert!(next_step(&report, "above").is_some_and(|s| s.contains("client/paste")));
    }

    #[test]
    fn the_score_line_counts_points_per_part() {
        let report = sample::report();
        assert_eq!(
            score_line(&report),
            "Score: 7/13 (wrapper 2/2, client 2/5, server 3/6); 2 of 5 checks failed."
        );
        assert_eq!(
            score_line(&sample::all_passed()),
            "Score: 13/13 (wrapper 2/2, client 5/5, server 6/6); all 5 checks passed."
        );
    }

    #[test]
    fn write_writes_every_format() {
        let report = sample::report();
        for &format in <Format as clap::ValueEnum>::value_variants() {
            let mut out = Vec::new();
            write(&report, format, &mut out, Style::default()).expect("write to a Vec");
            let text = String::from_utf8(out).expect("reports are UTF-8");
            assert!(text.contains("server/join"), "{format}: {text}");
            assert!(text.ends_with('\n'), "{format}");
        }
    }
}
