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
//! Its own test binary until it is folded into the integration binary of
//! the grader's tests. The parsing helpers below are copied from
//! `lab_docs.rs`, to be shared after the merge: `kit_root`, `read`,
//! `rust_files`, `function_name`, `skip_space`, `after_word`,
//! `number_list`, `todo_mentions`, `leading_number`, `written_todos`,
//! `step_headings`, `section`, `contains_word`, `inline_code`, `anchor`,
//! `anchors`, `link_targets`. What is new is lab-aware: `code_todos` gives
//! each TODO its lab, and the checks are lab 2's.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use grader::catalog::{Lab, ROOM_CHECKS};

const LAB: u32 = 2;
/// Lab 2's text, as the kit names it.
pub(crate) const TEXT: &str = "lab-docs/room.md";

fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

fn room_text() -> String {
    read(&kit_root().join(TEXT))
}

// ---------------------------------------------------------------------------
// TODOs and labs

/// A `// TODO N:` of the solution: its number, its file's lab, its file
/// (relative to the crate) and the function it is in.
#[derive(Debug)]
struct CodeTodo {
    number: u32,
    lab: u32,
    file: String,
    function: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The lab of a source file, as the generator reads it: its `// LAB N`
/// line, or 1.
fn lab_of(source: &str) -> u32 {
    source
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("// LAB ")?;
            let (number, _) = leading_number(rest)?;
            Some(number)
        })
        .unwrap_or(1)
}

/// The TODOs of `solution/src`, by number.
fn code_todos() -> Vec<CodeTodo> {
    let crate_dir = kit_root().join("solution");
    let mut files = Vec::new();
    rust_files(&crate_dir.join("src"), &mut files);
    let mut todos = Vec::new();
    for path in files {
        let text = read(&path);
        let lab = lab_of(&text);
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("// TODO ") else {
                continue;
            };
            let Some((number, after)) = leading_number(rest) else {
                continue;
            };
            if !after.starts_with(':') {
                continue;
            }
            let function = lines[..index]
                .iter()
                .rev()
                .find_map(|line| function_name(line))
                .unwrap_or_else(|| panic!("TODO {number} of {} is in no function", path.display()));
            todos.push(CodeTodo {
                number,
                lab,
                file: path
                    .strip_prefix(&crate_dir)
                    .expect("inside the crate")
                    .to_string_lossy()
                    .into_owned(),
                function,
            });
        }
    }
    todos.sort_by_key(|todo| todo.number);
    todos
}

/// Lab 2's TODOs.
fn lab_todos() -> Vec<CodeTodo> {
    code_todos()
        .into_iter()
        .filter(|todo| todo.lab == LAB)
        .collect()
}

/// Lab 2's files and their TODO numbers.
fn lab_files() -> BTreeMap<String, BTreeSet<u32>> {
    let mut files: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for todo in lab_todos() {
        files.entry(todo.file).or_default().insert(todo.number);
    }
    files
}

/// The name of the function a line declares (`fn name(` or `fn name<`).
fn function_name(line: &str) -> Option<String> {
    let code = line.trim_start();
    let rest = code
        .strip_prefix("fn ")
        .or_else(|| code.split_once(" fn ").map(|(_, rest)| rest))?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let after = rest[name.len()..].chars().next();
    (!name.is_empty() && matches!(after, Some('(' | '<'))).then_some(name)
}

/// `text` after its spaces; across a line break too, with the next line's
/// indentation and comment marker, so that a mention wrapped onto two lines
/// is read whole.
fn skip_space(text: &str) -> &str {
    let mut rest = text.trim_start_matches([' ', '\t']);
    if let Some(next) = rest.strip_prefix('\n') {
        rest = next.trim_start_matches([' ', '\t']);
        for marker in ["///", "//", "#"] {
            if let Some(after) = rest.strip_prefix(marker) {
                rest = after;
                break;
            }
        }
        rest = rest.trim_start_matches([' ', '\t']);
    }
    rest
}

/// `text` after `word` and the spaces after it, if it starts with them.
fn after_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(word)?;
    let after = skip_space(rest);
    (after.len() < rest.len()).then_some(after)
}

/// The TODO numbers at the start of `text` (`7`, `1-3`, `4 to 7`,
/// `13 and 14`, `13, 15, 16`, `12, 14-15`), and how many bytes they take.
fn number_list(text: &str) -> Option<(BTreeSet<u32>, usize)> {
    let (mut last, mut rest) = leading_number(text)?;
    let mut numbers = BTreeSet::from([last]);
    loop {
        let (range, after) = if let Some(after) = rest.strip_prefix('-') {
            (true, after)
        } else {
            let (comma, after) = match rest.strip_prefix(',') {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let spaced = skip_space(after);
            if spaced.len() == after.len() {
                break;
            }
            if let Some(after) = after_word(spaced, "to") {
                (true, after)
            } else if let Some(after) = after_word(spaced, "and") {
                (false, after)
            } else if comma {
                (false, spaced)
            } else {
                break;
            }
        };
        let Some((next, after)) = leading_number(after) else {
            break;
        };
        if range {
            numbers.extend(last..=next);
        } else {
            numbers.insert(next);
        }
        last = next;
        rest = after;
    }
    Some((numbers, text.len() - rest.len()))
}

/// Every mention of TODO numbers in a text: where it starts, as written,
/// and the numbers.
fn todo_mentions(text: &str) -> Vec<(usize, String, BTreeSet<u32>)> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("TODO") {
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let rest = &text[start + 4..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        let spaced = skip_space(rest);
        if spaced.len() == rest.len() {
            continue;
        }
        let Some((numbers, used)) = number_list(spaced) else {
            continue;
        };
        let end = text.len() - spaced.len() + used;
        found.push((start, text[start..end].to_owned(), numbers));
    }
    found
}

fn todo_refs(text: &str) -> BTreeSet<u32> {
    todo_mentions(text)
        .into_iter()
        .flat_map(|(_, _, numbers)| numbers)
        .collect()
}

fn leading_number(text: &str) -> Option<(u32, &str)> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let number = text[..digits].parse().ok()?;
    Some((number, &text[digits..]))
}

/// A set of TODO numbers as the docs write it: `1-3`, `13, 16`.
fn written_todos(numbers: &BTreeSet<u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &number in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == number => *end = number,
            _ => runs.push((number, number)),
        }
    }
    runs.iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The step headings, `### TODO N: title`, in order: (number, line index).
fn step_headings(lines: &[&str]) -> Vec<(u32, usize)> {
    let mut headings = Vec::new();
    let mut in_code = false;
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim_start();
        if let Some(rest) = title.strip_prefix("TODO ")
            && let Some((number, after)) = leading_number(rest)
        {
            assert!(
                after.starts_with(": "),
                "a step heading is `### TODO N: title`: {line:?}"
            );
            headings.push((number, index));
        }
    }
    headings
}

/// The text under the heading at `index`, up to the next heading.
fn section(lines: &[&str], index: usize) -> String {
    let mut text = String::new();
    let mut in_code = false;
    for line in &lines[index + 1..] {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            break;
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

fn inline_code(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_todo_of_lab_2_has_its_step_in_room_md_in_order() {
    let todos = lab_todos();
    let numbers: Vec<u32> = todos.iter().map(|todo| todo.number).collect();
    assert!(
        !numbers.is_empty(),
        "no file of solution/src says `// LAB 2`"
    );
    let text = room_text();
    let lines: Vec<&str> = text.lines().collect();
    let headings = step_headings(&lines);
    let heading_numbers: Vec<u32> = headings.iter().map(|(number, _)| *number).collect();
    assert_eq!(
        heading_numbers, numbers,
        "{TEXT} needs one heading `### TODO N: ...` per TODO of the files marked `// LAB 2`, \
         in order, and none for another lab's (a lab-2 file without its marker counts as lab 1)"
    );
    for ((number, index), todo) in headings.iter().zip(&todos) {
        let body = section(&lines, *index);
        assert!(
            body.contains(&todo.file),
            "{TEXT}: the step of TODO {number} does not name its file {}",
            todo.file
        );
        assert!(
            contains_word(&body, &todo.function),
            "{TEXT}: the step of TODO {number} does not name its function {}",
            todo.function
        );
    }
}

#[test]
fn lab_2s_todos_run_on_from_lab_1s() {
    let todos = code_todos();
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

/// The inline code of a text that looks like a check of lab 2: `room/x`,
/// `select-client/x`.
fn check_like_names(text: &str) -> BTreeSet<String> {
    let parts: Vec<String> = Lab::Room
        .parts()
        .iter()
        .map(|part| format!("{part}/"))
        .collect();
    inline_code(text)
        .into_iter()
        .filter(|code| {
            parts.iter().any(|part| {
                code.strip_prefix(part.as_str()).is_some_and(|rest| {
                    !rest.is_empty()
                        && rest
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
            })
        })
        .collect()
}

/// Where the text says each check lives: the TODO of every step whose
/// `**Checks:**` bullet names it, and every TODO of a part whose
/// introduction's `**Checks.**` paragraph names it.
fn todos_of_checks(text: &str) -> BTreeMap<String, BTreeSet<u32>> {
    let mut lives: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut parts: Vec<(Vec<u32>, BTreeSet<String>)> = Vec::new();
    let mut in_part = false;
    let mut step = None;
    let mut in_checks = false;
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        if line.starts_with('#') {
            let title = line.trim_start_matches('#').trim_start();
            if line.starts_with("## ") {
                in_part = title.starts_with("Part ");
                if in_part {
                    parts.push((Vec::new(), BTreeSet::new()));
                }
            }
            step = title
                .strip_prefix("TODO ")
                .and_then(leading_number)
                .map(|(number, _)| number)
                .filter(|_| in_part);
            if let (Some(number), Some(part)) = (step, parts.last_mut()) {
                part.0.push(number);
            }
            in_checks = false;
            continue;
        }
        if !in_part {
            continue;
        }
        match step {
            Some(_) if line.starts_with("- ") => in_checks = line.starts_with("- **Checks:**"),
            Some(_) if !line.starts_with("  ") => in_checks = false,
            None if line.starts_with("**Checks.**") => in_checks = true,
            None if line.trim().is_empty() => in_checks = false,
            _ => {}
        }
        if !in_checks {
            continue;
        }
        for name in check_like_names(line) {
            match step {
                Some(number) => {
                    lives.entry(name).or_default().insert(number);
                }
                None => {
                    parts.last_mut().expect("in a part").1.insert(name);
                }
            }
        }
    }
    for (steps, names) in parts {
        for name in names {
            lives.entry(name).or_default().extend(&steps);
        }
    }
    lives
}

/// The rows of the table of checks: check name, line (1-based) and cells.
fn check_table(text: &str) -> BTreeMap<String, (usize, Vec<String>)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let cells: Vec<String> = line
                .strip_prefix("| `")?
                .split(" | ")
                .map(|cell| cell.trim().trim_end_matches('|').trim().to_owned())
                .collect();
            let name = cells[0].strip_suffix('`')?.to_owned();
            is_check(&name).then_some((name, (index + 1, cells)))
        })
        .collect()
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
                "  grader/src/catalog.rs: the hint of {} names TODOs {}, but it lives in TODOs {} \
                 (the steps of {TEXT} whose **Checks** name it)",
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

/// Every mention of several TODOs in the text, with the line it is on.
fn mentions(text: &str) -> Vec<(usize, String, BTreeSet<u32>, String)> {
    todo_mentions(text)
        .into_iter()
        .map(|(at, written, numbers)| {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            let line = text[..at].matches('\n').count() + 1;
            (line, written, numbers, text[start..end].to_owned())
        })
        .collect()
}

#[test]
fn every_range_given_for_a_part_or_a_file_is_its_todos() {
    let text = room_text();
    let files = lab_files();
    let known: BTreeSet<u32> = code_todos().iter().map(|todo| todo.number).collect();
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
    for (line, written, numbers, whole) in mentions(&text) {
        if let Some(unknown) = numbers.iter().find(|n| !known.contains(n)) {
            wrong.push(format!(
                "  {TEXT}:{line}: `{written}` names TODO {unknown}, which the code lacks"
            ));
        }
        if numbers.len() < 2 {
            continue;
        }
        let named: Vec<&String> = files.keys().filter(|file| whole.contains(*file)).collect();
        let expected = match (&named[..], part_steps.get(&line)) {
            (_, Some(steps)) => steps,
            ([file], None) => &files[*file],
            _ => continue,
        };
        checked += 1;
        if &numbers != expected {
            wrong.push(format!(
                "  {TEXT}:{line}: `{written}`, where the code says TODOs {}: {whole}",
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

/// The numbers written right before `word` in a line (`256 slots`).
fn counts_before(line: &str, word: &str) -> Vec<u64> {
    line.match_indices(word)
        .filter(|(at, _)| {
            let after = line[at + word.len()..].chars().next();
            !after.is_some_and(char::is_alphanumeric)
        })
        .filter_map(|(at, _)| line[..at].split_whitespace().next_back()?.parse().ok())
        .collect()
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

/// The commands of the text: the lines of its fenced blocks, comments
/// left out, and its inline code (read across line breaks, so that a
/// command wrapped onto two lines of a paragraph is read whole).
fn commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut prose = String::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            found.push(line.split(" #").next().unwrap_or(line).trim().to_owned());
        } else {
            prose.push_str(line);
            prose.push(' ');
        }
    }
    found.extend(inline_code(&prose));
    found
}

/// The tests of lab 2: `module::name` of `tests/room/`, and the unit tests
/// of lab 2's files, `room::shm::tests::name`.
fn lab_tests() -> (Vec<String>, Vec<String>) {
    let solution = kit_root().join("solution");
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

/// GitHub's anchor for a heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            anchors.insert(anchor(line.trim_start_matches('#')));
        }
    }
    anchors
}

fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
            }
        }
    }
    targets
}

#[test]
fn links_of_room_md_point_at_files_and_headings_that_exist_and_it_is_linked() {
    let docs = kit_root().join("lab-docs");
    let text = room_text();
    let mut checked = 0;
    for target in link_targets(&text) {
        if target.starts_with("http") {
            continue;
        }
        let (file, fragment) = match target.split_once('#') {
            Some((file, fragment)) => (file, Some(fragment)),
            None => (target.as_str(), None),
        };
        let path = if file.is_empty() {
            docs.join("room.md")
        } else {
            docs.join(file)
        };
        assert!(path.exists(), "{TEXT} links to {target}: no such file");
        if let Some(fragment) = fragment {
            assert!(
                anchors(&read(&path)).contains(fragment),
                "{TEXT} links to {target}: no such heading"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} links checked");
    assert!(
        read(&docs.join("README.md")).contains("](room.md)"),
        "lab 1's text links to room.md"
    );
    assert!(
        read(&kit_root().join("README.md")).contains("(lab-docs/room.md)"),
        "the root README.md links to lab-docs/room.md"
    );
}
