//! `grader soak` against the reference server, on its quick cases: the
//! cases pass and report their figures, in human and JSON form.

use crate::util::{self, GRADER, Run};

fn soak(args: &[&str]) -> Run {
    Run::new(util::grader().arg("soak").args(args))
}

#[test]
fn the_reference_server_passes_the_quick_cases_with_figures() {
    // The grader's own reference server, through a tiny wrapper script: soak
    // takes one executable, which it runs with the port as its argument.
    let script = std::env::temp_dir().join(format!("soak-reference-{}.sh", std::process::id()));
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec '{GRADER}' reference-server \"$@\"\n"),
    )
    .expect("write the wrapper");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make it executable");
    let _heavy = util::one_heavy_test_at_a_time();
    let run = soak(&[
        "--server",
        script.to_str().expect("a UTF-8 path"),
        "--case",
        "long-lines",
        "--case",
        "slow-consumer",
        "--format",
        "json",
    ]);
    std::fs::remove_file(&script).expect("remove the wrapper");
    let report = run.assert_success().json();
    assert_eq!(report["passed"], true);
    let cases = report["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["soak/long-lines", "soak/slow-consumer"]);
    for case in cases {
        let figures = case["figures"].as_object().expect("figures");
        assert!(figures.contains_key("server peak RSS"), "{case}");
    }
    let pieces = cases[0]["figures"]["100 MiB line"]
        .as_str()
        .expect("the 100 MiB figure");
    assert!(pieces.starts_with("25600 pieces"), "{pieces}");
}

#[test]
fn an_unknown_case_is_a_usage_error() {
    let run = soak(&["--server", "/bin/true", "--case", "nope"]).assert_code(2);
    assert!(
        run.stderr().contains("no soak case is called \"nope\""),
        "{}",
        run.explain()
    );
}
