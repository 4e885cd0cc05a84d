//! `grader`: grades the epoll chat lab. See `grader --help`.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use grader::batch::{Graded, Row, Shard};
use grader::catalog::{self, Lab};
use grader::context::Config;
use grader::model::{CheckResult, Failure, Part, Report};
use grader::report::json::Results;
use grader::report::{self, Format, Style};
use grader::runner::{self, Plan};
use grader::sandbox::{self, Limits};
use grader::submission::{self, BuildError};

/// Grades the epoll chat lab: builds a student's crate (or takes any
/// executables that follow the protocol), runs its server and client
/// against the reference peers and raw TCP peers, and scores each check.
///
/// Exit status: 0 when every check passed, 1 when some failed, 2 when it
/// could not grade at all.
#[derive(Parser, Debug)]
#[command(name = "grader", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    grade: GradeArgs,
}

#[derive(Args, Debug)]
struct GradeArgs {
    /// The lab to grade: chat (lab 1: the wrapper, client and server) or
    /// room (lab 2: `room`, its `room-helper`, and `select-client`).
    #[arg(long, value_enum, default_value_t = LabArg::Chat)]
    lab: LabArg,
    /// The student's crate to build and grade (default: support).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["server", "client"])]
    dir: Option<PathBuf>,
    /// A server executable to grade, in any language (skips the build);
    /// with `--lab room`, the room.
    #[arg(long, value_name = "EXE")]
    server: Option<PathBuf>,
    /// A client executable to grade, in any language (skips the build);
    /// with `--lab room`, the select-client.
    #[arg(long, value_name = "EXE")]
    client: Option<PathBuf>,
    /// Grade only this part (repeatable).
    #[arg(long = "part", value_enum, value_name = "PART")]
    parts: Vec<PartArg>,
    /// Run only this check, for example server/join (repeatable; see
    /// --list, and --lab room --list).
    #[arg(long = "check", value_name = "NAME", value_parser = check_name)]
    checks: Vec<&'static str>,
    /// The report's format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// List the checks, their points and what they test, and exit.
    #[arg(long)]
    list: bool,
    /// How many checks run at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    jobs: usize,
    #[command(flatten)]
    timeouts: Timeouts,
    /// When run as root: the unprivileged user that builds and runs the
    /// submission (default: chatgrader, if that user exists; else the
    /// submission runs as root, unprotected).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

#[derive(Args, Debug, Clone, Copy)]
struct Timeouts {
    /// Multiplies the checks' deadlines (5 s for each thing a check waits
    /// for, 40 s for a whole check) and, in a batch, the bound on each
    /// grading (15 minutes), for slow or crowded machines. A correct
    /// submission never waits for a deadline, so only failing checks take
    /// longer. The build and the wrapper tests are not scaled: 10 minutes
    /// each is far more than they need.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR", value_parser = parse_scale)]
    timeout_scale: f64,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if (0.5..=20.0).contains(&scale) => Ok(scale),
        _ => Err(format!("not a factor between 0.5 and 20: {text}")),
    }
}

fn check_name(name: &str) -> Result<&'static str, String> {
    catalog::find(name)
        .map(|check| check.name)
        .ok_or_else(|| format!("no check is called {name:?}: `grader --list` shows them all"))
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PartArg {
    Wrapper,
    Server,
    Client,
    /// Lab 2's room.
    Room,
    /// Lab 2's select-client.
    SelectClient,
}

impl From<PartArg> for Part {
    fn from(part: PartArg) -> Part {
        match part {
            PartArg::Wrapper => Part::Wrapper,
            PartArg::Server => Part::Server,
            PartArg::Client => Part::Client,
            PartArg::Room => Part::Room,
            PartArg::SelectClient => Part::SelectClient,
        }
    }
}

/// The lab graded (`--lab`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LabArg {
    /// Lab 1, the chat: wrapper, client, server.
    Chat,
    /// Lab 2, the room: room (with room-helper) and select-client.
    Room,
}

impl From<LabArg> for Lab {
    fn from(lab: LabArg) -> Lab {
        match lab {
            LabArg::Chat => Lab::Chat,
            LabArg::Room => Lab::Room,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The reference server: `grader reference-server [PORT]`.
    ReferenceServer {
        #[arg(allow_hyphen_values = true, value_name = "PORT")]
        args: Vec<String>,
    },
    /// The reference client: `grader reference-client [HOST [PORT]]`.
    ReferenceClient {
        #[arg(allow_hyphen_values = true, value_name = "HOST PORT")]
        args: Vec<String>,
    },
    /// Hostile peers and sustained load against a server (any language):
    /// each case checks that it stays alive, that its memory stays bounded,
    /// and that well-behaved clients get every line. Exit status 0 when
    /// every case passed, 1 when some failed, 2 when it could not run.
    Soak {
        /// The server to soak.
        #[arg(long, value_name = "EXE")]
        server: PathBuf,
        /// Run only this case (repeatable): fd-flood, long-lines, binary,
        /// resets, churn, slowloris, slow-consumer.
        #[arg(long = "case", value_name = "NAME")]
        cases: Vec<String>,
        /// human, or json (one object).
        #[arg(long, value_enum, default_value_t = SoakFormat::Human)]
        format: SoakFormat,
    },
    /// Measures a chat server under load: N raw TCP clients, K of them
    /// sending M lines as fast as it takes them; deliveries per second,
    /// latency, lost lines, the server's memory and CPU. `--idle N` holds N
    /// idle connections instead. Exit status 0 when no line was lost, 1 when
    /// some were, 2 when it could not run.
    Bench(grader::bench::Args),
    /// Grades every crate in a folder (one subfolder per student) into a
    /// gradebook CSV and, per submission, a JSON report and the same report
    /// as text. Exit status 0 when every submission was graded, 2 when some
    /// could not be.
    Batch(BatchArgs),
    /// Merges the report folders of batches (one per shard, say) into one
    /// gradebook CSV, the same as one batch over the whole folder writes.
    /// Exit status 0 when every submission in it was graded, 2 when some
    /// were not or the reports could not be read.
    Gradebook {
        /// The report folders (`batch --reports DIR`).
        #[arg(required = true, value_name = "DIR")]
        reports: Vec<PathBuf>,
        /// Write the gradebook to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Writes a stored JSON report (`--format json`, or a batch's
    /// NAME.json) in another format: `human` gives the report as grading
    /// printed it. Exit status 0 when it was written, 2 when the report
    /// could not be read.
    Render {
        /// The stored report.
        #[arg(value_name = "REPORT.json")]
        report: PathBuf,
        /// The format to write.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Write it to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct BatchArgs {
    /// The folder of submissions.
    submissions: PathBuf,
    /// The lab to grade (see the grading options).
    #[arg(long, value_enum, default_value_t = LabArg::Chat)]
    lab: LabArg,
    /// Where the reports, logs and build folders go.
    #[arg(long, value_name = "DIR", default_value = "grades")]
    reports: PathBuf,
    /// The gradebook (default: REPORTS/gradebook.csv).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// How many submissions are graded at once (default: half the cores,
    /// at least 1). Each grading runs several checks at once, and the
    /// timing checks need a machine that is not overloaded.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Grade part K of N of the folder, for N machines at once: the
    /// submissions whose place in the sorted list of names, counted from 0,
    /// is K-1 modulo N. `grader gradebook` merges the parts' reports.
    #[arg(long, value_name = "K/N", default_value_t = Shard::WHOLE)]
    shard: Shard,
    #[command(flatten)]
    timeouts: Timeouts,
    /// When run as root: an unprivileged user that builds and runs
    /// submissions (default: chatgrader, if that user exists). Give one
    /// per submission to grade at once (repeat it): two gradings never
    /// share a user, so there are at most as many jobs as users.
    #[arg(long = "user", value_name = "NAME")]
    users: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = run(cli);
    if sandbox::interrupted() {
        // The signal-handling thread is stopping everything and will end
        // the process with the signal's status: wait for it.
        loop {
            std::thread::park();
        }
    }
    code
}

fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::ReferenceServer { args }) => reference_server(&args),
        Some(Command::ReferenceClient { args }) => reference_client(&args),
        Some(Command::Soak {
            server,
            cases,
            format,
        }) => contained(soak(server, &cases, format)),
        Some(Command::Bench(args)) => grader::bench::main(args),
        Some(Command::Batch(args)) => contained(batch(args)),
        Some(Command::Gradebook { reports, out }) => failed_with(gradebook(&reports, out)),
        Some(Command::Render {
            report,
            format,
            out,
        }) => failed_with(render(&report, format, out)),
        None => contained(grade(cli.grade)),
    }
}

/// The exit status of a command that started contained processes: its own,
/// or 2 (could not run) with the error on stderr; either way, nothing it
/// started is left running.
fn contained(result: anyhow::Result<ExitCode>) -> ExitCode {
    let code = failed_with(result);
    sandbox::cleanup();
    code
}

/// The exit status of a command: its own, or 2 (could not run) with the
/// error on stderr.
fn failed_with(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|err| {
        eprintln!("grader: {err:#}");
        ExitCode::from(2)
    })
}

/// The reference server, exactly as the solution's `server` binary.
fn reference_server(args: &[String]) -> ExitCode {
    match chat::cli::ServerArgs::parse(args) {
        Ok(args) => exit_with(chat::server::run(&args), "server"),
        Err(usage) => {
            eprintln!("server: {usage}");
            ExitCode::from(2)
        }
    }
}

/// The reference client, exactly as the solution's `client` binary.
fn reference_client(args: &[String]) -> ExitCode {
    match chat::cli::ClientArgs::parse(args) {
        Ok(args) => exit_with(chat::client::run(&args), "client"),
        Err(usage) => {
            eprintln!("client: {usage}");
            ExitCode::from(2)
        }
    }
}

fn exit_with(result: io::Result<()>, what: &str) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{what}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// How `grader soak` prints its report.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SoakFormat {
    /// A line per case with its figures, then each failure.
    Human,
    /// One JSON object.
    Json,
}

fn soak(server: PathBuf, cases: &[String], format: SoakFormat) -> anyhow::Result<ExitCode> {
    for name in cases {
        if grader::soak::case(name).is_none() {
            bail!("no soak case is called {name:?}");
        }
    }
    sandbox::install().context("prepare to contain the server")?;
    let reference = std::env::current_exe().context("find the grader's own executable")?;
    let live = io::stderr().is_terminal();
    let report = grader::soak::run(absolute(server)?, reference, cases, &|result| {
        if live {
            let mark = if result.passed() { "PASS" } else { "FAIL" };
            eprintln!(
                "{mark}  {} ({:.1} s)",
                result.name,
                result.duration.as_secs_f64()
            );
        }
    });
    match format {
        SoakFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&grader::soak::json(&report))?
        ),
        SoakFormat::Human => print!("{}", grader::soak::human(&report)),
    }
    Ok(if report.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn batch(args: BatchArgs) -> anyhow::Result<ExitCode> {
    sandbox::install().context("prepare to contain the graders it starts")?;
    let users = if args.users.is_empty() {
        grading_account(None)?.into_iter().collect()
    } else {
        let mut accounts = Vec::new();
        for name in &args.users {
            accounts.extend(grading_account(Some(name))?);
        }
        accounts
    };
    let jobs = args.jobs.unwrap_or_else(half_the_cores);
    let batch = grader::batch::Batch {
        submissions: args.submissions,
        reports: absolute(args.reports)?,
        jobs,
        // Itself, whatever is at its path on disk by now.
        grader: PathBuf::from("/proc/self/exe"),
        users,
        shard: args.shard,
        timeout_scale: args.timeouts.timeout_scale,
        lab: args.lab.into(),
    };
    if !batch.users.is_empty() {
        let names: Vec<&str> = batch.users.iter().map(|u| u.name.as_str()).collect();
        let fewer = if batch.workers() < jobs {
            " (one grading user per submission graded at once: give more with --user)"
        } else {
            ""
        };
        eprintln!(
            "grader: the submissions run as {}; {} at once{fewer}",
            names.join(", "),
            batch.workers()
        );
    }
    let rows = grader::batch::run(&batch, &|row| eprintln!("{}", progress_row(row)))?;
    // Every grading is over: nothing of the grading users may be left.
    for user in &batch.users {
        if let Err(err) = grader::sandbox::user::kill_every_process_of(user) {
            eprintln!(
                "grader: could not kill the processes of {}: {err}",
                user.name
            );
        }
    }
    let csv = args
        .csv
        .unwrap_or_else(|| batch.reports.join("gradebook.csv"));
    write_gradebook(&rows, Some(&csv))?;
    let shard = if batch.shard == Shard::WHOLE {
        String::new()
    } else {
        format!(" (shard {})", batch.shard)
    };
    println!(
        "{}{shard}; gradebook: {}; reports: {}",
        counts(&rows),
        csv.display(),
        batch.reports.display()
    );
    Ok(all_graded(&rows))
}

/// Half the cores, at least one: what `batch --jobs` advises.
fn half_the_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

/// A row as it is done: `ada  87/100 (12.3 s)`, or why it was not graded.
fn progress_row(row: &Row) -> String {
    match &row.graded {
        Graded::Scored {
            score, max_score, ..
        } => format!(
            "{:<24} {score:>3}/{max_score} ({:.1} s)",
            row.name, row.seconds
        ),
        Graded::NotGraded(why) => format!("{:<24} not graded: {why}", row.name),
    }
}

/// `3 submissions, 2 graded, 1 not graded`.
fn counts(rows: &[Row]) -> String {
    let ungraded = rows
        .iter()
        .filter(|row| matches!(row.graded, Graded::NotGraded(_)))
        .count();
    format!(
        "{} submissions, {} graded, {ungraded} not graded",
        rows.len(),
        rows.len() - ungraded
    )
}

fn all_graded(rows: &[Row]) -> ExitCode {
    if rows
        .iter()
        .all(|row| matches!(row.graded, Graded::Scored { .. }))
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// Writes the gradebook to `path`, or to standard output.
fn write_gradebook(rows: &[Row], path: Option<&Path>) -> anyhow::Result<()> {
    match path {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
            grader::batch::write_csv(rows, file)
                .with_context(|| format!("write {}", path.display()))
        }
        None => grader::batch::write_csv(rows, io::stdout().lock()).context("write the gradebook"),
    }
}

fn gradebook(reports: &[PathBuf], out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let rows = grader::batch::gradebook(reports)?;
    write_gradebook(&rows, out.as_deref())?;
    match out {
        Some(out) => println!("{}; gradebook: {}", counts(&rows), out.display()),
        // Standard output is the gradebook.
        None => eprintln!("{}", counts(&rows)),
    }
    Ok(all_graded(&rows))
}

fn render(path: &Path, format: Format, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let report = Results::parse(&text)
        .and_then(Results::into_report)
        .with_context(|| format!("{} cannot be rendered", path.display()))?;
    write_report(&report, format, out.as_ref())?;
    Ok(ExitCode::SUCCESS)
}

/// Grades one submission: builds it (or takes the executables given), runs
/// the checks and writes the report.
fn grade(args: GradeArgs) -> anyhow::Result<ExitCode> {
    let lab = Lab::from(args.lab);
    if args.list {
        list_checks(lab);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(other) = args
        .checks
        .iter()
        .find(|name| Lab::of_check(name) != Some(lab))
    {
        bail!(
            "{other} is not a check of the lab {} (`grader --lab {} --list` shows them)",
            lab.name(),
            lab.name()
        );
    }
    sandbox::install().context("prepare to contain the submission's processes")?;
    let started = Instant::now();
    let building = args.server.is_none() && args.client.is_none();
    let protection = grading_user(args.user.as_deref(), building)?;
    let mut config = check_config(args.timeouts)?;
    let subject = if building {
        let dir = args.dir.unwrap_or_else(|| PathBuf::from("support"));
        build_crate(dir, lab, &mut config)?
    } else {
        given_executables(args.server, args.client, lab, &mut config)?
    };
    let parts = parts_to_grade(lab, &args.parts, &config, building)?;
    let wanted = |check: &catalog::Check| {
        parts.contains(&check.part) && (args.checks.is_empty() || args.checks.contains(&check.name))
    };
    let plan = Plan {
        checks: lab.checks().iter().filter(|check| wanted(check)).collect(),
        build_failure: subject
            .build_failure
            .or_else(|| missing_executable(lab, &config, &parts)),
        config: Arc::new(config),
        wrapper_crate: subject.wrapper_crate,
        jobs: args.jobs,
    };
    let results = run_checks(&plan);
    // Everything the submission started is gone before the report exists:
    // nothing of it can rewrite the report once written.
    sandbox::cleanup();
    let report = Report {
        submission: match &protection {
            Some(note) => format!("{} ({note})", subject.label),
            None => subject.label,
        },
        results,
        duration: started.elapsed(),
    };
    write_report(&report, args.format, args.out.as_ref())?;
    Ok(if report.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the checks run on: what the report calls it, and what its build
/// gave.
struct Subject {
    label: String,
    /// Why nothing can run (the crate does not compile): every check fails
    /// with it.
    build_failure: Option<Failure>,
    /// The crate and its build folder, for the wrapper tests.
    wrapper_crate: Option<(PathBuf, PathBuf)>,
}

/// What the checks are given; the executables are set by what is graded.
fn check_config(timeouts: Timeouts) -> anyhow::Result<Config> {
    Ok(Config {
        server: None,
        client: None,
        helper: None,
        reference: std::env::current_exe().context("find the grader's own executable")?,
        step: Duration::from_secs(5).mul_f64(timeouts.timeout_scale),
        check_limit: Duration::from_secs(40).mul_f64(timeouts.timeout_scale),
        limits: Limits::SUBMISSION,
    })
}

/// Builds the crate in `dir` for the checks. A crate that does not compile
/// is graded (every check fails with the compiler's message); a folder
/// that is not a crate cannot be.
fn build_crate(dir: PathBuf, lab: Lab, config: &mut Config) -> anyhow::Result<Subject> {
    let mut subject = Subject {
        label: dir.display().to_string(),
        build_failure: None,
        wrapper_crate: None,
    };
    if io::stderr().is_terminal() {
        eprintln!("building {} ...", subject.label);
    }
    match submission::build(&dir) {
        Ok(built) => {
            match lab {
                Lab::Chat => {
                    config.server = built.server;
                    config.client = built.client;
                }
                Lab::Room => {
                    // The room runs its helper from beside itself.
                    let beside = built.room.as_ref().is_some_and(|room| {
                        built
                            .room_helper
                            .as_ref()
                            .is_some_and(|helper| helper.parent() == room.parent())
                    });
                    config.server = built.room.filter(|_| beside);
                    config.helper = built.room_helper;
                    config.client = built.select_client;
                }
            }
            // The processes under test must be these files: the checks
            // compare /proc/PID/exe with them.
            for exe in [&config.server, &config.client, &config.helper]
                .into_iter()
                .flatten()
            {
                grader::launch::expect_built(exe)
                    .with_context(|| format!("read {}", exe.display()))?;
            }
            subject.wrapper_crate = Some((built.crate_dir, built.target_dir));
        }
        Err(BuildError::NotACrate(why) | BuildError::Setup(why)) => bail!(why),
        Err(BuildError::Failed(failure)) => subject.build_failure = Some(failure),
    }
    // Whatever the build left running (a build script's daemon) is stopped
    // before anything is checked.
    sandbox::kill_strays();
    Ok(subject)
}

/// Executables given on the command line, in any language.
fn given_executables(
    server: Option<PathBuf>,
    client: Option<PathBuf>,
    lab: Lab,
    config: &mut Config,
) -> anyhow::Result<Subject> {
    config.server = server.map(absolute).transpose()?;
    config.client = client.map(absolute).transpose()?;
    let (server_is, client_is) = match lab {
        Lab::Chat => ("server", "client"),
        Lab::Room => ("room", "select-client"),
    };
    let label = [(server_is, &config.server), (client_is, &config.client)]
        .iter()
        .filter_map(|(what, exe)| exe.as_ref().map(|e| format!("{what} {}", e.display())))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Subject {
        label,
        build_failure: None,
        wrapper_crate: None,
    })
}

/// The parts asked for (all by default), less those that cannot be graded
/// without a crate: the wrapper, and a part whose executable is not given.
fn parts_to_grade(
    lab: Lab,
    asked: &[PartArg],
    config: &Config,
    building: bool,
) -> anyhow::Result<Vec<Part>> {
    let mut parts: Vec<Part> = if asked.is_empty() {
        lab.parts().to_vec()
    } else {
        asked.iter().map(|&p| p.into()).collect()
    };
    if let Some(other) = parts.iter().find(|part| !lab.parts().contains(part)) {
        bail!("{other} is not a part of the lab {}", lab.name());
    }
    if !building {
        parts.retain(|part| match part {
            Part::Wrapper | Part::Soak => false,
            Part::Server | Part::Room => config.server.is_some(),
            Part::Client | Part::SelectClient => config.client.is_some(),
        });
    }
    if parts.is_empty() {
        bail!("nothing to grade: the parts asked for need executables that were not given");
    }
    Ok(parts)
}

/// The hint of every check when nothing could run: the checks' own hints
/// point at TODOs, which are not the problem yet.
const NOT_BUILT_HINT: &str = "Nothing was checked: fix what the first line says first \
    (`cargo build` shows the compiler's errors in full), then grade again.";

/// Runs the plan, printing each check's line as it ends when stderr is a
/// terminal.
fn run_checks(plan: &Plan) -> Vec<CheckResult> {
    let live = io::stderr().is_terminal();
    let style = Style { color: live };
    let progress = move |result: &CheckResult| {
        if live {
            eprintln!("{}", report::progress_line(result, style));
        }
    };
    let mut results = runner::run(plan, &progress);
    if plan.build_failure.is_some() {
        for result in &mut results {
            result.hint = NOT_BUILT_HINT.to_owned();
        }
    }
    results
}

/// Decides who runs the submission. As root, that is the grading user
/// (`--user`, or chatgrader if it exists), set up for the rest of the run;
/// returns what the report says about it. Otherwise, or as root without
/// such a user, the submission runs as the grader does (`None`).
fn grading_user(name: Option<&str>, building: bool) -> anyhow::Result<Option<String>> {
    use grader::sandbox::user::RunAs;
    let Some(account) = grading_account(name)? else {
        return Ok(None);
    };
    let cargo = find_program(&grader::tool::cargo())
        .context("find cargo for the grading user: set CARGO, or put cargo on PATH")?;
    let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from);
    let run_as = RunAs::new(account, &cargo, cargo_home.as_deref())
        .context("prepare to run the submission as the grading user")?;
    let name = run_as.account.name.clone();
    let note = run_as.describe();
    sandbox::run_submissions_as(run_as)?;
    if building {
        // Fail now, with a reason, rather than in every check.
        let mut version = std::process::Command::new(grader::tool::cargo());
        version.arg("--version");
        let until = Instant::now() + Duration::from_secs(60);
        let output = grader::tool::run_tool(version, "cargo --version", Limits::BUILD, until)
            .map_err(|failure| anyhow::anyhow!(failure.summary))?;
        if !output.status.success() {
            bail!(
                "the grading user {name} cannot run cargo ({}): {}; give it a toolchain it can read and set CARGO to its cargo (see the instructors' guide, Gradescope)",
                cargo.display(),
                output.stderr.trim()
            );
        }
    }
    eprintln!("grader: {note}");
    Ok(Some(note))
}

/// The grading user: `--user NAME`, or chatgrader if it exists, when the
/// grader runs as root; `None` otherwise (the submission runs as the
/// grader does, as it always did).
fn grading_account(name: Option<&str>) -> anyhow::Result<Option<grader::sandbox::user::Account>> {
    use grader::sandbox::user;
    if !user::is_root() {
        if let Some(name) = name {
            bail!("--user {name}: only root can run the submission as another user");
        }
        return Ok(None);
    }
    Ok(match name {
        Some(name) => Some(
            user::lookup(name)
                .with_context(|| format!("look up the user {name}"))?
                .with_context(|| format!("--user {name}: there is no such user"))?,
        ),
        None => user::lookup(user::DEFAULT_USER)
            .with_context(|| format!("look up the user {}", user::DEFAULT_USER))?,
    })
}

/// Where `program` is: itself if it names a path, else the first match on
/// the grader's PATH.
fn find_program(program: &std::ffi::OsStr) -> Option<PathBuf> {
    let program = std::path::Path::new(program);
    if program.components().count() > 1 {
        return std::path::absolute(program).ok();
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A crate that built but lacks the `server` or `client` binary cannot be
/// graded for that part: say so in every check rather than crash.
fn missing_executable(lab: Lab, config: &Config, parts: &[Part]) -> Option<Failure> {
    if lab == Lab::Room && parts.contains(&Part::Room) && config.server.is_none() {
        return Some(Failure::new(
            "the crate has no `room` binary with a `room-helper` beside it (src/bin/room.rs and src/bin/room-helper.rs)",
        ));
    }
    let missing: Vec<&str> = [
        (Part::Server, &config.server, "server"),
        (Part::Client, &config.client, "client"),
        (Part::SelectClient, &config.client, "select-client"),
    ]
    .into_iter()
    .filter(|(part, exe, _)| parts.contains(part) && exe.is_none())
    .map(|(_, _, name)| name)
    .collect();
    (!missing.is_empty()).then(|| {
        Failure::new(format!(
            "the crate has no `{}` binary (src/bin/{}.rs)",
            missing.join("` or `"),
            missing[0]
        ))
    })
}

fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    std::path::absolute(&path).with_context(|| format!("resolve {}", path.display()))
}

fn write_report(report: &Report, format: Format, out: Option<&PathBuf>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            let mut file =
                File::create(path).with_context(|| format!("create {}", path.display()))?;
            report::write(report, format, &mut file, Style { color: false })
                .with_context(|| format!("write {}", path.display()))?;
            file.flush()?;
        }
        None => {
            let stdout = io::stdout();
            let color = format == Format::Human && stdout.is_terminal();
            let mut lock = stdout.lock();
            report::write(report, format, &mut lock, Style { color })?;
            lock.flush()?;
        }
    }
    Ok(())
}

fn list_checks(lab: Lab) {
    let table = lab.checks();
    let width = table.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for &part in lab.parts() {
        let checks: Vec<&catalog::Check> = table.iter().filter(|c| c.part == part).collect();
        let points: u32 = checks.iter().map(|c| c.points).sum();
        println!("{part} ({points} points)");
        for check in checks {
            println!(
                "  {:width$}  {:>2}  {}",
                check.name, check.points, check.description
            );
        }
    }
    let total: u32 = table.iter().map(|c| c.points).sum();
    println!("total: {total} points");
}
