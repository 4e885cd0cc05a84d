//! TAP version 14: a plan, one test point per check, and for a failed one a
//! YAML diagnostic block with the same pieces the human report prints.
//!
//! Free text goes in YAML block scalars (`|`), whose lines are taken as they
//! are: a colon, a `#` or a quote in a transcript cannot break the YAML. The
//! text has been made visible first, so no control character (which YAML does
//! not allow) reaches it.

use crate::model::{CheckResult, Report};

use super::{Capped, Lines, Rendered, Value, next_step, outcome};

/// Indentation of the YAML block under its test point, as TAP 14 asks.
const YAML: &str = "  ";

/// A test point's description: TAP reads `#` as the start of a directive,
/// so it and `\` are escaped.
fn description(name: &str) -> String {
    super::visible_line(name, None)
        .replace('\\', "\\\\")
        .replace('#', "\\#")
}

/// `text` as a YAML double-quoted scalar, for short one-line values.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            // A byte order mark may not appear inside a YAML document.
            '\u{feff}' => out.push_str("\\ufeff"),
            // YAML's printable set, less what needs escaping in quotes.
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' => out.push(c),
            c if u32::from(c) >= 0x1_0000 => out.push(c),
            c if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// `key: |` and `lines` indented two more than `key`, or `key: ""` when
/// there are none. `final_newline` picks the chomping indicator, so the value
/// ends exactly as the text did.
fn block(out: &mut String, indent: &str, key: &str, lines: &[&str], final_newline: bool) {
    if lines.is_empty() {
        out.push_str(&format!("{indent}{key}: \"\"\n"));
        return;
    }
    // A first line that starts with a space would be taken for the block's
    // indentation; say the indentation instead.
    let first = lines.iter().find(|line| !line.is_empty());
    let indentation = if first.is_some_and(|line| line.starts_with(' ')) {
        "2"
    } else {
        ""
    };
    let chomping = match (final_newline, lines.last()) {
        (false, _) => "-",
        // Clipping would drop trailing empty lines: keep them.
        (true, Some(&"")) => "+",
        (true, _) => "",
    };
    out.push_str(&format!("{indent}{key}: |{indentation}{chomping}\n"));
    for line in lines {
        if !line.is_empty() {
            out.push_str(indent);
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Capped lines as they are printed: the cut between them as a note line.
fn capped_lines(capped: &Capped, what: &str, number: bool) -> Vec<String> {
    capped
        .numbered()
        .map(|item| match item {
            Some((n, line)) if number => format!("{n}. {line}"),
            Some((_, line)) => line.to_owned(),
            None => capped.cut_note(what),
        })
        .collect()
}

fn lines_block(out: &mut String, indent: &str, key: &str, lines: &Lines) {
    let text = capped_lines(&lines.lines, "line", false);
    let text: Vec<&str> = text.iter().map(String::as_str).collect();
    block(out, indent, key, &text, lines.final_newline);
}

fn value_block(out: &mut String, indent: &str, key: &str, value: &Value) {
    match value {
        // One visible line (a final newline shown as `\n`): strip YAML's own.
        Value::Inline(text) if text.is_empty() => block(out, indent, key, &[], false),
        Value::Inline(text) => block(out, indent, key, &[text], false),
        Value::Block(lines) => lines_block(out, indent, key, lines),
    }
}

fn diagnostics(out: &mut String, result: &CheckResult, rendered: &Rendered) {
    let data = "    ";
    out.push_str(&format!("{YAML}---\n"));
    out.push_str(&format!("{YAML}message: {}\n", quoted(&rendered.summary)));
    out.push_str(&format!("{YAML}severity: fail\n"));
    out.push_str(&format!("{YAML}data:\n"));
    out.push_str(&format!("{data}points: 0\n"));
    out.push_str(&format!("{data}max_points: {}\n", result.max_points));
    value_block(
        out,
        data,
        "check",
        &Value::Inline(rendered.description.clone()),
    );
    if let Some(expected) = &rendered.expected {
        value_block(out, data, "expected", expected);
    }
    if let Some(seen) = &rendered.seen {
        value_block(out, data, "seen", seen);
    }
    if !rendered.steps.is_empty() {
        let steps = capped_lines(&rendered.steps, "step", true);
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        block(out, data, "steps", &steps, true);
    }
    if !rendered.transcripts.is_empty() {
        out.push_str(&format!("{data}transcripts:\n"));
        // A list, not a mapping by name: two participants may share a name.
        for (name, lines) in &rendered.transcripts {
            out.push_str(&format!("{data}  - name: {}\n", quoted(name)));
            lines_block(out, &format!("{data}    "), "text", lines);
        }
    }
    value_block(out, data, "hint", &Value::Inline(rendered.hint.clone()));
    out.push_str(&format!("{YAML}...\n"));
}

pub(super) fn render(report: &Report) -> String {
    let mut out = String::from("TAP version 14\n");
    if report.results.is_empty() {
        out.push_str("1..0 # SKIP no checks were run\n");
    } else {
        out.push_str(&format!("1..{}\n", report.results.len()));
    }
    for (number, result) in report.results.iter().enumerate() {
        let number = number + 1;
        let name = description(&result.name);
        match &result.failure {
            None => out.push_str(&format!("ok {number} - {name}\n")),
            Some(failure) => {
                out.push_str(&format!("not ok {number} - {name}\n"));
                diagnostics(&mut out, result, &Rendered::new(result, failure));
            }
        }
    }
    out.push_str(&format!(
        "# score {}/{}\n# {}\n",
        report.points(),
        report.max_points(),
        outcome(report)
    ));
    if let Some(next) = next_step(report, "in its diagnostics above") {
        out.push_str(&format!("# {next}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    #[test]
    fn the_plan_matches_the_test_points() {
        let report = sample::report();
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "TAP version 14");
        assert_eq!(lines[1], "1..5");
        let points: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| line.starts_with("ok ") || line.starts_with("not ok "))
            .collect();
        assert_eq!(
            points,
            [
                "ok 1 - wrapper/add",
                "ok 2 - server/ready",
                "not ok 3 - server/join",
                "not ok 4 - client/paste",
                "ok 5 - client/eof",
            ]
        );
        assert_eq!(
            lines[lines.len() - 3..],
            [
                "# score 7/13",
                "# 2 of 5 checks failed",
                "# Next step: fix client/paste (TODO 8) first; its hint is in its diagnostics above.",
            ]
        );
    }

    #[test]
    fn a_failure_has_a_yaml_block_with_every_piece() {
        insta::assert_snapshot!(render(&sample::report()));
    }
    /// Every line of a YAML block is indented under its test point, and the
    /// block opens and closes; every other line is TAP.
    fn check_structure(text: &str) {
        let mut in_yaml = false;
        for line in text.lines() {
            if in_yaml {
                assert!(line.starts_with("  "), "unindented YAML line {line:?}");
                assert!(
                    !line.chars().any(char::is_control),
                    "control character in YAML: {line:?}"
                );
                in_yaml = line != "  ...";
            } else if line == "  ---" {
                in_yaml = true;
            } else {
                assert!(
                    line == "TAP version 14"
                        || line.starts_with("1..")
                        || line.starts_with("ok ")
                        || line.starts_with("not ok ")
                        || line.starts_with("# "),
                    "not a TAP line: {line:?}"
                );
            }
        }
        assert!(!in_yaml, "a YAML block is not closed");
    }

    #[test]
    fn every_byte_in_a_transcript_keeps_the_stream_valid() {
        let report = sample::every_byte();
        let text = render(&report);
        check_structure(&text);
        assert!(text.contains("\\x1b"));
        assert_eq!(text.matches("  ---\n").count(), 2);
    }

    #[test]
    fn a_long_transcript_is_cut_in_the_yaml_too() {
        let mut report = sample::report();
        let failure = report.results[2].failure.as_mut().expect("failed");
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        failure.transcripts = vec![("A".to_owned(), text)];
        let text = render(&report);
        check_structure(&text);
        assert!(
            text.contains("          line 30\n          ... 60 lines cut ...\n          line 91\n")
        );
        assert!(text.contains("          line 100\n    hint: |-\n"));
    }

    #[test]
    fn hash_and_backslash_in_a_name_are_escaped() {
        let mut report = sample::report();
        report.results[0].name = "wrapper/a#b\\c".to_owned();
        assert!(render(&report).contains("ok 1 - wrapper/a\\#b\\\\c\n"));
    }

    #[test]
    fn block_scalars_keep_how_the_text_ended() {
        let mut out = String::new();
        block(&mut out, "", "a", &["x", ""], true);
        block(&mut out, "", "b", &["x"], false);
        block(&mut out, "", "c", &[" lead", "y"], true);
        block(&mut out, "", "d", &["", "e"], true);
        assert_eq!(
            out,
            "a: |+\n  x\n\nb: |-\n  x\nc: |2\n   lead\n  y\nd: |\n\n  e\n"
        );
    }

    #[test]
    fn quoted_strings_escape_what_yaml_cannot_hold() {
        assert_eq!(quoted("a \"b\" \\ c: #d"), "\"a \\\"b\\\" \\\\ c: #d\"");
        assert_eq!(
            quoted("\u{1b}\u{85}\u{feff}é"),
            "\"\\x1b\\x85\\ufeff\u{e9}\""
        );
    }

    #[test]
    fn an_empty_report_has_an_empty_plan() {
        let mut report = sample::report();
        report.results.clear();
        assert_eq!(
            render(&report),
            "TAP version 14\n1..0 # SKIP no checks were run\n# score 0/0\n# no checks were run\n"
        );
    }
}
