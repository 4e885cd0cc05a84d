//! Lab 2's text, `lab-docs/room.md`, held to the code it describes, as
//! `lab_docs.rs` holds lab 1's:
//!
//! - Every TODO of lab 2 (the TODOs of the files that say `// LAB 2`) has
//!   its step, `### TODO N: ...`, in order, naming its file and function;
//!   the text has no step for a TODO of another lab.
//! - Every check of lab 2 (`ROOM_CHECKS`) is named in a step's
//!   `**Checks:**` and has its row, with its points, in the table; the
//!   TODOs column is where the steps say the check lives, and each hint
//!   names only those TODOs; no `room/...` or `select-client/...` is named
//!   that the grader lacks; the totals are the catalog's.
//! - Every range of TODOs given for a part or a file is its TODOs; the
//!   summary of `make` it shows is what the files' markers give; the
//!   numbers it states (slots, the stuck time, the idle notice, counts of
//!   TODOs and checks) are the code's.
//! - Every `cargo test ... --test room FILTER` (and `--lib FILTER`) runs
//!   some test; every grader command is lab 2's, with lab 2's checks and
//!   parts; every link points at a file and heading that exist.
//!
//! The parsing is [`crate::docs`]'s, shared with `lab_docs.rs`; what is
//! lab 2's here is the lab (`// LAB 2`), the checks (`ROOM_CHECKS`) and
//! what looks like the name of one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use grader::catalog::{Lab, ROOM_CHECKS};

use crate::docs::{
    self, CodeTodo, assert_links_exist, assert_steps_follow_todos, catalog_line, code_todos,
    command_lines, counts_before, function_name, inline_code, lab_of, leading_number, mentions,
    number_list, rust_files, todo_refs, todos_by_file, written_todos,
};
use crate::util::{self, read};

/// Lab 2, whose TODOs are those of the files that say `// LAB 2`.
const LAB: u32 = 2;
/// Lab 2's text, as the kit names it.
pub(crate) const TEXT: &str = "lab-docs/room.md";

fn solution() -> PathBuf {
    util::kit().join("solution")
}

fn room_text() -> String {
    read(&util::kit().join(TEXT))
}

// ---------------------------------------------------------------------------
// TODOs and labs

/// Lab 2's TODOs, by number.
fn lab_todos() -> Vec<CodeTodo> {
    docs::lab_todos(&solution(), LAB)
}

/// Lab 2's files and their TODO numbers.
fn lab_files() -> BTreeMap<String, BTreeSet<u32>> {
    todos_by_file(&solution(), LAB)
}

#[test]
fn every_todo_of_lab_2_has_its_step_in_room_md_in_order() {
    let todos = lab_todos();
    assert!(!todos.is_empty(), "no file of solution/src says `// LAB 2`");
    assert_steps_follow_todos(
        TEXT,
        &room_text(),
        &todos,
        "lab 2 (the files that say `// LAB 2`; a file without the line is lab 1's)",
    );
}

#[test]
fn lab_2s_todos_run_on_from_lab_1s() {
    let todos = code_todos(&solution());
    let last_of_lab_1 = todos.iter().filter(|t| t.lab == 1).map(|t| t.number).max();
    let first_of_lab_2 = todos
        .iter()
        .filter(|t| t.lab == LAB)
        .map(|t| t.number)
        .min();
    assert_eq!(
        last_of_lab_1.map(|n| n + 1),
        first_of_lab_2,
        "lab 2's first TODO follows lab 1's last"
    );
}

// ---------------------------------------------------------------------------
// Checks

/// Whether `name` is a check of lab 2.
fn is_check(name: &str) -> bool {
    ROOM_CHECKS.iter().any(|check| check.name == name)
}

/// Whether a piece of inline code looks like a check of lab 2: `room/x`,
/// `select-client/x`.
fn is_check_like(code: &str) -> bool {
    Lab::Room.parts().iter().any(|part| {
        code.strip_prefix(part.name())
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    })
}

/// The inline code of a text that looks like a check of lab 2.
fn check_like_names(text: &str) -> BTreeSet<String> {
    inline_code(text)
        .into_iter()
        .filter(|code| is_check_like(code))
        .collect()
}

/// Where the text says each check lives (see [`docs::todos_of_checks`]).
fn todos_of_checks(text: &str) -> BTreeMap<String, BTreeSet<u32>> {
    docs::todos_of_checks(text, is_check_like)
}

/// The rows of the table of checks: check name, line (1-based) and cells.
fn check_table(text: &str) -> BTreeMap<String, (usize, Vec<String>)> {
    docs::check_table(text, ROOM_CHECKS)
}

#[test]
fn every_check_of_lab_2_is_named_in_a_step_and_listed_with_its_points() {
    let text = room_text();
    let table = check_table(&text);
    let lives = todos_of_checks(&text);
    let mut wrong = Vec::new();
    for check in ROOM_CHECKS {
        if !lives.contains_key(check.name) {
            wrong.push(format!(
                "  no step's **Checks:** names `{}`: name it in the step of each TODO where \
                 its behaviour lives",
                check.name
            ));
        }
        match table.get(check.name) {
            Some((line, cells)) if cells.get(1) != Some(&check.points.to_string()) => {
                wrong.push(format!(
                    "  {TEXT}:{line}: {} is worth {} points",
                    check.name, check.points
                ))
            }
            Some(_) => {}
            None => wrong.push(format!(
                "  the table of checks has no row `| `{}` | {} | ...`",
                check.name, check.points
            )),
        }
    }
    // The totals, as lab 1's text says them: `Room 70 points,
    // select-client 30: 100 in all.`
    let parts: Vec<String> = Lab::Room
        .parts()
        .iter()
        .enumerate()
        .map(|(index, part)| {
            let points: u32 = ROOM_CHECKS
                .iter()
                .filter(|check| check.part == *part)
                .map(|check| check.points)
                .sum();
            let name = part.to_string();
            if index == 0 {
                let (first, rest) = name.split_at(1);
                format!("{}{rest} {points} points", first.to_uppercase())
            } else {
                format!("{name} {points}")
            }
        })
        .collect();
    let total: u32 = ROOM_CHECKS.iter().map(|check| check.points).sum();
    let totals = format!("{}: {total} in all.", parts.join(", "));
    if !text.contains(&totals) {
        wrong.push(format!("  {TEXT} does not say `{totals}`"));
    }
    assert!(
        wrong.is_empty(),
        "{TEXT} and grader/src/catalog.rs disagree:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_todos_column_and_the_hints_name_the_todos_where_each_check_lives() {
    let text = room_text();
    let lives = todos_of_checks(&text);
    let table = check_table(&text);
    let mut wrong = Vec::new();
    for check in ROOM_CHECKS {
        let Some(todos) = lives.get(check.name) else {
            continue; // the test above says so
        };
        if let Some((line, cells)) = table.get(check.name) {
            let column = cells.get(2).map(String::as_str).unwrap_or_default();
            let said = number_list(column).filter(|(_, used)| *used == column.len());
            if said.as_ref().map(|(numbers, _)| numbers) != Some(todos) {
                wrong.push(format!(
                    "  {TEXT}:{line}: the TODOs column of {} says `{column}`; the steps whose \
                     **Checks** name it say `{}`",
                    check.name,
                    written_todos(todos)
                ));
            }
        }
        let named = todo_refs(check.hint);
        if !named.is_subset(todos) {
            wrong.push(format!(
                "  grader/src/catalog.rs:{}: the hint of {} names TODOs {}, but it lives in \
                 TODOs {} (the steps of {TEXT} whose **Checks** name it)",
                catalog_line(check.name, "hint"),
                check.name,
                written_todos(&named),
                written_todos(todos)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "where each check lives, the steps' **Checks** say one thing and these another:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn room_md_names_no_check_that_the_grader_lacks() {
    let text = room_text();
    let unknown: Vec<String> = check_like_names(&text)
        .into_iter()
        .filter(|name| !is_check(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "{TEXT} names checks that grader/src/catalog.rs does not have: {unknown:?}"
    );
}

#[test]
fn check_like_names_are_lab_2s_inline_names_only() {
    let names = check_like_names(
        "`room/idle`, `select-client/pipe`, `src/room/shm.rs`, `room/`, room/join, \
         `server/join`, `room/Idle`",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["room/idle", "select-client/pipe"]
    );
}

// ---------------------------------------------------------------------------
// Ranges, counts and numbers

#[test]
fn every_range_given_for_a_part_or_a_file_is_its_todos() {
    let text = room_text();
    let files = lab_files();
    let known: BTreeSet<u32> = code_todos(&solution())
        .iter()
        .map(|todo| todo.number)
        .collect();
    // Each part's steps, from the headings.
    let lines: Vec<&str> = text.lines().collect();
    let mut part_steps: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    let mut part = None;
    for (index, line) in lines.iter().enumerate() {
        if let Some(title) = line.strip_prefix("## ") {
            part = title.starts_with("Part ").then_some(index + 1);
        }
        if let (Some(start), Some(rest)) = (part, line.strip_prefix("### TODO "))
            && let Some((number, _)) = leading_number(rest)
        {
            part_steps.entry(start).or_default().insert(number);
        }
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    for mention in mentions(TEXT, &text) {
        let (place, written, numbers) = (&mention.place, &mention.written, &mention.numbers);
        if let Some(unknown) = numbers.iter().find(|n| !known.contains(n)) {
            wrong.push(format!(
                "  {place}: `{written}` names TODO {unknown}, which the code lacks"
            ));
        }
        if numbers.len() < 2 {
            continue;
        }
        let whole = &mention.line;
        let named: Vec<&String> = files.keys().filter(|file| whole.contains(*file)).collect();
        let expected = match (&named[..], part_steps.get(&mention.line_number)) {
            (_, Some(steps)) => steps,
            ([file], None) => &files[*file],
            _ => continue,
        };
        checked += 1;
        if numbers != expected {
            wrong.push(format!(
                "  {place}: `{written}`, where the code says TODOs {}: {whole}",
                written_todos(expected)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "these give a part's or a file's TODOs, and the code's are others:\n{}",
        wrong.join("\n")
    );
    assert!(
        checked >= 8,
        "only {checked} ranges of a part or a file found"
    );
}

#[test]
fn the_summary_of_make_shown_is_what_the_files_markers_give() {
    let text = room_text();
    let start = text
        .find("```text\nTODOs of lab 2, in order:\n")
        .expect("room.md shows what make prints of lab 2's TODOs");
    let block = &text[start + 8..];
    let block = &block[..block.find("```").expect("a closed block")];
    let mut files: Vec<(String, BTreeSet<u32>)> = lab_files().into_iter().collect();
    files.sort_by_key(|(_, numbers)| numbers.first().copied());
    let mut expected = String::from("TODOs of lab 2, in order:\n");
    for (file, numbers) in &files {
        let file = file.trim_start_matches("./");
        expected.push_str(&format!("  {file}: TODO {}\n", written_todos(numbers)));
    }
    assert_eq!(block, expected, "{TEXT}'s copy of what make prints");
}

#[test]
fn the_numbers_room_md_states_are_the_codes() {
    let text = room_text();
    let slots = chat::room::shm::SLOTS as u64;
    let stuck = chat::room::parent::STUCK_AFTER.as_secs();
    let todos = lab_todos().len() as u64;
    let checks = ROOM_CHECKS.len() as u64;
    let mut wrong = Vec::new();
    let mut slot_counts = 0;
    for (index, line) in text.lines().enumerate() {
        let place = format!("{TEXT}:{}", index + 1);
        for (word, value) in [("slots", slots), ("TODOs", todos), ("checks", checks)] {
            for count in counts_before(line, word) {
                if word == "slots" {
                    slot_counts += 1;
                }
                if count != value {
                    wrong.push(format!("  {place}: {count} {word}, the code says {value}"));
                }
            }
        }
        // "256 messages ago": the ring's size again.
        for count in counts_before(line, "messages") {
            if count != slots {
                wrong.push(format!(
                    "  {place}: {count} messages, the ring has {slots} slots"
                ));
            }
        }
        if line.contains("`STUCK_AFTER` (") && !line.contains(&format!("`STUCK_AFTER` ({stuck} s)"))
        {
            wrong.push(format!("  {place}: STUCK_AFTER is {stuck} s: {line}"));
        }
    }
    assert!(slot_counts >= 1, "{TEXT} says how many slots the ring has");
    let notice = chat::protocol::idle_notice(30);
    assert!(
        text.contains(&notice),
        "{TEXT} shows the idle notice as the room sends it: {notice}"
    );
    assert!(
        text.contains(&format!("`STUCK_AFTER` ({stuck} s)")),
        "{TEXT} says how long STUCK_AFTER is"
    );
    assert!(
        wrong.is_empty(),
        "say it without the number, or with the right one:\n{}",
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Commands

/// The commands of the text: the lines of its fenced blocks, as
/// [`command_lines`] reads them, and its inline code (read across line
/// breaks, so that a command wrapped onto two lines of a paragraph is read
/// whole).
fn commands(text: &str) -> Vec<String> {
    let mut found = command_lines(Path::new(TEXT), text);
    let mut prose = String::new();
    for (_, line) in docs::prose_lines(text.lines()) {
        prose.push_str(line);
        prose.push(' ');
    }
    found.extend(inline_code(&prose));
    found
}

/// The tests of lab 2: `module::name` of `tests/room/`, and the unit tests
/// of lab 2's files, `room::shm::tests::name`.
fn lab_tests() -> (Vec<String>, Vec<String>) {
    let solution = solution();
    let mut integration = Vec::new();
    for entry in fs::read_dir(solution.join("tests/room")).expect("tests/room") {
        let path = entry.expect("an entry").path();
        let module = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let source = read(&path);
        for name in test_functions(&source) {
            integration.push(format!("{module}::{name}"));
        }
        // Tests made by a macro from a list: `rules_against_the_room![a, b]`.
        if let Some(start) = source.find("rules_against_the_room![") {
            let list = &source[start + "rules_against_the_room![".len()..];
            let list = &list[..list.find(']').expect("a closed list")];
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                integration.push(format!("{module}::{name}"));
            }
        }
    }
    let mut unit = Vec::new();
    let mut files = Vec::new();
    rust_files(&solution.join("src"), &mut files);
    for path in files {
        let source = read(&path);
        if lab_of(&source) != LAB {
            continue;
        }
        let module = path
            .strip_prefix(solution.join("src"))
            .expect("under src")
            .with_extension("")
            .to_string_lossy()
            .replace('/', "::");
        for name in test_functions(&source) {
            unit.push(format!("{module}::tests::{name}"));
        }
    }
    (integration, unit)
}

/// The names of the `#[test]` functions of a source file.
fn test_functions(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    lines
        .windows(2)
        .filter(|pair| pair[0].trim() == "#[test]")
        .filter_map(|pair| function_name(pair[1]))
        .collect()
}

#[test]
fn every_test_command_of_room_md_runs_some_test() {
    let text = room_text();
    let (integration, unit) = lab_tests();
    assert!(integration.len() >= 10 && !unit.is_empty());
    let mut seen = 0;
    let mut wrong = Vec::new();
    for command in commands(&text) {
        let Some(at) = command.find("cargo test") else {
            continue;
        };
        let words: Vec<&str> = command[at..].split_whitespace().collect();
        let tests = if let Some(i) = words.iter().position(|w| *w == "--test") {
            if words.get(i + 1) != Some(&"room") {
                wrong.push(format!("  not lab 2's tests: {command}"));
                continue;
            }
            &integration
        } else if words.contains(&"--lib") {
            &unit
        } else {
            continue;
        };
        seen += 1;
        if !words.contains(&"--features") || !words.contains(&"room") {
            wrong.push(format!("  lab 2's tests need `--features room`: {command}"));
        }
        // The first word after `cargo test` that is neither an option nor
        // the value of one.
        let mut filter = None;
        let mut rest = words[2..].iter();
        while let Some(word) = rest.next() {
            if matches!(*word, "--features" | "--test") {
                rest.next();
            } else if !word.starts_with('-') {
                filter = Some(*word);
                break;
            }
        }
        if let Some(filter) = filter
            && !tests.iter().any(|test| test.contains(filter))
        {
            wrong.push(format!("  `{filter}` names no test: {command}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{TEXT}'s test commands:\n{}",
        wrong.join("\n")
    );
    assert!(seen >= 15, "only {seen} test commands found");
}

#[test]
fn every_grader_command_of_room_md_grades_lab_2_with_its_checks_and_parts() {
    let text = room_text();
    let parts: BTreeSet<String> = Lab::Room.parts().iter().map(ToString::to_string).collect();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for command in commands(&text) {
        let Some(at) = command.find("-p grader --") else {
            continue;
        };
        let words: Vec<&str> = command[at + "-p grader --".len()..]
            .split_whitespace()
            .collect();
        // `cargo run -q -p grader --` alone is the text saying how to
        // read the commands; the reference peers are the same in both labs.
        if words.first().is_none_or(|w| w.starts_with("reference-")) {
            continue;
        }
        seen += 1;
        let value = |option: &str| {
            words
                .iter()
                .position(|w| *w == option)
                .and_then(|i| words.get(i + 1))
                .copied()
        };
        if value("--lab") != Some("room") {
            wrong.push(format!("  without `--lab room`: {command}"));
        }
        for (i, word) in words.iter().enumerate() {
            let next = words.get(i + 1).copied().unwrap_or_default();
            match *word {
                "--check" if !is_check(next) => {
                    wrong.push(format!("  no check {next} in lab 2: {command}"))
                }
                "--part" if !parts.contains(next) => {
                    wrong.push(format!("  no part {next} in lab 2: {command}"))
                }
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{TEXT}'s grader commands:\n{}",
        wrong.join("\n")
    );
    assert!(seen >= 15, "only {seen} grader commands found");
}

// ---------------------------------------------------------------------------
// Links

#[test]
fn links_of_room_md_point_at_files_and_headings_that_exist_and_it_is_linked() {
    let checked = assert_links_exist("room.md");
    assert!(checked >= 15, "only {checked} links checked");
    assert!(
        read(&util::kit().join("lab-docs/README.md")).contains("](room.md)"),
        "lab 1's text links to room.md"
    );
    assert!(
        read(&util::kit().join("README.md")).contains("(lab-docs/room.md)"),
        "the root README.md links to lab-docs/room.md"
    );
}
