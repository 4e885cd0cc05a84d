//! The kit's own tasks, run as `cargo run -p xtask -- TASK`.
//!
//! - `mutants-report`: reads what `cargo mutants` wrote (`make mutants`
//!   runs it) and writes `grader/MUTANTS.md`; fails when a mutant is
//!   missed without a reviewed reason, or was never judged.
//! - `bench-report`: builds the grader with `--release`, measures the
//!   reference server against other servers with `grader bench` (`make
//!   bench` runs it, a few minutes) and writes `grader/BENCH.md`.

mod bench;
mod equivalents;
mod judge;
mod outcomes;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Writes grader/MUTANTS.md from cargo-mutants' output: every mutant of
    /// the solution blocks, and the checks that caught it or why not. Exit
    /// status 1 when a mutant is missed without a reason in the list of
    /// equivalents, timed out, or got no verdict.
    MutantsReport {
        /// cargo-mutants' output folder [default: mutants.out of the kit]
        #[arg(long, value_name = "DIR")]
        mutants_out: Option<PathBuf>,
        /// The reviewed equivalent mutants
        /// [default: grader/mutants-equivalent.toml]
        #[arg(long, value_name = "FILE")]
        equivalents: Option<PathBuf>,
        /// The report [default: grader/MUTANTS.md]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Writes grader/BENCH.md: `grader bench` (a release build) on the
    /// reference server and the servers it is compared with, in one run of
    /// a few minutes. Exit status 2 when a measurement could not run.
    BenchReport {
        /// The report [default: grader/BENCH.md]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::MutantsReport {
            mutants_out,
            equivalents,
            out,
        } => {
            let kit = kit();
            let paths = ReportPaths {
                mutants_out: mutants_out.unwrap_or_else(|| kit.join("mutants.out")),
                equivalents: equivalents
                    .unwrap_or_else(|| kit.join("grader/mutants-equivalent.toml")),
                out: out.unwrap_or_else(|| kit.join("grader/MUTANTS.md")),
            };
            match mutants_report(&paths) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(err) => {
                    eprintln!("xtask mutants-report: {err:#}");
                    ExitCode::from(2)
                }
            }
        }
        Task::BenchReport { out } => {
            let kit = kit();
            let out = out.unwrap_or_else(|| kit.join("grader/BENCH.md"));
            match bench::run(&kit, &out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("xtask bench-report: {err:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// The kit's folder: xtask/ is one of its members.
fn kit() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

struct ReportPaths {
    mutants_out: PathBuf,
    equivalents: PathBuf,
    out: PathBuf,
}

/// Writes the report; `Ok(false)` when it lists problems.
fn mutants_report(paths: &ReportPaths) -> Result<bool> {
    let outcomes = outcomes::read(&paths.mutants_out)?;
    let equivalents = equivalents::read(&paths.equivalents)?;
    let log = |relative: &str| {
        std::fs::read_to_string(paths.mutants_out.join(relative)).map_err(|err| err.to_string())
    };
    let judgement = judge::judge(&outcomes, &log, &equivalents);
    let text = report::render(&outcomes, &judgement);
    std::fs::write(&paths.out, text)
        .with_context(|| format!("cannot write {}", paths.out.display()))?;

    let caught = judgement
        .mutants
        .iter()
        .filter(|judged| matches!(judged.verdict, judge::Verdict::Caught(_)))
        .count();
    println!(
        "{}: {} mutants, {caught} caught, {} problems",
        paths.out.display(),
        judgement.mutants.len(),
        judgement.problems.len()
    );
    for problem in &judgement.problems {
        eprintln!("{problem}");
    }
    if judgement
        .mutants
        .iter()
        .any(|judged| judged.verdict == judge::Verdict::Missed)
    {
        eprintln!("{}", judge::MISSED_HINT);
    }
    Ok(judgement.problems.is_empty())
}
