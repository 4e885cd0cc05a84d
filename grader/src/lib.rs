//! The grader of the epoll chat lab.
//!
//! It runs a submission's server and client (any executables that follow the
//! protocol, in any language) against the reference peers built into it and
//! against raw TCP peers, and scores named checks with points.
//!
//! - [`catalog`]: the table of checks (name, part, points, description,
//!   hint, function); [`checks`]: their functions.
//! - [`context`]: what a check runs in: the run's configuration and the
//!   harness's context (deadlines, steps, transcripts, peers);
//!   [`launch`]: starting the submission's server and programs on pipes;
//!   [`pty`]: clients on terminals. The protocol's vocabulary (peers,
//!   inboxes, `/proc`, the server rules as scenario functions) is the
//!   `harness` crate's, shared with the lab's own tests.
//! - [`sandbox`]: containment of every process a submission runs as.
//! - [`submission`] and [`tool`]: building a student's crate;
//!   [`runner`]: running the checks; [`model`] and [`report`]: results and
//!   the human, Gradescope JSON, JUnit and TAP reports; [`batch`]: a whole
//!   folder of submissions into a gradebook; [`soak`]: hostile peers and
//!   sustained load against a server; [`bench`]: how fast a server serves
//!   many clients, and what it holds idle ones with (`grader bench`).

pub mod batch;
pub mod bench;
pub mod catalog;
pub mod checks;
pub mod context;
pub mod launch;
pub mod model;
pub mod pty;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod soak;
pub mod submission;
pub mod tool;
