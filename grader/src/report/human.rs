//! The report a student reads: one line per check and the total when all
//! passed; otherwise also a section per failed check (summary, expected and
//! seen, numbered steps, transcripts, hint) and the one thing to do next.

use crate::model::{CheckResult, Report};

use super::{Style, failure_text_after, next_step, outcome, part_scores, seconds};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const BOLD_RED: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

/// Names are padded to the longest in the check table
/// (`wrapper/update-missing`) so that descriptions line up, also in live
/// progress where the other names are not known yet.
const NAME_WIDTH: usize = 22;

fn paint(style: Style, color: &str, text: &str) -> String {
    if style.color {
        format!("{color}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

/// `✓   3/3  server/join  a newcomer is announced ...`. Without colour the
/// marks are the words PASS and FAIL: ✓ and ✗ look alike in a plain log.
pub(super) fn check_line(result: &CheckResult, style: Style) -> String {
    let (mark, color) = match (result.passed(), style.color) {
        (true, true) => ("\u{2713}", GREEN),
        (false, true) => ("\u{2717}", RED),
        (true, false) => ("PASS", GREEN),
        (false, false) => ("FAIL", RED),
    };
    let points = format!(
        "{:>5}",
        format!("{}/{}", result.points(), result.max_points)
    );
    let line = format!(
        "{} {}  {:<NAME_WIDTH$}  {}",
        paint(style, color, mark),
        paint(style, color, &points),
        result.name,
        super::visible_line(&result.description, None),
    );
    line.trim_end().to_owned()
}

pub(super) fn render(report: &Report, style: Style) -> String {
    let mut out = String::new();
    for result in &report.results {
        out.push_str(&check_line(result, style));
        out.push('\n');
    }

    let mut earlier = Vec::new();
    for result in report.failed() {
        let header = format!(
            "--- {} ({} {}) ---",
            result.name,
            result.max_points,
            if result.max_points == 1 {
                "point"
            } else {
                "points"
            }
        );
        out.push('\n');
        out.push_str(&paint(style, BOLD_RED, &header));
        out.push('\n');
        let text = failure_text_after(result, &earlier).unwrap_or_default();
        for line in text.lines() {
            if !line.is_empty() {
                out.push_str("  ");
                out.push_str(line);
            }
            out.push('\n');
        }
        earlier.push(result);
    }

    let failed = report.failed().count();
    let parts = part_scores(report);
    let score = format!("Score: {}/{}", report.points(), report.max_points());
    let color = if failed == 0 { BOLD_GREEN } else { BOLD_RED };
    if failed > 0 {
        out.push('\n');
    }
    out.push_str(&paint(style, color, &score));
    if !parts.is_empty() {
        out.push_str(&format!(" ({parts})"));
    }
    out.push_str(&format!(
        "; {} in {:.1} s\n",
        outcome(report),
        // To the millisecond, as the JSON report keeps it: rendered again
        // from there, the report reads the same.
        seconds(report.duration)
    ));
    if let Some(next) = next_step(report, "in its section above") {
        out.push_str(&next);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    #[test]
    fn a_failing_report_shows_what_a_student_needs() {
        let report = sample::report();
        let text = render(&report, Style { color: false });
        insta::assert_snapshot!(text);
        // Each failed check's section is the failure text every format
        // shows, indented (its own snapshot is in report/mod.rs).
        let join = super::super::failure_text(&report.results[2]).expect("failed");
        let indented: String = join.lines().map(|line| format!("  {line}\n")).collect();
        assert!(
            text.contains(&format!("--- server/join (3 points) ---\n{indented}\n")),
            "{text}"
        );
    }
    #[test]
    fn a_passing_report_is_one_line_per_check_and_the_total() {
        let text = render(&sample::all_passed(), Style { color: false });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[..5].iter().all(|line| line.starts_with("PASS ")));
        assert_eq!(
            lines[5],
            "Score: 13/13 (wrapper 2/2, client 5/5, server 6/6); all 5 checks passed in 4.2 s"
        );
        assert!(!text.contains("Next step"));
    }

    #[test]
    fn without_colour_there_is_no_escape_sequence_even_from_a_transcript() {
        let report = sample::every_byte();
        let text = render(&report, Style { color: false });
        assert!(!text.contains('\x1b'), "{text}");
        // The ESC byte of the transcript is shown, not sent to the terminal.
        assert!(text.contains("\\x1b"));
        // No control character but the newlines reaches the terminal.
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }

    #[test]
    fn with_colour_the_marks_are_coloured_and_transcripts_still_escaped() {
        let report = sample::every_byte();
        let text = render(&report, Style { color: true });
        assert!(text.contains(&format!("{GREEN}\u{2713}{RESET}")));
        assert!(text.contains(&format!("{RED}\u{2717}{RESET}")));
        assert!(text.contains(&format!("{BOLD_RED}--- server/join (3 points) ---{RESET}")));
        // Every ESC is the start of one of our colour codes.
        let escapes = text.matches('\x1b').count();
        let ours: usize = [GREEN, RED, BOLD_GREEN, BOLD_RED, RESET]
            .iter()
            .map(|code| text.matches(code).count())
            .sum();
        assert_eq!(escapes, ours);
    }

    #[test]
    fn progress_lines_match_the_lines_of_the_report() {
        let report = sample::report();
        let plain = Style { color: false };
        let text = render(&report, plain);
        for (result, line) in report.results.iter().zip(text.lines()) {
            assert_eq!(super::super::progress_line(result, plain), line);
        }
        let coloured = super::super::progress_line(&report.results[2], Style { color: true });
        assert_eq!(
            coloured,
            format!(
                "{RED}\u{2717}{RESET} {RED}  0/3{RESET}  server/join             a newcomer is announced as `[TAG] (connected)` to the others, not to itself"
            )
        );
    }

    #[test]
    fn a_long_transcript_is_cut_and_says_how_much() {
        let mut report = sample::report();
        let failure = report.results[2].failure.as_mut().expect("failed");
        let text: String = (1..=500).map(|i| format!("line {i}\n")).collect();
        failure.transcripts = vec![("A".to_owned(), text)];
        let text = render(&report, Style { color: false });
        assert!(text.contains("    | line 30\n    ... 460 lines cut ...\n    | line 491\n"));
        assert!(text.contains("    | line 500\n  hint:"));
        assert!(!text.contains("line 31\n"));
    }

    #[test]
    fn a_failure_shared_by_many_checks_is_shown_once() {
        let mut report = sample::report();
        let build = crate::model::Failure {
            summary: "the submission does not build".to_owned(),
            transcripts: vec![(
                "cargo build".to_owned(),
                "error[E0308]: mismatched types\n --> src/server.rs:10:5\n".to_owned(),
            )],
            ..crate::model::Failure::default()
        };
        for result in &mut report.results {
            result.failure = Some(build.clone());
        }
        let text = render(&report, Style { color: false });
        assert_eq!(text.matches("error[E0308]").count(), 1, "{text}");
        assert!(text.contains(
            "--- server/ready (3 points) ---\n  \
             the submission does not build\n  \
             check:    `server 0` prints `listening on 0.0.0.0:PORT` with the port it got, and accepts at once\n  \
             (details as for wrapper/add above)\n  \
             hint:     Look at the lab text.\n"
        ));
        assert!(text.ends_with(
            "Next step: all 5 failed checks failed the same way (the submission does not build); \
             fix that first, see wrapper/add in its section above.\n"
        ));
    }

    #[test]
    fn a_report_without_checks_says_so() {
        let mut report = sample::report();
        report.results.clear();
        let text = render(&report, Style { color: false });
        assert_eq!(text, "Score: 0/0; no checks were run in 4.2 s\n");
    }
}
