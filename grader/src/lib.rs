//! The grader of the epoll chat lab.
//!
//! It runs a submission's server and client (any executables that follow the
//! protocol, in any language) against the reference peers built into it and
//! against raw TCP peers, and scores named checks with points.
//!
//! - [`catalog`]: the table of checks (name, part, points, description,
//!   hint, function); [`checks`]: their functions.
//! - [`session`]: what a check runs in: peers, servers, clients, deadlines,
//!   the steps and transcripts a failure shows; [`pty`]: clients on
//!   terminals; [`stream`]: waiting for expected bytes.
//! - [`sandbox`]: containment of every process a submission runs as;
//!   [`procfs`]: what `/proc` shows of them.
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

pub use harness::procfs;

/// Old paths, while the bench and the command line move to the new ones.
#[doc(hidden)]
pub mod stream {
    pub use harness::Inbox as Stream;
    pub use harness::show::{show, show_against, show_block, where_they_differ};
}

/// Old paths, while the bench and the command line move to the new ones.
#[doc(hidden)]
pub mod session {
    pub use crate::context::{CheckContext, Config, Outcome};
    pub use crate::launch::{expect_built, submission_env};
}
