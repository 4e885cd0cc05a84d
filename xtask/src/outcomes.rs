//! What cargo-mutants wrote: `mutants.out/outcomes.json`, and the log of
//! each scenario.
//!
//! Only the fields the report needs are read; cargo-mutants documents the
//! format as subject to change, so anything else it adds is ignored.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

/// `outcomes.json`.
#[derive(Debug, Deserialize)]
pub struct Outcomes {
    /// The baseline first, then each mutant in the order it was tested.
    pub outcomes: Vec<ScenarioOutcome>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub cargo_mutants_version: String,
}

/// One scenario: the unmutated baseline, or a mutant.
#[derive(Debug, Deserialize)]
pub struct ScenarioOutcome {
    pub scenario: Scenario,
    pub summary: Summary,
    /// The scenario's log, relative to the output folder.
    pub log_path: String,
    pub phase_results: Vec<PhaseResult>,
}

#[derive(Debug, Deserialize)]
pub enum Scenario {
    Baseline,
    Mutant(Mutant),
}

/// A mutant, as cargo-mutants names it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mutant {
    /// `FILE:LINE:COLUMN: MUTATION`, unique in a run.
    pub name: String,
    /// Relative to the workspace, `/`-separated.
    pub file: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Span {
    pub start: LineColumn,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct LineColumn {
    pub line: usize,
    pub column: usize,
}

/// cargo-mutants' own verdict on a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Summary {
    Success,
    CaughtMutant,
    MissedMutant,
    Unviable,
    Failure,
    Timeout,
}

/// One cargo command of a scenario.
#[derive(Debug, Deserialize)]
pub struct PhaseResult {
    pub phase: Phase,
    /// Seconds.
    pub duration: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Phase {
    Check,
    Build,
    Test,
}

impl Mutant {
    /// The mutation alone: the name without its `FILE:LINE:COLUMN: `, which
    /// moves whenever code above it changes.
    pub fn mutation(&self) -> &str {
        let location = format!(
            "{}:{}:{}: ",
            self.file, self.span.start.line, self.span.start.column
        );
        self.name.strip_prefix(&location).unwrap_or(&self.name)
    }
}

impl ScenarioOutcome {
    /// Seconds spent in the given phase (0 if it did not run).
    pub fn seconds_in(&self, phase: Phase) -> f64 {
        self.phase_results
            .iter()
            .filter(|result| result.phase == phase)
            .map(|result| result.duration)
            .sum()
    }

    /// Seconds spent in every phase.
    pub fn seconds(&self) -> f64 {
        self.phase_results
            .iter()
            .map(|result| result.duration)
            .sum()
    }
}

/// Reads `outcomes.json` of the output folder `dir`.
pub fn read(dir: &Path) -> Result<Outcomes> {
    let path = dir.join("outcomes.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (has `cargo mutants` run?)", path.display()))?;
    parse(&text).with_context(|| format!("cannot understand {}", path.display()))
}

pub fn parse(text: &str) -> Result<Outcomes> {
    Ok(serde_json::from_str(text)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A trimmed `outcomes.json` as cargo-mutants 27 writes it: a baseline,
    /// a caught mutant, a missed one.
    pub(crate) const SAMPLE: &str = r#"{
  "outcomes": [
    {
      "scenario": "Baseline",
      "summary": "Success",
      "log_path": "log/baseline.log",
      "diff_path": null,
      "phase_results": [
        {"phase": "Build", "duration": 95.5, "process_status": "Success", "argv": ["cargo"]},
        {"phase": "Test", "duration": 30.25, "process_status": "Success", "argv": ["cargo"]}
      ]
    },
    {
      "scenario": {"Mutant": {
        "name": "solution/src/server.rs:385:27: replace || with && in Clients::broadcast",
        "package": "chat",
        "file": "solution/src/server.rs",
        "function": {"function_name": "Clients::broadcast", "return_type": "", "span": {"start": {"line": 370, "column": 5}, "end": {"line": 398, "column": 6}}},
        "span": {"start": {"line": 385, "column": 27}, "end": {"line": 385, "column": 29}},
        "replacement": "&&",
        "genre": "BinaryOperator"
      }},
      "summary": "CaughtMutant",
      "log_path": "log/solution__src__server.rs_line_385_col_27.log",
      "diff_path": "diff/solution__src__server.rs_line_385_col_27.diff",
      "phase_results": [
        {"phase": "Build", "duration": 20.0, "process_status": "Success", "argv": ["cargo"]},
        {"phase": "Test", "duration": 12.0, "process_status": {"Failure": 101}, "argv": ["cargo"]}
      ]
    },
    {
      "scenario": {"Mutant": {
        "name": "solution/src/w_epoll.rs:45:5: replace w_epoll_add_fd_in -> c_int with Default::default()",
        "package": "chat",
        "file": "solution/src/w_epoll.rs",
        "function": null,
        "span": {"start": {"line": 45, "column": 5}, "end": {"line": 51, "column": 6}},
        "replacement": "Default::default()",
        "genre": "FnValue"
      }},
      "summary": "MissedMutant",
      "log_path": "log/solution__src__w_epoll.rs_line_45_col_5.log",
      "diff_path": "diff/solution__src__w_epoll.rs_line_45_col_5.diff",
      "phase_results": [
        {"phase": "Build", "duration": 18.0, "process_status": "Success", "argv": ["cargo"]},
        {"phase": "Test", "duration": 10.0, "process_status": "Success", "argv": ["cargo"]}
      ]
    }
  ],
  "total_mutants": 2,
  "missed": 1,
  "caught": 1,
  "timeout": 0,
  "unviable": 0,
  "success": 0,
  "start_time": "2026-11-26T03:00:00.5Z",
  "end_time": "2026-11-26T03:02:15.5Z",
  "cargo_mutants_version": "27.1.0"
}"#;

    #[test]
    fn reads_the_baseline_and_each_mutant() {
        let outcomes = parse(SAMPLE).expect("the sample parses");
        assert_eq!(outcomes.cargo_mutants_version, "27.1.0");
        assert_eq!(outcomes.outcomes.len(), 3);
        let baseline = &outcomes.outcomes[0];
        assert!(matches!(baseline.scenario, Scenario::Baseline));
        assert_eq!(baseline.summary, Summary::Success);
        assert_eq!(baseline.seconds_in(Phase::Build), 95.5);
        assert_eq!(baseline.seconds_in(Phase::Test), 30.25);
        assert_eq!(baseline.seconds_in(Phase::Check), 0.0);
        let Scenario::Mutant(mutant) = &outcomes.outcomes[1].scenario else {
            panic!("the second scenario is a mutant");
        };
        assert_eq!(outcomes.outcomes[1].summary, Summary::CaughtMutant);
        assert_eq!(mutant.file, "solution/src/server.rs");
        assert_eq!(mutant.span.start.line, 385);
        assert_eq!(
            mutant.mutation(),
            "replace || with && in Clients::broadcast"
        );
        assert_eq!(outcomes.outcomes[1].seconds(), 32.0);
        assert_eq!(outcomes.outcomes[2].summary, Summary::MissedMutant);
    }

    #[test]
    fn an_unknown_summary_is_an_error_not_a_guess() {
        let text = SAMPLE.replace("\"MissedMutant\"", "\"Survived\"");
        assert!(parse(&text).is_err());
    }
}
