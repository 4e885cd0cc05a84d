//! Measurements, not part of the normal test run (`#[ignore]`), each run
//! alone by its `make` target (`--exact flake::flake`,
//! `--exact flake::grading_time`):
//!
//! - `make flake`: the full grading of the solution, many times in a row
//!   with every core kept busy, counting any check that ever failed.
//! - `make bench-grader`: how long grading one submission takes, wall and
//!   CPU, on a quiet machine.
//!
//! Both grade the solution crate (`--dir solution`) in each lab, lab 1
//! (`--lab chat`, wrapper tests included) and lab 2 (`--lab room`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crate::util::{self, Run};

fn runs(default: usize) -> usize {
    std::env::var("RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The labs, as `--lab` names them, with their number of checks.
fn labs() -> [(&'static str, usize); 2] {
    [
        ("chat", grader::catalog::CHECKS.len()),
        ("room", grader::catalog::ROOM_CHECKS.len()),
    ]
}

/// One grading of the solution in `lab`: its JSON report, wall seconds, and
/// the CPU seconds of the grader and everything it ran.
fn grade_solution(lab: &str) -> (serde_json::Value, f64, f64) {
    let cpu_before = children_cpu_seconds();
    let run = Run::new(
        util::grader()
            .args(["--lab", lab, "--dir"])
            .arg(util::kit().join("solution"))
            .args(["--format", "json"]),
    );
    let cpu = children_cpu_seconds() - cpu_before;
    (run.json(), run.seconds, cpu)
}

/// User plus system CPU time of every child process waited for so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is valid for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Keeps every core busy until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
#[ignore = "a measurement: run it with `make flake`"]
fn flake() {
    let runs = runs(50);
    let load = Load::start();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut walls: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in 1..=runs {
        for (lab, _) in labs() {
            let (report, wall, _) = grade_solution(lab);
            walls.entry(lab).or_default().push(wall);
            // Lab 2 runs lab 1's checks under their own names: the lab
            // tells them apart.
            let failed_tests: Vec<&serde_json::Value> = report["tests"]
                .as_array()
                .expect("tests")
                .iter()
                .filter(|test| test["status"] != "passed")
                .collect();
            let failed: Vec<String> = failed_tests
                .iter()
                .map(|test| format!("{lab}: {}", test["name"].as_str().unwrap_or("?")))
                .collect();
            eprintln!(
                "run {run:>3}/{runs} {lab}: {}/{} in {wall:.1} s {}",
                report["score"],
                report["max_score"],
                failed.join(" ")
            );
            // A failure seen once in fifty must explain itself.
            for test in failed_tests {
                for line in test["output"].as_str().unwrap_or("").lines() {
                    eprintln!("    | {line}");
                }
            }
            for name in failed {
                *failures.entry(name).or_default() += 1;
            }
        }
    }
    drop(load);
    for (lab, walls) in &mut walls {
        let fastest = walls.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = walls.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "\n{runs} gradings of the solution in lab {lab} with every core busy: \
             wall {fastest:.1} to {slowest:.1} s, median {:.1} s",
            median(walls)
        );
    }
    if failures.is_empty() {
        eprintln!("no check ever failed");
    }
    for (name, count) in &failures {
        eprintln!("{name} failed {count} of {runs} times");
    }
    assert!(failures.is_empty(), "flaky checks: {failures:?}");
}

#[test]
#[ignore = "a measurement: run it with `make bench-grader`"]
fn grading_time() {
    let runs = runs(10);
    for (lab, checks) in labs() {
        // One grading first, so that every later one finds the build done.
        grade_solution(lab);
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (report, wall, cpu) = grade_solution(lab);
            assert_eq!(report["score"], report["max_score"], "{report}");
            walls.push(wall);
            cpus.push(cpu);
        }
        eprintln!(
            "grading the solution in lab {lab} ({checks} checks), {runs} runs: \
             wall median {:.2} s (min {:.2}), CPU median {:.2} s",
            median(&mut walls),
            walls[0],
            median(&mut cpus)
        );
    }
}
