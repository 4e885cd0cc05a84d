//! `grader bench`: a correct server delivers every line and passes, a
//! lossy one fails with status 1, a bench that cannot run says why with
//! status 2, within bounded time. (`grader/BENCH.md`, the measurement, is
//! written by `cargo run -p xtask -- bench-report`.)

use std::path::PathBuf;
use std::time::Duration;

use crate::util::{self, GRADER, Run};

fn bench_fixture(name: &str) -> PathBuf {
    util::kit().join("grader/tests/bench_fixtures").join(name)
}

/// Runs `grader bench ARGS`, killed if it takes longer than `limit`.
fn bench(args: &[&str], limit: Duration) -> Run {
    let mut command = util::grader();
    command.arg("bench").args(args);
    let _heavy = util::one_heavy_test_at_a_time();
    Run::within(command, limit)
}

/// Runs a small throughput run against `server`: 10 clients, 3 of them
/// sending 200 lines each, with JSON output.
fn small_run(server: &[&str]) -> Run {
    let mut args = server.to_vec();
    let small = ["--clients", "10", "--senders", "3", "--messages", "200"];
    // Everything after `--` goes to the server: the bench's options first.
    let split = args.iter().position(|&a| a == "--").unwrap_or(args.len());
    args.splice(split..split, small.into_iter().chain(["--format", "json"]));
    bench(&args, LIMIT)
}

/// What a small run delivers from a correct server: each of 3 senders'
/// 200 lines reaches the 9 other clients.
const SMALL_RUN_DELIVERIES: u64 = 3 * 200 * 9;

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn the_reference_server_delivers_every_line_once_and_in_order() {
    let run = small_run(&["--server", GRADER, "--", "reference-server"]);
    let json = run.json();
    let why = run.explain();
    assert_eq!(run.code(), Some(0), "{why}");
    assert_eq!(json["deliveries"], SMALL_RUN_DELIVERIES, "{why}");
    assert_eq!(json["expected_deliveries"], SMALL_RUN_DELIVERIES, "{why}");
    for field in ["lost", "missing", "duplicated", "out_of_order", "corrupt"] {
        assert_eq!(json[field], 0, "{field}: {why}");
    }
    assert_eq!(json["disconnected"], 0, "{why}");
    assert_eq!(json["ended"], "complete", "{why}");
    let number = |field: &str| {
        json[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field} is not a number: {why}"))
    };
    assert!(number("deliveries_per_sec") > 0.0, "{why}");
    assert!(number("p50_ms") <= number("p99_ms"), "{why}");
    assert!(number("p99_ms") <= number("max_ms"), "{why}");
    assert!(number("server_peak_rss_kib") > 0.0, "{why}");
    assert!(number("server_cpu_s") >= 0.0, "{why}");
    assert!(number("wall_s") > 0.0, "{why}");
    for field in ["clients", "senders", "messages", "size"] {
        assert!(json[field].is_number(), "{field}: {why}");
    }
}

#[test]
fn a_paced_run_sends_at_the_rate_asked_and_loses_nothing() {
    let run = bench(
        &[
            "--reference",
            "--clients",
            "5",
            "--senders",
            "2",
            "--messages",
            "100",
            "--rate",
            "1000",
            "--format",
            "json",
        ],
        LIMIT,
    );
    let json = run.json();
    let why = run.explain();
    assert_eq!(run.code(), Some(0), "{why}");
    assert_eq!(json["deliveries"], 2 * 100 * 4, "{why}");
    assert_eq!(json["lost"], 0, "{why}");
    assert_eq!(json["rate"], 1000, "{why}");
    // 100 lines at 1000 a second: the last is due after 99 ms.
    let wall = json["wall_s"].as_f64().expect("wall_s");
    assert!(wall >= 0.099, "{why}");
}

#[test]
fn a_server_that_drops_lines_fails_with_status_1() {
    let lossy = bench_fixture("server_lossy.py");
    let run = small_run(&["--server", lossy.to_str().expect("a UTF-8 path")]);
    let json = run.json();
    let why = run.explain();
    assert_eq!(run.code(), Some(1), "{why}");
    let lost = json["lost"].as_u64().expect("lost");
    // It drops every 100th of the 600 lines it forwards, each to 9 clients.
    assert_eq!(lost, 6 * 9, "{why}");
    assert_eq!(json["missing"], 6 * 9, "{why}");
    assert_eq!(
        json["deliveries"].as_u64().expect("deliveries") + lost,
        SMALL_RUN_DELIVERIES,
        "{why}"
    );
}

#[test]
fn bad_arguments_exit_with_status_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--clients", "10"], "--server"),
        (&["--reference", "--clients", "1"], "at least 2 clients"),
        (&["--reference", "--senders", "0"], "--senders 0"),
        (
            &["--reference", "--clients", "3", "--senders", "4"],
            "--senders 4",
        ),
        (&["--reference", "--size", "10"], "--size 10"),
        (&["--reference", "--size", "5000"], "--size 5000"),
        (&["--reference", "--messages", "0"], "--messages 0"),
        (&["--reference", "--rate", "0"], "--rate"),
        (&["--reference", "--format", "xml"], "xml"),
        (
            &["--reference", "--idle", "100", "--senders", "3"],
            "--senders",
        ),
        (&["--reference", "--clients", "ten"], "ten"),
        (&["--reference", "--idle", "1000000000"], "hard limit"),
    ];
    for (args, said) in cases {
        let run = bench(args, Duration::from_secs(30));
        let why = run.explain();
        assert_eq!(run.code(), Some(2), "{why}");
        assert!(
            run.stderr().contains(said),
            "expected {said:?} in stderr: {why}"
        );
        assert!(run.output.stdout.is_empty(), "{why}");
    }
}

#[test]
fn a_server_that_never_says_it_is_ready_is_given_up_on_with_status_2() {
    let silent = bench_fixture("server_silent.py");
    let run = bench(
        &[
            "--server",
            silent.to_str().expect("a UTF-8 path"),
            "--ready-timeout",
            "2",
        ],
        Duration::from_secs(30),
    );
    let why = run.explain();
    assert_eq!(run.code(), Some(2), "{why}");
    assert!(run.stderr().contains("readiness line"), "{why}");
    assert!(run.seconds < 15.0, "it took {:.1} s: {why}", run.seconds);
}

#[test]
fn a_server_that_cannot_start_is_reported_with_status_2() {
    let run = bench(
        &["--server", "/nonexistent/server"],
        Duration::from_secs(30),
    );
    let why = run.explain();
    assert_eq!(run.code(), Some(2), "{why}");
    assert!(run.stderr().contains("could not start"), "{why}");
}

#[test]
fn idle_connections_are_held_and_the_server_still_serves() {
    let run = bench(&["--reference", "--idle", "200", "--format", "json"], LIMIT);
    let json = run.json();
    let why = run.explain();
    assert_eq!(run.code(), Some(0), "{why}");
    assert_eq!(json["mode"], "idle", "{why}");
    assert_eq!(json["connections"], 200, "{why}");
    assert_eq!(json["connected"], 200, "{why}");
    assert_eq!(json["served_line"], true, "{why}");
    assert!(json["server_rss_kib"].as_u64().expect("rss") > 0, "{why}");
    let nofile = &json["nofile"];
    assert!(
        nofile["soft"].as_u64() >= nofile["soft_before"].as_u64(),
        "{why}"
    );
    assert!(nofile["server"].as_u64().expect("server") >= 200, "{why}");
}
