//! [`Failure`]: what went wrong in a test or a check, for a student to act
//! on. Every wait, send and connect of the harness returns one instead of
//! panicking, so a grader can score it and a test can print it.

use std::fmt;

/// What went wrong, in the words a report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// One sentence: which behaviour failed.
    pub summary: String,
    /// What the check waited for, if it was waiting for something.
    pub expected: Option<String>,
    /// What it saw instead.
    pub seen: Option<String>,
    /// The steps taken up to the failure, in order ("A sends \"hello\\n\"").
    pub steps: Vec<String>,
    /// What each participant received or printed, capped: (name, text).
    pub transcripts: Vec<(String, String)>,
}

/// What a step of a test returns: `Err` says what went wrong.
pub type Outcome = Result<(), Failure>;

/// How the summary of a failure in a check's set-up begins.
const NOT_CHECKED: &str = "not checked: ";

impl Failure {
    /// A failure with just a summary.
    pub fn new(summary: impl Into<String>) -> Self {
        Failure {
            summary: summary.into(),
            ..Failure::default()
        }
    }

    /// This failure, as one of a check's set-up: the behaviour the check is
    /// about was never reached, so the report says it was not checked, and
    /// which check to fix first.
    pub fn not_checked(self, fix_first: &str) -> Self {
        if self.is_not_checked() {
            return self;
        }
        Failure {
            summary: format!(
                "{NOT_CHECKED}the submission did not get this far ({}); fix {fix_first} first",
                self.summary
            ),
            ..self
        }
    }

    /// This failure, its summary led by `context`: what the check had done
    /// when it happened.
    pub fn after(self, context: impl fmt::Display) -> Self {
        Failure {
            summary: format!("{context}: {}", self.summary),
            ..self
        }
    }

    /// Whether this failure is one of a check's set-up.
    pub fn is_not_checked(&self) -> bool {
        self.summary.starts_with(NOT_CHECKED)
    }
}

/// The failure as a test prints it: the summary, what was expected and
/// seen, the steps, then each transcript.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary)?;
        if let Some(expected) = &self.expected {
            writeln!(f, "  expected: {expected}")?;
        }
        if let Some(seen) = &self.seen {
            writeln!(f, "  seen:     {seen}")?;
        }
        if !self.steps.is_empty() {
            writeln!(f, "  steps:")?;
            for (number, step) in self.steps.iter().enumerate() {
                writeln!(f, "    {}. {step}", number + 1)?;
            }
        }
        for (name, text) in &self.transcripts {
            writeln!(f, "  what {name} received:")?;
            for line in text.lines() {
                writeln!(f, "    | {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_up_failure_names_the_check_to_fix_first_once() {
        let failure = Failure::new("A could not connect")
            .not_checked("server/broadcast")
            .not_checked("server/join");
        assert!(failure.is_not_checked());
        assert_eq!(
            failure.summary,
            "not checked: the submission did not get this far (A could not connect); \
             fix server/broadcast first"
        );
    }

    #[test]
    fn a_printed_failure_shows_every_part() {
        let failure = Failure {
            summary: "B did not receive the line in time".into(),
            expected: Some("the line \"hi\"".into()),
            seen: Some("nothing".into()),
            steps: vec!["A sends \"hi\\n\"".into()],
            transcripts: vec![("B".into(), "one\ntwo\n".into())],
        };
        assert_eq!(
            failure.to_string(),
            "B did not receive the line in time\n  expected: the line \"hi\"\n  seen:     nothing\n  \
             steps:\n    1. A sends \"hi\\n\"\n  what B received:\n    | one\n    | two\n"
        );
    }
}
