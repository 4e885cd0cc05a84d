//! The result model: what a check is, and what grading produced. Every report
//! format (human, Gradescope JSON, JUnit, TAP) is written from a [`Report`].

use std::fmt;
use std::time::Duration;

/// The parts of the labs, graded separately: lab 1's wrapper, client and
/// server; lab 2's room and select-client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The `w_epoll` wrappers, through the grader's copy of their tests.
    Wrapper,
    /// The chat server, against raw TCP peers and reference clients.
    Server,
    /// The chat client, on a pseudo-terminal or a pipe, against the reference
    /// server and raw TCP peers.
    Client,
    /// Lab 2's room (`room` and its `room-helper`), against raw TCP peers
    /// and reference clients, and through `/proc` and `/dev/shm`.
    Room,
    /// Lab 2's `select-client`, as the client part, plus how it waits.
    SelectClient,
    /// `grader soak`: hostile peers and sustained load against a server.
    /// Not graded: its cases are worth no points and are not in
    /// [`Part::ALL`].
    Soak,
}

impl Part {
    /// Every graded part, in the order of the labs: lab 1's wrapper, client
    /// and server, then lab 2's room and select-client. A report holds the
    /// parts of one lab; what it shows per part is of the parts it holds.
    pub const ALL: [Part; 5] = [
        Part::Wrapper,
        Part::Client,
        Part::Server,
        Part::Room,
        Part::SelectClient,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::Wrapper => "wrapper",
            Part::Server => "server",
            Part::Client => "client",
            Part::Room => "room",
            Part::SelectClient => "select-client",
            Part::Soak => "soak",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong in a failed check: the harness's, shared with the
/// lab's own tests.
pub use harness::Failure;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// `part/name`, for example `server/join`.
    pub name: String,
    pub part: Part,
    /// What the check tests, in one line.
    pub description: String,
    /// What to look at when it fails.
    pub hint: String,
    /// The points it is worth.
    pub max_points: u32,
    /// `None` when it passed.
    pub failure: Option<Failure>,
    /// How long it ran.
    pub duration: Duration,
    /// What it measured, in the order measured: (name, value). Soak cases
    /// report their figures here; a check measures nothing.
    pub figures: Figures,
}

/// Figures a check measured: (name, value), in the order measured.
pub type Figures = Vec<(String, String)>;

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// All the points when it passed, none otherwise.
    pub fn points(&self) -> u32 {
        if self.passed() { self.max_points } else { 0 }
    }
}

/// Everything one grading run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What was graded: a directory, or the executables given.
    pub submission: String,
    /// The checks in the order of the check table.
    pub results: Vec<CheckResult>,
    /// How long the whole run took.
    pub duration: Duration,
}

impl Report {
    pub fn points(&self) -> u32 {
        self.results.iter().map(CheckResult::points).sum()
    }

    pub fn max_points(&self) -> u32 {
        self.results.iter().map(|r| r.max_points).sum()
    }

    pub fn all_passed(&self) -> bool {
        self.results.iter().all(CheckResult::passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| !r.passed())
    }
}
