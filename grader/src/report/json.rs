//! Gradescope's `results.json`: the score, and one test per check in table
//! order, each with the same text a student reads in the human report.

use std::io;

use serde::Serialize;

use crate::model::{CheckResult, Report};

use super::{failure_text, next_step, score_line, seconds};

/// The top level of `results.json`. Field order is the output's key order.
#[derive(Debug, Serialize)]
struct Results {
    score: u32,
    max_score: u32,
    /// Seconds.
    execution_time: f64,
    output: String,
    tests: Vec<Test>,
}

#[derive(Debug, Serialize)]
struct Test {
    name: String,
    score: u32,
    max_score: u32,
    status: Status,
    output: String,
    output_format: &'static str,
    visibility: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Passed,
    Failed,
}

impl Test {
    fn new(result: &CheckResult) -> Test {
        Test {
            name: result.name.clone(),
            score: result.points(),
            max_score: result.max_points,
            status: if result.passed() {
                Status::Passed
            } else {
                Status::Failed
            },
            // A passed check says what it proved.
            output: failure_text(result).unwrap_or_else(|| result.description.clone()),
            // "text": Gradescope shows it preformatted, so the indented steps
            // and transcripts keep their shape (markdown would reflow them).
            output_format: "text",
            // Students see every check: the feedback is the point.
            visibility: "visible",
        }
    }
}

pub(super) fn render(report: &Report) -> io::Result<String> {
    let mut output = format!("Graded {}. {}", report.submission, score_line(report));
    if let Some(next) = next_step(report, "in the output of that test") {
        output.push('\n');
        output.push_str(&next);
    }
    let results = Results {
        score: report.points(),
        max_score: report.max_points(),
        execution_time: seconds(report.duration),
        output,
        tests: report.results.iter().map(Test::new).collect(),
    };
    let mut text = serde_json::to_string_pretty(&results)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::sample;
    use super::*;

    fn parse(report: &Report) -> Value {
        let text = render(report).expect("render");
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn the_top_level_has_gradescopes_fields_and_the_score() {
        let report = sample::report();
        let json = parse(&report);
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        // The order on disk is checked below.
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["execution_time", "max_score", "output", "score", "tests"]
        );
        // 2 + 3 + 2 points of the passed checks.
        assert_eq!(json["score"], json!(7));
        assert_eq!(json["max_score"], json!(13));
        assert_eq!(json["execution_time"], json!(4.217));
        assert_eq!(
            json["output"],
            json!(
                "Graded support/. Score: 7/13 (wrapper 2/2, client 2/5, server 3/6); 2 of 5 checks failed.\n\
                 Next step: fix client/paste (TODO 8) first; its hint is in the output of that test."
            )
        );
    }

    #[test]
    fn keys_are_written_in_a_fixed_order() {
        let text = render(&sample::report()).expect("render");
        let position = |key: &str| {
            text.find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("no {key}"))
        };
        let top = ["score", "max_score", "execution_time", "output", "tests"];
        assert!(top.windows(2).all(|w| position(w[0]) < position(w[1])));
        // Rendering twice gives the same bytes.
        assert_eq!(text, render(&sample::report()).expect("render"));
    }

    #[test]
    fn there_is_one_test_per_check_in_table_order() {
        let report = sample::report();
        let json = parse(&report);
        let tests = json["tests"].as_array().expect("an array");
        let names: Vec<&str> = tests
            .iter()
            .map(|t| t["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(
            names,
            [
                "wrapper/add",
                "server/ready",
                "server/join",
                "client/paste",
                "client/eof"
            ]
        );
        for test in tests {
            let mut keys: Vec<&str> = test
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "max_score",
                    "name",
                    "output",
                    "output_format",
                    "score",
                    "status",
                    "visibility"
                ]
            );
            assert_eq!(test["output_format"], json!("text"));
            assert_eq!(test["visibility"], json!("visible"));
        }
    }

    #[test]
    fn passed_and_failed_tests_have_their_scores_and_texts() {
        let report = sample::report();
        let json = parse(&report);
        let tests = &json["tests"];
        assert_eq!(
            tests[0],
            json!({
                "name": "wrapper/add",
                "score": 2,
                "max_score": 2,
                "status": "passed",
                "output": "w_epoll_add_fd_in returns 0 and the descriptor is then reported readable, for input only",
                "output_format": "text",
                "visibility": "visible",
            })
        );
        let join = &tests[2];
        assert_eq!(join["status"], json!("failed"));
        assert_eq!(join["score"], json!(0));
        assert_eq!(join["max_score"], json!(3));
        assert_eq!(
            join["output"].as_str(),
            failure_text(&report.results[2]).as_deref()
        );
        let output = join["output"].as_str().expect("a string");
        assert!(output.starts_with("B did not see the notice that C joined\n"));
        assert!(output.contains("  | [127.0.0.1:40002] (connected)\\r\n"));
        assert!(output.contains("  | hel\\0lo \u{fffd}\u{fffd} world\n"));
        assert!(output.contains("hint:     TODO 12:"));
        let sum: u64 = tests
            .as_array()
            .expect("an array")
            .iter()
            .filter(|t| t["status"] == "passed")
            .map(|t| t["score"].as_u64().expect("a number"))
            .sum();
        assert_eq!(json["score"].as_u64(), Some(sum));
    }

    #[test]
    fn every_byte_in_a_transcript_gives_valid_json() {
        let report = sample::every_byte();
        let json = parse(&report);
        let output = json["tests"][2]["output"].as_str().expect("a string");
        assert!(output.contains("\\x1b"));
        assert!(!output.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn a_report_that_passed_has_full_marks_and_no_next_step() {
        let json = parse(&sample::all_passed());
        assert_eq!(json["score"], json["max_score"]);
        assert_eq!(
            json["output"],
            json!(
                "Graded support/. Score: 13/13 (wrapper 2/2, client 5/5, server 6/6); all 5 checks passed."
            )
        );
    }
}
