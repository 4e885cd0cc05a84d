//! The grader of the epoll chat lab.
//!
//! It runs a submission's server and client (any executables that follow the
//! protocol, in any language) against the reference peers built into it and
//! against raw TCP peers, and scores named checks with points.
//!
//! - [`model`]: what a check's result is; every report is written from it.
//! - [`report`]: the human, Gradescope JSON, JUnit and TAP reports.

pub mod model;
pub mod report;
