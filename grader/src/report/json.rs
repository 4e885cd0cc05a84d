//! Gradescope's `results.json`: the score, and one test per check in table
//! order, each with the same text a student reads in the human report; and
//! the same file read back, into the [`Report`] it was written from.
//!
//! Gradescope shows `score`, `max_score`, `execution_time`, `output` and
//! each test's `name`, `score`, `max_score`, `status` and `output`; it keeps
//! `extra_data` without showing it. There the grader writes what the text
//! leaves out or cuts (each check's part, description, hint and time, and
//! its failure as data, transcripts uncut), so that [`Results::into_report`]
//! gives back the report exactly, to the millisecond: `grader render`, the
//! batch's text reports and `grader gradebook` read reports this way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{CheckResult, Failure, Report};

use super::{failure_text, next_step, score_line, seconds};

/// The top level of `results.json`. Field order is the output's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub score: u32,
    pub max_score: u32,
    /// Seconds.
    pub execution_time: f64,
    pub output: String,
    pub tests: Vec<Test>,
    /// Absent from a report another program wrote.
    #[serde(default)]
    pub extra_data: ReportData,
}

/// What the grader keeps about the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// What was graded.
    #[serde(default)]
    pub submission: String,
    /// Why the submission could not be graded at all (batch grading writes
    /// such a report, without tests, in place of one the grader did not
    /// write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_graded: Option<String>,
}

/// One check, as a Gradescope test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    pub name: String,
    pub score: u32,
    pub max_score: u32,
    pub status: Status,
    pub output: String,
    #[serde(default)]
    pub output_format: String,
    #[serde(default)]
    pub visibility: String,
    /// Absent from a report another program wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_data: Option<CheckData>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
}

/// What the grader keeps about one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckData {
    #[serde(with = "part_name")]
    pub part: crate::model::Part,
    pub description: String,
    pub hint: String,
    /// Seconds, to the millisecond.
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureData>,
}

/// A [`Failure`] as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureData {
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcripts: Vec<Transcript>,
}

/// What one participant received or printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    pub name: String,
    pub text: String,
}

impl From<&Failure> for FailureData {
    fn from(failure: &Failure) -> Self {
        FailureData {
            summary: failure.summary.clone(),
            expected: failure.expected.clone(),
            seen: failure.seen.clone(),
            steps: failure.steps.clone(),
            transcripts: failure
                .transcripts
                .iter()
                .map(|(name, text)| Transcript {
                    name: name.clone(),
                    text: text.clone(),
                })
                .collect(),
        }
    }
}

impl From<FailureData> for Failure {
    fn from(data: FailureData) -> Self {
        Failure {
            summary: data.summary,
            expected: data.expected,
            seen: data.seen,
            steps: data.steps,
            transcripts: data
                .transcripts
                .into_iter()
                .map(|t| (t.name, t.text))
                .collect(),
        }
    }
}

/// A part by its name, `server`.
mod part_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::model::Part;

    pub fn serialize<S: Serializer>(part: &Part, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(part.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Part, D::Error> {
        let name = String::deserialize(deserializer)?;
        Part::ALL
            .into_iter()
            .find(|part| part.name() == name)
            .ok_or_else(|| D::Error::custom(format!("no part is called {name:?}")))
    }
}

/// Why a stored report cannot be read back into a [`Report`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a report of the grader: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the submission was not graded: {0}")]
    NotGraded(String),
    #[error(
        "the test {0} has no extra_data: the report was written by another program, \
         or by a grader older than `grader render`; grade the submission again"
    )]
    NoDetails(String),
    #[error("the test {0} is {1:?}, but its extra_data says the opposite")]
    Inconsistent(String, Status),
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
            output_format: "text".to_owned(),
            // Students see every check: the feedback is the point.
            visibility: "visible".to_owned(),
            extra_data: Some(CheckData {
                part: result.part,
                description: result.description.clone(),
                hint: result.hint.clone(),
                seconds: seconds(result.duration),
                failure: result.failure.as_ref().map(FailureData::from),
            }),
        }
    }

    fn into_result(self) -> Result<CheckResult, ReadError> {
        let data = self
            .extra_data
            .ok_or(ReadError::NoDetails(self.name.clone()))?;
        if data.failure.is_some() != (self.status == Status::Failed) {
            return Err(ReadError::Inconsistent(self.name, self.status));
        }
        Ok(CheckResult {
            name: self.name,
            part: data.part,
            description: data.description,
            hint: data.hint,
            max_points: self.max_score,
            failure: data.failure.map(Failure::from),
            duration: millis(data.seconds),
            // Figures are soak's, which writes no Gradescope report.
            figures: Vec::new(),
        })
    }
}

/// Seconds written by [`seconds`], back to the millisecond they were.
fn millis(seconds: f64) -> Duration {
    Duration::from_millis((seconds * 1000.0).round() as u64)
}

impl Results {
    /// The results of `report`.
    pub fn new(report: &Report) -> Results {
        let mut output = format!("Graded {}. {}", report.submission, score_line(report));
        if let Some(next) = next_step(report, "in the output of that test") {
            output.push('\n');
            output.push_str(&next);
        }
        Results {
            score: report.points(),
            max_score: report.max_points(),
            execution_time: seconds(report.duration),
            output,
            tests: report.results.iter().map(Test::new).collect(),
            extra_data: ReportData {
                submission: report.submission.clone(),
                not_graded: None,
            },
        }
    }

    /// The results of a submission that could not be graded, and why.
    pub fn not_graded(submission: &str, why: &str, took: Duration) -> Results {
        Results {
            score: 0,
            max_score: 0,
            execution_time: seconds(took),
            output: format!("{submission} was not graded: {why}"),
            tests: Vec::new(),
            extra_data: ReportData {
                submission: submission.to_owned(),
                not_graded: Some(why.to_owned()),
            },
        }
    }

    /// Reads results as [`Results::to_json`] wrote them.
    pub fn parse(text: &str) -> Result<Results, ReadError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The file's text: pretty JSON, ending with a newline.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }

    /// The report these results were written from.
    pub fn into_report(self) -> Result<Report, ReadError> {
        if let Some(why) = self.extra_data.not_graded {
            return Err(ReadError::NotGraded(why));
        }
        Ok(Report {
            submission: self.extra_data.submission,
            results: self
                .tests
                .into_iter()
                .map(Test::into_result)
                .collect::<Result<_, _>>()?,
            duration: millis(self.execution_time),
        })
    }
}

pub(super) fn render(report: &Report) -> serde_json::Result<String> {
    Results::new(report).to_json()
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
            [
                "execution_time",
                "extra_data",
                "max_score",
                "output",
                "score",
                "tests"
            ]
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
        let top = [
            "score",
            "max_score",
            "execution_time",
            "output",
            "tests",
            "extra_data",
        ];
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
                    "extra_data",
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
                "extra_data": {
                    "part": "wrapper",
                    "description": "w_epoll_add_fd_in returns 0 and the descriptor is then reported readable, for input only",
                    "hint": "Look at the lab text.",
                    "seconds": 0.012,
                },
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

    /// Every report a test has, and how each format writes it.
    fn every_sample() -> Vec<Report> {
        let mut empty = sample::report();
        empty.results.clear();
        vec![
            sample::report(),
            sample::all_passed(),
            sample::every_byte(),
            empty,
        ]
    }

    #[test]
    fn a_stored_report_reads_back_into_the_report_it_was_written_from() {
        for report in every_sample() {
            let text = render(&report).expect("render");
            let back = Results::parse(&text)
                .and_then(Results::into_report)
                .expect("read back");
            // The samples' times are whole milliseconds, as JSON keeps them.
            assert_eq!(back, report);
            for &format in <super::super::Format as clap::ValueEnum>::value_variants() {
                let write = |report: &Report| {
                    let mut out = Vec::new();
                    let style = super::super::Style { color: false };
                    super::super::write(report, format, &mut out, style).expect("write");
                    out
                };
                assert!(write(&back) == write(&report), "{format} differs");
            }
        }
    }

    #[test]
    fn times_are_kept_to_the_millisecond() {
        let mut report = sample::report();
        report.duration = Duration::from_micros(1_150_999);
        report.results[0].duration = Duration::from_nanos(1);
        let back = Results::new(&report).into_report().expect("read back");
        assert_eq!(back.duration, Duration::from_millis(1_150));
        assert_eq!(back.results[0].duration, Duration::ZERO);
    }

    #[test]
    fn what_cannot_be_read_back_says_why() {
        let not_graded = Results::not_graded("ada", "no crate", Duration::ZERO);
        let text = not_graded.to_json().expect("render");
        assert!(matches!(
            Results::parse(&text).and_then(Results::into_report),
            Err(ReadError::NotGraded(why)) if why == "no crate"
        ));
        // A Gradescope report of another autograder: the scores are read,
        // the details are not there.
        let other = r#"{"score": 1, "max_score": 2, "execution_time": 0.5, "output": "",
            "tests": [{"name": "t", "score": 1, "max_score": 2, "status": "failed", "output": "x"}]}"#;
        let results = Results::parse(other).expect("Gradescope's shape");
        assert_eq!((results.score, results.tests[0].score), (1, 1));
        let err = results.into_report().expect_err("no details");
        assert!(
            err.to_string().contains("the test t has no extra_data"),
            "{err}"
        );
        let mut results = Results::new(&sample::report());
        results.tests[2].status = Status::Passed;
        assert!(matches!(
            results.into_report(),
            Err(ReadError::Inconsistent(name, Status::Passed)) if name == "server/join"
        ));
        assert!(matches!(Results::parse("{}"), Err(ReadError::Json(_))));
    }
}
