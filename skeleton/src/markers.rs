//! The markers: how a file of `solution/` says what students must write.
//!
//! This comment is the one place that describes every marker; the generator
//! knows no others. A marker is a `//` comment alone on its line (indent it
//! like the code around it) in a `.rs` file. Other files are copied as they
//! are.
//!
//! # A TODO and its solution
//!
//! ```text
//!         // TODO 4: Create the epoll instance and add the socket to it,
//!         //         wrapped in `check` so a failure becomes an error.
//!         // BEGIN SOLUTION
//!         let epoll = sys::epoll_create()?;
//!         check(w_epoll_add_fd_in(epoll.as_raw_fd(), sockfd), "watch the socket")?;
//!         // END SOLUTION
//!         // STUB: let epoll: OwnedFd = todo!("TODO 4");
//! ```
//!
//! becomes, in the skeleton:
//!
//! ```text
//!         // TODO 4: Create the epoll instance and add the socket to it,
//!         //         wrapped in `check` so a failure becomes an error.
//!         let epoll: OwnedFd = todo!("TODO 4");
//! ```
//!
//! - `// TODO N: what to do` stays in the skeleton, and so do the `//` lines
//!   right after it, which continue its text. `N` is the step's number in the
//!   lab text: the numbers of all files together run from 1 with no gap, each
//!   used once.
//! - `// BEGIN SOLUTION` comes right after the TODO's comment, and
//!   `// END SOLUTION` closes it. Both, and everything between them, are the
//!   reference's answer: students never see them.
//! - `// STUB: code`, zero or more lines right after `// END SOLUTION`: each
//!   becomes the line `code`, indented like `// BEGIN SOLUTION`. A stub is
//!   needed where the code after the block uses something the block made,
//!   such as a variable: `// STUB: let ready: usize = todo!("TODO 6");`.
//!   Without a stub, the block becomes `todo!("TODO N");`, which stops the
//!   program with `not yet implemented: TODO N`.
//!
//! # Reference-only content
//!
//! - `// BEGIN REFERENCE` … `// END REFERENCE`: lines only the reference has
//!   (an extra check, a helper that no stub needs). Removed with their
//!   markers and nothing in their place; no TODO goes with them.
//! - `// REFERENCE FILE`, anywhere in a file (by convention at its top): the
//!   whole file stays out of the skeleton, and so does any `[[bin]]`,
//!   `[[test]]`, `[[example]]` or `[[bench]]` entry of `Cargo.toml` whose
//!   `path` names it.
//!
//! # Labs
//!
//! - `// LAB N`, or `// LAB N: words`, anywhere outside a block (by
//!   convention at the top of the file): the file's TODOs belong to lab `N`.
//!   A file without one is lab 1's. It stays in the skeleton, so students
//!   see it too. The TODO numbers run on from one lab to the next (lab 2's
//!   first TODO follows lab 1's last), and the generator checks that they
//!   do: a TODO of a lab numbered after one of a later lab is an error, so
//!   a lab-2 file that forgets its marker among lab 2's TODOs is caught. The
//!   students' `README.md` and the generator's summary list the TODOs lab by
//!   lab.
//!
//! # Errors
//!
//! Each stops the generator before it writes anything, with one line
//! `FILE:LINE: what is wrong`:
//!
//! - an `END` without its `BEGIN`, a `BEGIN` never closed, an `END` of the
//!   other kind of block, a `BEGIN` inside an open block (blocks do not nest);
//! - a `// STUB:` anywhere but right after `// END SOLUTION` or another stub;
//! - a `// BEGIN SOLUTION` that does not follow a TODO's comment, a TODO's
//!   comment that is not followed by `// BEGIN SOLUTION`, a TODO inside a
//!   block or in a reference-only file;
//! - a TODO without a number or without its colon, `TODO 0`, a number used
//!   twice (in any two files), numbers that skip one;
//! - a `// LAB` without a number, `LAB 0`, a second `// LAB` in a file, a
//!   `// LAB` inside a block; a TODO numbered after a TODO of a later lab;
//! - a comment that looks like a marker but is none (`// BEGIN SOLUTON`,
//!   `// STUBB: x`, `//TODO 3: x`). A comment looks like a marker when its
//!   first word is in capitals and is, or nearly is (one letter off, two for
//!   words longer than four), `BEGIN`, `END`, `STUB`, `TODO`, `SOLUTION`,
//!   `REFERENCE` or `LAB`. A plain comment caught by this only needs rewording:
//!   `// AND then` becomes `// and then`.
//!
//! Doc comments (`///`, `//!`) are never markers. Inside a TODO's comment, a
//! line indented past `// ` is text whatever its first word, so the comment
//! may say "built like the one in TODO 1" on a line of its own.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The two kinds of block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// `// BEGIN SOLUTION` … `// END SOLUTION`: replaced by its stub.
    Solution,
    /// `// BEGIN REFERENCE` … `// END REFERENCE`: removed.
    Reference,
}

impl Block {
    /// The line that opens the block.
    pub fn begin(self) -> &'static str {
        match self {
            Block::Solution => "// BEGIN SOLUTION",
            Block::Reference => "// BEGIN REFERENCE",
        }
    }

    /// The line that closes the block.
    pub fn end(self) -> &'static str {
        match self {
            Block::Solution => "// END SOLUTION",
            Block::Reference => "// END REFERENCE",
        }
    }
}

/// A misplaced or malformed marker, at a line of a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {kind}", file.display())]
pub struct MarkerError {
    /// The file, as the generator was told its folder.
    pub file: PathBuf,
    /// The line, counted from 1.
    pub line: usize,
    pub kind: MarkerErrorKind,
}

/// What is wrong with a marker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerErrorKind {
    #[error("`{}` without a `{}` before it", .0.end(), .0.begin())]
    EndWithoutBegin(Block),
    #[error("`{}` is never closed: `{}` is missing", .0.begin(), .0.end())]
    Unclosed(Block),
    #[error("`{}` cannot close the `{}` of line {open_line}", end.end(), open.begin())]
    MismatchedEnd {
        open: Block,
        open_line: usize,
        end: Block,
    },
    #[error(
        "`{}` inside the block opened at line {open_line}: blocks do not nest",
        inner.begin()
    )]
    Nested { open_line: usize, inner: Block },
    #[error("`// STUB:` must come right after `// END SOLUTION` or another `// STUB:` line")]
    StubWithoutBlock,
    #[error(
        "`// STUB:` inside the block opened at line {open_line}: stubs go right after `// END SOLUTION`"
    )]
    StubInsideBlock { open_line: usize },
    #[error("unknown marker `{text}`{}", match suggestion {
        Some(marker) => format!(": did you mean `{marker}`?"),
        None => String::from(": the markers are listed in skeleton/src/markers.rs"),
    })]
    UnknownMarker {
        text: String,
        suggestion: Option<&'static str>,
    },
    #[error("TODO without a number: write `// TODO N: what to do`")]
    TodoWithoutNumber,
    #[error("`// TODO {0}` needs a colon: write `// TODO {0}: what to do`")]
    TodoWithoutColon(u32),
    #[error("TODO 0: the numbers start at 1")]
    TodoZero,
    #[error("`// BEGIN SOLUTION` must come right after the comment of a `// TODO N:`")]
    BeginWithoutTodo,
    #[error(
        "the comment of TODO {number} (line {todo_line}) must be followed by `// BEGIN SOLUTION`"
    )]
    TodoWithoutBegin { number: u32, todo_line: usize },
    #[error(
        "TODO {number} inside the block opened at line {open_line}: a TODO goes before its block"
    )]
    TodoInsideBlock { number: u32, open_line: usize },
    #[error(
        "TODO {number} in a reference-only file (`// REFERENCE FILE` at line {marker_line}): students would never see it"
    )]
    TodoInReferenceFile { number: u32, marker_line: usize },
    #[error("TODO {number} again: it is already at {first}")]
    DuplicateTodo { number: u32, first: String },
    #[error("{}", missing_todos(*number, *previous))]
    MissingTodos {
        /// The TODO after the gap, whose line the error names.
        number: u32,
        /// The TODO before the gap, if any.
        previous: Option<u32>,
    },
    #[error("LAB without a number: write `// LAB N` (or `// LAB N: words`)")]
    LabWithoutNumber,
    #[error("LAB 0: the labs are numbered from 1")]
    LabZero,
    #[error(
        "a second `// LAB` in this file (the first is at line {first_line}): a file is in one lab"
    )]
    LabAgain { first_line: usize },
    #[error("`// LAB` inside the block opened at line {open_line}: it would vanish with the block")]
    LabInsideBlock { open_line: usize },
    #[error(
        "TODO {number} is in lab {lab}{}, but TODO {later_number} of lab {later_lab} \
         ({later_place}) comes before it: each lab's TODOs follow the previous lab's",
        if *lab == 1 { " (its file has no `// LAB N`)" } else { "" }
    )]
    LabsOutOfOrder {
        number: u32,
        lab: u32,
        later_number: u32,
        later_lab: u32,
        later_place: String,
    },
}

/// The message for TODOs missing before `number`.
fn missing_todos(number: u32, previous: Option<u32>) -> String {
    let first_missing = previous.unwrap_or(0) + 1;
    let last_missing = number - 1;
    let missing = if first_missing == last_missing {
        format!("TODO {first_missing} is missing")
    } else {
        format!("TODOs {first_missing}-{last_missing} are missing")
    };
    let context = match previous {
        Some(previous) => format!("TODO {previous} is followed by TODO {number}"),
        None => format!("the first TODO is TODO {number}"),
    };
    format!("{missing}: {context} (the numbers run from 1 with no gap)")
}

/// A TODO found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Todo {
    pub number: u32,
    /// Its line, counted from 1.
    pub line: usize,
}

/// A file of the solution, as students get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The text with every block replaced (line endings kept).
    pub text: String,
    /// The file's TODOs, in the order they appear.
    pub todos: Vec<Todo>,
    /// Whether any `// BEGIN SOLUTION` block was replaced by a stub.
    pub has_stubs: bool,
    /// The lines inside each `// BEGIN SOLUTION` block, markers excluded
    /// (counted from 1, in order): what students write, and so what
    /// mutation testing mutates.
    pub solution_lines: Vec<Range<usize>>,
    /// Whether `// REFERENCE FILE` keeps the whole file from students.
    pub reference_only: bool,
    /// The lab of its `// LAB N`, if it has one (else it is lab 1's).
    pub lab: Option<u32>,
}

impl Processed {
    /// The lab the file's TODOs belong to: its `// LAB N`, or 1.
    pub fn lab(&self) -> u32 {
        self.lab.unwrap_or(1)
    }
}

/// Replaces the blocks of one file by their stubs, and checks its markers.
/// `file` is only used to name the file in errors.
pub fn process(file: &Path, source: &str) -> Result<Processed, MarkerError> {
    let mut scan = Scan::new(file, source.len());
    let mut state = State::Code;
    for (index, raw) in source.split_inclusive('\n').enumerate() {
        state = scan.line(state, index + 1, raw)?;
    }
    scan.finish(state)
}

/// Where [`process`] is in a file.
enum State {
    /// Outside any marker.
    Code,
    /// In the comment of a TODO, waiting for its `// BEGIN SOLUTION`.
    TodoComment { number: u32, line: usize },
    /// Between `BEGIN` and `END`.
    InBlock(OpenBlock),
    /// Right after `// END SOLUTION`: collecting its stub lines.
    Stubs(Stubs),
}

/// A block whose `END` has not come yet.
struct OpenBlock {
    block: Block,
    /// The line of its `BEGIN`.
    line: usize,
    /// The TODO of a solution block (0 for a reference block).
    number: u32,
    /// The indentation of its `BEGIN`, which its stubs take.
    indent: String,
}

/// The stub lines of a solution block that just closed.
struct Stubs {
    number: u32,
    indent: String,
    /// The line ending of its `END`, for the `todo!` that replaces a block
    /// without stubs.
    eol: String,
    lines: Vec<String>,
}

impl Stubs {
    /// Adds the line of `// STUB: code`, at the block's indentation.
    fn add(&mut self, code: &str, raw: &str) {
        if code.is_empty() {
            self.lines.push(line_ending(raw));
        } else {
            self.lines
                .push(format!("{}{code}{}", self.indent, line_ending(raw)));
        }
    }

    /// Writes what replaces the block: its stubs, or `todo!("TODO N");`.
    fn write_to(self, out: &mut String) {
        if self.lines.is_empty() {
            let Stubs {
                number,
                indent,
                eol,
                ..
            } = self;
            out.push_str(&format!("{indent}todo!(\"TODO {number}\");{eol}"));
        } else {
            out.extend(self.lines);
        }
    }
}

/// What [`process`] has gathered so far: the file as students get it, and
/// what it found on the way. One method per [`State`] reads the next line.
struct Scan<'f> {
    file: &'f Path,
    out: String,
    todos: Vec<Todo>,
    has_stubs: bool,
    solution_lines: Vec<Range<usize>>,
    /// The line of the first `// REFERENCE FILE`.
    reference_marker: Option<usize>,
    /// The file's `// LAB N`: its number and line.
    lab: Option<(u32, usize)>,
}

impl<'f> Scan<'f> {
    fn new(file: &'f Path, len: usize) -> Self {
        Scan {
            file,
            out: String::with_capacity(len),
            todos: Vec::new(),
            has_stubs: false,
            solution_lines: Vec::new(),
            reference_marker: None,
            lab: None,
        }
    }

    fn error(&self, line: usize, kind: MarkerErrorKind) -> MarkerError {
        MarkerError {
            file: self.file.to_path_buf(),
            line,
            kind,
        }
    }

    /// Reads line number `line`, whose text is `raw`, in `state`; returns
    /// the state after it.
    fn line(&mut self, state: State, line: usize, raw: &str) -> Result<State, MarkerError> {
        if matches!(state, State::TodoComment { .. }) && continues_text(raw) {
            self.out.push_str(raw);
            return Ok(state);
        }
        let kind = classify(raw).map_err(|kind| self.error(line, kind))?;
        match state {
            State::Code => self.in_code(line, raw, kind),
            State::TodoComment {
                number,
                line: todo_line,
            } => self.in_todo_comment(number, todo_line, line, raw, kind),
            State::InBlock(open) => self.in_block(open, line, raw, kind),
            State::Stubs(stubs) => self.in_stubs(stubs, line, raw, kind),
        }
    }

    /// Outside any marker: code is copied, a TODO or a reference block
    /// starts, and the other markers are misplaced.
    fn in_code(&mut self, line: usize, raw: &str, kind: Line<'_>) -> Result<State, MarkerError> {
        match kind {
            Line::Code | Line::Comment => {
                self.out.push_str(raw);
                Ok(State::Code)
            }
            Line::Todo(number) => {
                self.todos.push(Todo { number, line });
                self.out.push_str(raw);
                Ok(State::TodoComment { number, line })
            }
            Line::Begin(Block::Solution) => {
                Err(self.error(line, MarkerErrorKind::BeginWithoutTodo))
            }
            Line::Begin(Block::Reference) => Ok(State::InBlock(OpenBlock {
                block: Block::Reference,
                line,
                number: 0,
                indent: String::new(),
            })),
            Line::End(block) => Err(self.error(line, MarkerErrorKind::EndWithoutBegin(block))),
            Line::Stub(_) => Err(self.error(line, MarkerErrorKind::StubWithoutBlock)),
            Line::ReferenceFile => {
                self.reference_marker.get_or_insert(line);
                Ok(State::Code)
            }
            Line::Lab(number) => {
                if let Some((_, first_line)) = self.lab {
                    return Err(self.error(line, MarkerErrorKind::LabAgain { first_line }));
                }
                self.lab = Some((number, line));
                self.out.push_str(raw);
                Ok(State::Code)
            }
        }
    }

    /// In the comment of TODO `number` (at `todo_line`): more comment, or
    /// its `// BEGIN SOLUTION`, and nothing else.
    fn in_todo_comment(
        &mut self,
        number: u32,
        todo_line: usize,
        line: usize,
        raw: &str,
        kind: Line<'_>,
    ) -> Result<State, MarkerError> {
        match kind {
            Line::Comment => {
                self.out.push_str(raw);
                Ok(State::TodoComment {
                    number,
                    line: todo_line,
                })
            }
            Line::Begin(Block::Solution) => Ok(State::InBlock(OpenBlock {
                block: Block::Solution,
                line,
                number,
                indent: indentation(raw).to_owned(),
            })),
            _ => Err(self.error(
                line,
                MarkerErrorKind::TodoWithoutBegin { number, todo_line },
            )),
        }
    }

    /// Inside a block: its lines are dropped until its `END`; no other
    /// marker but `// REFERENCE FILE` may be there.
    fn in_block(
        &mut self,
        open: OpenBlock,
        line: usize,
        raw: &str,
        kind: Line<'_>,
    ) -> Result<State, MarkerError> {
        let open_line = open.line;
        match kind {
            Line::Code | Line::Comment => Ok(State::InBlock(open)),
            Line::End(end) if end == open.block => Ok(self.close(open, line, raw)),
            Line::End(end) => Err(self.error(
                line,
                MarkerErrorKind::MismatchedEnd {
                    open: open.block,
                    open_line,
                    end,
                },
            )),
            Line::Begin(inner) => {
                Err(self.error(line, MarkerErrorKind::Nested { open_line, inner }))
            }
            Line::Todo(number) => {
                Err(self.error(line, MarkerErrorKind::TodoInsideBlock { number, open_line }))
            }
            Line::Stub(_) => Err(self.error(line, MarkerErrorKind::StubInsideBlock { open_line })),
            Line::ReferenceFile => {
                self.reference_marker.get_or_insert(line);
                Ok(State::InBlock(open))
            }
            Line::Lab(_) => Err(self.error(line, MarkerErrorKind::LabInsideBlock { open_line })),
        }
    }

    /// The `END` at `line`, whose text is `raw`, closes `open`: a solution
    /// block's stubs follow.
    fn close(&mut self, open: OpenBlock, line: usize, raw: &str) -> State {
        match open.block {
            Block::Solution => {
                self.has_stubs = true;
                self.solution_lines.push(open.line + 1..line);
                State::Stubs(Stubs {
                    number: open.number,
                    indent: open.indent,
                    eol: line_ending(raw),
                    lines: Vec::new(),
                })
            }
            Block::Reference => State::Code,
        }
    }

    /// Right after a solution block: stubs extend it; anything else ends
    /// it, and is read as code.
    fn in_stubs(
        &mut self,
        mut stubs: Stubs,
        line: usize,
        raw: &str,
        kind: Line<'_>,
    ) -> Result<State, MarkerError> {
        if let Line::Stub(code) = kind {
            stubs.add(code, raw);
            return Ok(State::Stubs(stubs));
        }
        stubs.write_to(&mut self.out);
        self.in_code(line, raw, kind)
    }

    /// The end of the file: no block or TODO may be left open, and a
    /// reference-only file has no TODO.
    fn finish(mut self, state: State) -> Result<Processed, MarkerError> {
        match state {
            State::Code => {}
            State::Stubs(stubs) => stubs.write_to(&mut self.out),
            State::TodoComment { number, line } => {
                return Err(self.error(
                    line,
                    MarkerErrorKind::TodoWithoutBegin {
                        number,
                        todo_line: line,
                    },
                ));
            }
            State::InBlock(open) => {
                return Err(self.error(open.line, MarkerErrorKind::Unclosed(open.block)));
            }
        }
        if let (Some(marker_line), Some(todo)) = (self.reference_marker, self.todos.first()) {
            return Err(self.error(
                todo.line,
                MarkerErrorKind::TodoInReferenceFile {
                    number: todo.number,
                    marker_line,
                },
            ));
        }
        Ok(Processed {
            text: self.out,
            todos: self.todos,
            has_stubs: self.has_stubs,
            solution_lines: self.solution_lines,
            reference_only: self.reference_marker.is_some(),
            lab: self.lab.map(|(number, _)| number),
        })
    }
}

/// What a line is, to the markers.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    /// Anything but a plain `//` comment: code, blank, a doc comment.
    Code,
    /// A plain `//` comment that is no marker.
    Comment,
    Todo(u32),
    Begin(Block),
    End(Block),
    /// A stub, with the code it becomes.
    Stub(&'a str),
    ReferenceFile,
    Lab(u32),
}

/// The words that make a comment look like a marker.
const MARKER_WORDS: [&str; 7] = [
    "BEGIN",
    "END",
    "STUB",
    "TODO",
    "SOLUTION",
    "REFERENCE",
    "LAB",
];

/// Every marker: its words, and how to write it, for suggestions.
const MARKERS: [(&str, &str, &str); 8] = [
    ("LAB", "", "// LAB N"),
    ("TODO", "", "// TODO N: what to do"),
    ("STUB", "", "// STUB: code"),
    ("BEGIN", "SOLUTION", "// BEGIN SOLUTION"),
    ("END", "SOLUTION", "// END SOLUTION"),
    ("BEGIN", "REFERENCE", "// BEGIN REFERENCE"),
    ("END", "REFERENCE", "// END REFERENCE"),
    ("REFERENCE", "FILE", "// REFERENCE FILE"),
];

fn classify(raw: &str) -> Result<Line<'_>, MarkerErrorKind> {
    let text = raw.trim();
    let Some(body) = text.strip_prefix("//") else {
        return Ok(Line::Code);
    };
    if body.starts_with('/') || body.starts_with('!') {
        return Ok(Line::Code);
    }
    if !looks_like_marker(first_word(body)) {
        return Ok(Line::Comment);
    }
    match text {
        "// BEGIN SOLUTION" => return Ok(Line::Begin(Block::Solution)),
        "// END SOLUTION" => return Ok(Line::End(Block::Solution)),
        "// BEGIN REFERENCE" => return Ok(Line::Begin(Block::Reference)),
        "// END REFERENCE" => return Ok(Line::End(Block::Reference)),
        "// REFERENCE FILE" => return Ok(Line::ReferenceFile),
        _ => {}
    }
    if let Some(code) = text.strip_prefix("// STUB:") {
        return Ok(Line::Stub(code.strip_prefix(' ').unwrap_or(code)));
    }
    if let Some(rest) = text.strip_prefix("// TODO") {
        // `// TODOS` is another word; `// TODO:` and `// TODO(x)` are TODOs
        // without a number.
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return todo_number(rest).map(Line::Todo);
        }
    }
    if let Some(rest) = text.strip_prefix("// LAB")
        && !rest.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return lab_number(rest).map(Line::Lab);
    }
    Err(MarkerErrorKind::UnknownMarker {
        text: text.to_owned(),
        suggestion: suggestion(body),
    })
}

/// The number of a TODO, from what follows `// TODO`.
fn todo_number(rest: &str) -> Result<u32, MarkerErrorKind> {
    let rest = rest.trim_start();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let number: u32 = rest[..digits_end]
        .parse()
        .map_err(|_| MarkerErrorKind::TodoWithoutNumber)?;
    if !rest[digits_end..].starts_with(':') {
        return Err(MarkerErrorKind::TodoWithoutColon(number));
    }
    if number == 0 {
        return Err(MarkerErrorKind::TodoZero);
    }
    Ok(number)
}

/// The number of a lab, from what follows `// LAB`: digits, then the end
/// of the line or a colon and words.
fn lab_number(rest: &str) -> Result<u32, MarkerErrorKind> {
    let rest = rest.trim_start();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let number: u32 = rest[..digits_end]
        .parse()
        .map_err(|_| MarkerErrorKind::LabWithoutNumber)?;
    let after = &rest[digits_end..];
    if !(after.is_empty() || after.starts_with(':')) {
        return Err(MarkerErrorKind::LabWithoutNumber);
    }
    if number == 0 {
        return Err(MarkerErrorKind::LabZero);
    }
    Ok(number)
}

/// Whether a line continues the text of a TODO's comment: a `//` comment
/// that is empty or indented past `// `, where a marker never is.
fn continues_text(raw: &str) -> bool {
    let text = raw.trim();
    match text.strip_prefix("//") {
        Some(body) => {
            !body.starts_with('/')
                && !body.starts_with('!')
                && (body.is_empty() || body.starts_with("  ") || body.starts_with('\t'))
        }
        None => false,
    }
}

/// The leading run of ASCII letters of a comment's text.
fn first_word(body: &str) -> &str {
    let body = body.trim_start();
    let end = body
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(body.len());
    &body[..end]
}

/// Whether a comment's first word is, or nearly is, a marker's word in
/// capitals.
fn looks_like_marker(word: &str) -> bool {
    word.len() >= 3
        && word.bytes().all(|b| b.is_ascii_uppercase())
        && MARKER_WORDS
            .iter()
            .any(|marker| edit_distance(word, marker) <= tolerance(marker))
}

/// How many letters a word may be off and still look like `marker`.
fn tolerance(marker: &str) -> usize {
    if marker.len() > 4 { 2 } else { 1 }
}

/// The marker that a marker-like comment probably meant.
fn suggestion(body: &str) -> Option<&'static str> {
    let first = first_word(body);
    let second = body
        .trim_start()
        .get(first.len()..)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("");
    MARKERS
        .iter()
        .filter(|(word, _, _)| edit_distance(first, word) <= tolerance(word))
        .min_by_key(|(word, next, _)| (edit_distance(first, word), edit_distance(second, next)))
        .map(|&(_, _, marker)| marker)
}

/// The Levenshtein distance between two ASCII words: how many letters to
/// insert, delete or replace to turn one into the other.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.as_bytes().iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let replace = previous[j] + usize::from(ca != cb);
            current[j + 1] = replace.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The whitespace that starts a line.
fn indentation(raw: &str) -> &str {
    &raw[..raw.len() - raw.trim_start().len()]
}

/// How a line ends: `\r\n`, `\n`, or nothing at the end of a file.
fn line_ending(raw: &str) -> String {
    if raw.ends_with("\r\n") {
        String::from("\r\n")
    } else if raw.ends_with('\n') {
        String::from("\n")
    } else {
        String::new()
    }
}

/// Checks the TODO numbers of every file together: each number once, and
/// all of them running from 1 with no gap. `todos` lists each file (as it is
/// to be named in errors) with its TODOs.
pub fn check_numbering<'a>(
    todos: impl IntoIterator<Item = (&'a Path, &'a [Todo])>,
) -> Vec<MarkerError> {
    let mut errors = Vec::new();
    let mut first_seen: BTreeMap<u32, (&Path, usize)> = BTreeMap::new();
    for (file, file_todos) in todos {
        for todo in file_todos {
            if let Some((first_file, first_line)) = first_seen.get(&todo.number) {
                errors.push(MarkerError {
                    file: file.to_path_buf(),
                    line: todo.line,
                    kind: MarkerErrorKind::DuplicateTodo {
                        number: todo.number,
                        first: format!("{}:{first_line}", first_file.display()),
                    },
                });
            } else {
                first_seen.insert(todo.number, (file, todo.line));
            }
        }
    }
    let mut previous = 0;
    for (&number, &(file, line)) in &first_seen {
        if number > previous + 1 {
            errors.push(MarkerError {
                file: file.to_path_buf(),
                line,
                kind: MarkerErrorKind::MissingTodos {
                    number,
                    previous: (previous > 0).then_some(previous),
                },
            });
        }
        previous = number;
    }
    errors
}

/// Checks that the labs' TODOs follow each other: every TODO of a lab comes
/// before every TODO of a later lab. `todos` lists each file (as it is to be
/// named in errors) with its lab and its TODOs. One error per lab that runs
/// past the next, at its last TODO.
pub fn check_labs<'a>(
    todos: impl IntoIterator<Item = (&'a Path, u32, &'a [Todo])>,
) -> Vec<MarkerError> {
    // A TODO's number, file and line.
    type Place<'a> = (u32, &'a Path, usize);
    // For each lab, its first and its last TODO.
    let mut labs: BTreeMap<u32, (Place<'_>, Place<'_>)> = BTreeMap::new();
    for (file, lab, file_todos) in todos {
        for todo in file_todos {
            let here = (todo.number, file, todo.line);
            let entry = labs.entry(lab).or_insert((here, here));
            if todo.number < entry.0.0 {
                entry.0 = here;
            }
            if todo.number > entry.1.0 {
                entry.1 = here;
            }
        }
    }
    let mut errors = Vec::new();
    let labs: Vec<_> = labs.into_iter().collect();
    for pair in labs.windows(2) {
        let (lab, (_, (last, file, line))) = pair[0];
        let (later_lab, ((first, first_file, first_line), _)) = pair[1];
        if last > first {
            errors.push(MarkerError {
                file: file.to_path_buf(),
                line,
                kind: MarkerErrorKind::LabsOutOfOrder {
                    number: last,
                    lab,
                    later_number: first,
                    later_lab,
                    later_place: format!("{}:{first_line}", first_file.display()),
                },
            });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one line the generator prints for `source`'s first error.
    fn error_of(source: &str) -> String {
        match process(Path::new("src/demo.rs"), source) {
            Ok(processed) => panic!("expected an error, got:\n{}", processed.text),
            Err(err) => err.to_string(),
        }
    }

    fn text_of(source: &str) -> String {
        match process(Path::new("src/demo.rs"), source) {
            Ok(processed) => processed.text,
            Err(err) => panic!("unexpected error: {err}"),
        }
    }

    #[test]
    fn a_block_without_stub_becomes_todo_at_its_indentation() {
        let source = "\
fn add(a: i32, b: i32) -> i32 {
    // TODO 1: Add them.
    //         Both of them.
    // BEGIN SOLUTION
    a + b
    // END SOLUTION
}
";
        let processed = process(Path::new("src/demo.rs"), source).expect("valid markers");
        assert_eq!(
            processed.text,
            "\
fn add(a: i32, b: i32) -> i32 {
    // TODO 1: Add them.
    //         Both of them.
    todo!(\"TODO 1\");
}
"
        );
        assert_eq!(processed.todos, [Todo { number: 1, line: 2 }]);
        assert!(processed.has_stubs);
        // Line 5, `a + b`, alone.
        assert_eq!(processed.solution_lines, [Range { start: 5, end: 6 }]);
        assert!(!processed.reference_only);
    }

    #[test]
    fn stub_lines_replace_the_block_at_its_indentation() {
        let source = "\
        // TODO 2: Wait.
        // BEGIN SOLUTION
        let ready = wait()?;
        // END SOLUTION
      // STUB: let ready: usize = todo!(\"TODO 2\");
        // STUB:
        // STUB: let _ = ready;
        use_it(ready);
";
        assert_eq!(
            text_of(source),
            "\
        // TODO 2: Wait.
        let ready: usize = todo!(\"TODO 2\");

        let _ = ready;
        use_it(ready);
"
        );
    }

    #[test]
    fn a_block_at_the_end_of_a_file_is_replaced_too() {
        assert_eq!(
            text_of("// TODO 1: x\n// BEGIN SOLUTION\nx();\n// END SOLUTION"),
            "// TODO 1: x\ntodo!(\"TODO 1\");"
        );
        assert_eq!(
            text_of("// TODO 1: x\n// BEGIN SOLUTION\nx();\n// END SOLUTION\n// STUB: y();\n"),
            "// TODO 1: x\ny();\n"
        );
    }

    #[test]
    fn crlf_line_endings_are_kept() {
        assert_eq!(
            text_of(
                "a();\r\n// TODO 1: x\r\n// BEGIN SOLUTION\r\nx();\r\n// END SOLUTION\r\nb();\r\n"
            ),
            "a();\r\n// TODO 1: x\r\ntodo!(\"TODO 1\");\r\nb();\r\n"
        );
    }

    #[test]
    fn a_continuation_line_may_start_with_a_marker_word() {
        let source = "\
// TODO 3: Build the event
//         like the one in
//         TODO 1, with `events`.
//
// BEGIN SOLUTION
x();
// END SOLUTION
";
        assert_eq!(
            text_of(source),
            "// TODO 3: Build the event\n//         like the one in\n//         TODO 1, with `events`.\n//\ntodo!(\"TODO 3\");\n"
        );
    }

    #[test]
    fn comments_and_doc_comments_are_not_markers() {
        let source = "\
//! TODO 9 of the lab text: this doc is no marker.
/// BEGIN SOLUTION in a doc comment is text.
// SAFETY: a comment in capitals that is no marker.
// EPERM, EOF, NOTE and DONE are far from every marker word.
// The end. Todo: lower case is text.
let x = \"// BEGIN SOLUTION\"; // TODO trailing comments are text
";
        let processed = process(Path::new("a.rs"), source).expect("no markers");
        assert_eq!(processed.text, source);
        assert!(processed.todos.is_empty());
        assert!(!processed.has_stubs);
    }

    #[test]
    fn reference_blocks_disappear_with_their_markers() {
        let source = "\
a();
    // BEGIN REFERENCE
    check_more();
    // a comment
    // END REFERENCE
b();
";
        let processed = process(Path::new("a.rs"), source).expect("valid markers");
        assert_eq!(processed.text, "a();\nb();\n");
        assert!(!processed.has_stubs);
    }

    #[test]
    fn reference_file_marks_the_whole_file() {
        let processed =
            process(Path::new("a.rs"), "// REFERENCE FILE\nfn main() {}\n").expect("valid markers");
        assert!(processed.reference_only);
        assert_eq!(
            error_of("// REFERENCE FILE\n// TODO 1: x\n// BEGIN SOLUTION\n// END SOLUTION\n"),
            "src/demo.rs:2: TODO 1 in a reference-only file (`// REFERENCE FILE` at line 1): students would never see it"
        );
    }

    #[test]
    fn end_without_begin() {
        assert_eq!(
            error_of("a();\n// END SOLUTION\n"),
            "src/demo.rs:2: `// END SOLUTION` without a `// BEGIN SOLUTION` before it"
        );
        assert_eq!(
            error_of("// END REFERENCE\n"),
            "src/demo.rs:1: `// END REFERENCE` without a `// BEGIN REFERENCE` before it"
        );
    }

    #[test]
    fn begin_never_closed() {
        assert_eq!(
            error_of("// TODO 1: x\n    // BEGIN SOLUTION\n    x();\n"),
            "src/demo.rs:2: `// BEGIN SOLUTION` is never closed: `// END SOLUTION` is missing"
        );
    }

    #[test]
    fn end_of_the_other_kind() {
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTION\nx();\n// END REFERENCE\n"),
            "src/demo.rs:4: `// END REFERENCE` cannot close the `// BEGIN SOLUTION` of line 2"
        );
    }

    #[test]
    fn nested_blocks() {
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTION\n// BEGIN SOLUTION\n"),
            "src/demo.rs:3: `// BEGIN SOLUTION` inside the block opened at line 2: blocks do not nest"
        );
        assert_eq!(
            error_of("// BEGIN REFERENCE\n// BEGIN REFERENCE\n"),
            "src/demo.rs:2: `// BEGIN REFERENCE` inside the block opened at line 1: blocks do not nest"
        );
    }

    #[test]
    fn stub_not_after_a_block() {
        assert_eq!(
            error_of("a();\n// STUB: todo!();\n"),
            "src/demo.rs:2: `// STUB:` must come right after `// END SOLUTION` or another `// STUB:` line"
        );
        // A blank line ends the block's stubs.
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTION\n// END SOLUTION\n\n// STUB: y();\n"),
            "src/demo.rs:5: `// STUB:` must come right after `// END SOLUTION` or another `// STUB:` line"
        );
        assert_eq!(
            error_of("// BEGIN REFERENCE\n// END REFERENCE\n// STUB: y();\n"),
            "src/demo.rs:3: `// STUB:` must come right after `// END SOLUTION` or another `// STUB:` line"
        );
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTION\n// STUB: y();\n// END SOLUTION\n"),
            "src/demo.rs:3: `// STUB:` inside the block opened at line 2: stubs go right after `// END SOLUTION`"
        );
    }

    #[test]
    fn unknown_markers() {
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTON\n"),
            "src/demo.rs:2: unknown marker `// BEGIN SOLUTON`: did you mean `// BEGIN SOLUTION`?"
        );
        assert_eq!(
            error_of("    // END SOLUTIN\n"),
            "src/demo.rs:1: unknown marker `// END SOLUTIN`: did you mean `// END SOLUTION`?"
        );
        assert_eq!(
            error_of("// STUBB: x();\n"),
            "src/demo.rs:1: unknown marker `// STUBB: x();`: did you mean `// STUB: code`?"
        );
        assert_eq!(
            error_of("// STUB x();\n"),
            "src/demo.rs:1: unknown marker `// STUB x();`: did you mean `// STUB: code`?"
        );
        assert_eq!(
            error_of("//TODO 3: x\n"),
            "src/demo.rs:1: unknown marker `//TODO 3: x`: did you mean `// TODO N: what to do`?"
        );
        assert_eq!(
            error_of("// BEGIN\n"),
            "src/demo.rs:1: unknown marker `// BEGIN`: did you mean `// BEGIN SOLUTION`?"
        );
        assert_eq!(
            error_of("// REFERENCE ONLY\n"),
            "src/demo.rs:1: unknown marker `// REFERENCE ONLY`: did you mean `// REFERENCE FILE`?"
        );
        assert_eq!(
            error_of("// SOLUTION BEGINS\n"),
            "src/demo.rs:1: unknown marker `// SOLUTION BEGINS`: the markers are listed in skeleton/src/markers.rs"
        );
    }

    #[test]
    fn a_misspelt_marker_right_after_a_todo_is_caught_as_such() {
        assert_eq!(
            error_of("// TODO 1: x\n//   more text\n// BEGIN SOLUTON\nx();\n// END SOLUTION\n"),
            "src/demo.rs:3: unknown marker `// BEGIN SOLUTON`: did you mean `// BEGIN SOLUTION`?"
        );
    }

    #[test]
    fn todo_without_a_number() {
        assert_eq!(
            error_of("// TODO: x\n"),
            "src/demo.rs:1: TODO without a number: write `// TODO N: what to do`"
        );
        assert_eq!(
            error_of("a();\n// TODO(ana) x\n"),
            "src/demo.rs:2: TODO without a number: write `// TODO N: what to do`"
        );
        assert_eq!(
            error_of("// TODO\n"),
            "src/demo.rs:1: TODO without a number: write `// TODO N: what to do`"
        );
    }

    #[test]
    fn todo_without_a_colon_or_numbered_zero() {
        assert_eq!(
            error_of("// TODO 3 add it\n"),
            "src/demo.rs:1: `// TODO 3` needs a colon: write `// TODO 3: what to do`"
        );
        assert_eq!(
            error_of("// TODO 0: x\n"),
            "src/demo.rs:1: TODO 0: the numbers start at 1"
        );
    }

    #[test]
    fn begin_without_a_todo() {
        assert_eq!(
            error_of("a();\n// BEGIN SOLUTION\nx();\n// END SOLUTION\n"),
            "src/demo.rs:2: `// BEGIN SOLUTION` must come right after the comment of a `// TODO N:`"
        );
        // The TODO's comment ends at the first line that is not a comment.
        assert_eq!(
            error_of("// TODO 1: x\n\n// BEGIN SOLUTION\n// END SOLUTION\n"),
            "src/demo.rs:2: the comment of TODO 1 (line 1) must be followed by `// BEGIN SOLUTION`"
        );
    }

    #[test]
    fn todo_without_its_block() {
        assert_eq!(
            error_of("// TODO 1: x\nx();\n"),
            "src/demo.rs:2: the comment of TODO 1 (line 1) must be followed by `// BEGIN SOLUTION`"
        );
        assert_eq!(
            error_of("a();\n// TODO 1: x\n//     more"),
            "src/demo.rs:2: the comment of TODO 1 (line 2) must be followed by `// BEGIN SOLUTION`"
        );
        assert_eq!(
            error_of("// TODO 1: x\n// TODO 2: y\n"),
            "src/demo.rs:2: the comment of TODO 1 (line 1) must be followed by `// BEGIN SOLUTION`"
        );
    }

    #[test]
    fn todo_inside_a_block() {
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTION\n// TODO 2: y\n// END SOLUTION\n"),
            "src/demo.rs:3: TODO 2 inside the block opened at line 2: a TODO goes before its block"
        );
    }

    fn numbering_errors(files: &[(&str, &[u32])]) -> Vec<String> {
        let todos: Vec<(PathBuf, Vec<Todo>)> = files
            .iter()
            .map(|(file, numbers)| {
                let todos = numbers
                    .iter()
                    .enumerate()
                    .map(|(index, &number)| Todo {
                        number,
                        line: 10 * (index + 1),
                    })
                    .collect();
                (PathBuf::from(file), todos)
            })
            .collect();
        check_numbering(
            todos
                .iter()
                .map(|(file, todos)| (file.as_path(), todos.as_slice())),
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn numbers_across_files_run_from_one_without_gap_or_repeat() {
        assert!(numbering_errors(&[("a.rs", &[1, 2]), ("b.rs", &[4, 3])]).is_empty());
        assert!(numbering_errors(&[]).is_empty());
    }

    #[test]
    fn a_number_used_twice() {
        assert_eq!(
            numbering_errors(&[("src/a.rs", &[1, 2]), ("src/b.rs", &[3, 2])]),
            ["src/b.rs:20: TODO 2 again: it is already at src/a.rs:20"]
        );
    }

    #[test]
    fn numbers_that_skip() {
        assert_eq!(
            numbering_errors(&[("src/a.rs", &[1, 2]), ("src/b.rs", &[4, 7])]),
            [
                "src/b.rs:10: TODO 3 is missing: TODO 2 is followed by TODO 4 (the numbers run from 1 with no gap)",
                "src/b.rs:20: TODOs 5-6 are missing: TODO 4 is followed by TODO 7 (the numbers run from 1 with no gap)",
            ]
        );
        assert_eq!(
            numbering_errors(&[("src/a.rs", &[3])]),
            [
                "src/a.rs:10: TODOs 1-2 are missing: the first TODO is TODO 3 (the numbers run from 1 with no gap)"
            ]
        );
    }

    #[test]
    fn a_lab_marker_says_the_files_lab_and_stays() {
        let source =
            "// LAB 2: the room\n// TODO 17: x\n// BEGIN SOLUTION\nf();\n// END SOLUTION\n";
        let processed = process(Path::new("src/demo.rs"), source).expect("valid markers");
        assert_eq!(processed.lab, Some(2));
        assert_eq!(processed.lab(), 2);
        assert_eq!(
            processed.text,
            "// LAB 2: the room\n// TODO 17: x\ntodo!(\"TODO 17\");\n"
        );
        let plain = process(Path::new("src/demo.rs"), "// LAB 3\nfn f() {}\n").expect("valid");
        assert_eq!(plain.lab, Some(3));
        let none = process(Path::new("src/demo.rs"), "fn f() {}\n").expect("valid");
        assert_eq!((none.lab, none.lab()), (None, 1));
        // A word that only starts like it is another word.
        let word = process(Path::new("src/demo.rs"), "// LABEL the rest\n").expect("valid");
        assert_eq!(word.lab, None);
    }

    #[test]
    fn lab_marker_errors() {
        assert_eq!(
            error_of("// LAB\n"),
            "src/demo.rs:1: LAB without a number: write `// LAB N` (or `// LAB N: words`)"
        );
        assert_eq!(
            error_of("// LAB two\n"),
            "src/demo.rs:1: LAB without a number: write `// LAB N` (or `// LAB N: words`)"
        );
        assert_eq!(
            error_of("// LAB 0\n"),
            "src/demo.rs:1: LAB 0: the labs are numbered from 1"
        );
        assert_eq!(
            error_of("// LAB 2\nfn f() {}\n// LAB 2\n"),
            "src/demo.rs:3: a second `// LAB` in this file (the first is at line 1): a file is in one lab"
        );
        assert_eq!(
            error_of("// TODO 1: x\n// BEGIN SOLUTION\n// LAB 2\n// END SOLUTION\n"),
            "src/demo.rs:3: `// LAB` inside the block opened at line 2: it would vanish with the block"
        );
        assert_eq!(
            error_of("// LABB 2\n"),
            "src/demo.rs:1: unknown marker `// LABB 2`: did you mean `// LAB N`?"
        );
    }

    /// The errors of [`check_labs`] for files given as (name, lab, TODO
    /// numbers), the n-th TODO of a file at line 10 n.
    fn lab_errors(files: &[(&str, u32, &[u32])]) -> Vec<String> {
        let todos: Vec<(PathBuf, u32, Vec<Todo>)> = files
            .iter()
            .map(|&(file, lab, numbers)| {
                let todos = numbers
                    .iter()
                    .enumerate()
                    .map(|(index, &number)| Todo {
                        number,
                        line: 10 * (index + 1),
                    })
                    .collect();
                (PathBuf::from(file), lab, todos)
            })
            .collect();
        check_labs(
            todos
                .iter()
                .map(|(file, lab, todos)| (file.as_path(), *lab, todos.as_slice())),
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn each_labs_todos_follow_the_previous_labs() {
        assert!(
            lab_errors(&[("a.rs", 1, &[1, 2]), ("b.rs", 2, &[4, 3]), ("c.rs", 1, &[])]).is_empty()
        );
        assert!(lab_errors(&[("a.rs", 1, &[2, 1])]).is_empty());
        assert!(lab_errors(&[]).is_empty());
        // A lab-2 file that forgot its marker, among lab 2's TODOs.
        assert_eq!(
            lab_errors(&[
                ("src/a.rs", 1, &[1, 2]),
                ("src/room/b.rs", 2, &[3]),
                ("src/room/c.rs", 1, &[4]),
                ("src/room/d.rs", 2, &[5]),
            ]),
            [
                "src/room/c.rs:10: TODO 4 is in lab 1 (its file has no `// LAB N`), but TODO 3 of lab 2 (src/room/b.rs:10) comes before it: each lab's TODOs follow the previous lab's"
            ]
        );
        assert_eq!(
            lab_errors(&[("x.rs", 3, &[1]), ("y.rs", 2, &[2])]),
            [
                "y.rs:10: TODO 2 is in lab 2, but TODO 1 of lab 3 (x.rs:10) comes before it: each lab's TODOs follow the previous lab's"
            ]
        );
    }

    #[test]
    fn marker_likeness() {
        for word in [
            "BEGIN", "BEGN", "BEGINS", "END", "ENDS", "STUBB", "TODOS", "SOLUTON", "LAB", "LABS",
        ] {
            assert!(looks_like_marker(word), "{word}");
        }
        for word in [
            "SAFETY", "EPERM", "EOF", "NOTE", "DONE", "Begin", "ED", "FIXME",
        ] {
            assert!(!looks_like_marker(word), "{word}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("SOLUTON", "SOLUTION"), 1);
        assert_eq!(edit_distance("STUBB", "STUB"), 1);
        assert_eq!(edit_distance("NOTE", "TODO"), 3);
        assert_eq!(edit_distance("", "END"), 3);
    }
}
