//! [`CheckContext`]: what one check runs in: the run's [`Config`] (the
//! executables under test, deadlines, limits) and the harness's
//! [`Context`] (steps, transcripts, peers). Processes started through it
//! ([`crate::launch`]) are contained, and stopped when the check ends.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use harness::{Context, Failure, Inbox, Peer, PeerOptions, Peers};

use crate::model::Figures;
use crate::sandbox::Limits;

/// What a check returns: `Err` says what went wrong.
pub type Outcome = Result<(), Failure>;

/// What all checks of one grading run share.
#[derive(Debug, Clone)]
pub struct Config {
    /// The submission's server, if the server part is graded.
    pub server: Option<PathBuf>,
    /// The submission's client, if the client part is graded.
    pub client: Option<PathBuf>,
    /// Lab 2: the `room-helper` the submission's room runs, when it was
    /// built from a crate (its helpers are checked to run it).
    pub helper: Option<PathBuf>,
    /// The grader's own executable: `reference-server` and
    /// `reference-client` are subcommands of it.
    pub reference: PathBuf,
    /// The longest wait for any one expected thing.
    pub step: Duration,
    /// The longest a whole check may take.
    pub check_limit: Duration,
    /// Limits for the submission's processes.
    pub limits: Limits,
}

/// One check's context. Shared by the threads of one check (a sender
/// thread, say), hence the mutex.
#[derive(Debug)]
pub struct CheckContext {
    config: Arc<Config>,
    context: Context,
    /// Processes under test found running something else than the
    /// submission's executable when they were stopped.
    pub(crate) exe_mismatches: Arc<Mutex<Vec<String>>>,
    /// What the check measured, for the report (soak cases do).
    figures: Mutex<Figures>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl CheckContext {
    pub fn new(config: Arc<Config>) -> CheckContext {
        CheckContext {
            context: Context::new(config.step, config.check_limit),
            config,
            exe_mismatches: Arc::new(Mutex::new(Vec::new())),
            figures: Mutex::new(Figures::new()),
        }
    }

    /// Records a figure the check measured, for the report.
    pub fn figure(&self, name: impl Into<String>, value: impl Into<String>) {
        lock(&self.figures).push((name.into(), value.into()));
    }

    /// The figures recorded so far, taken out.
    pub fn take_figures(&self) -> Figures {
        std::mem::take(&mut *lock(&self.figures))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The harness's context, for the protocol's rules
    /// ([`harness::rules`]).
    pub fn harness(&self) -> &Context {
        &self.context
    }

    /// A failure if some process under test ran, by the time it was
    /// stopped, something else than the executable built from the
    /// submission. Call it once the check's processes are gone.
    pub fn exe_mismatch(&self) -> Option<Failure> {
        let found = lock(&self.exe_mismatches);
        (!found.is_empty()).then(|| Failure {
            summary: "a process under test is not the executable built from the submission"
                .to_owned(),
            seen: Some(found.join("\n")),
            ..Failure::default()
        })
    }

    /// Records a step, as the report will list it.
    pub fn step(&self, text: impl Into<String>) {
        self.context.step(text);
    }

    /// The deadline for the next wait: one step from now, but never past
    /// the check's own deadline.
    pub fn until(&self) -> Instant {
        self.context.until()
    }

    /// A failure with just a summary.
    pub fn fail(&self, summary: impl Into<String>) -> Failure {
        Failure::new(summary)
    }

    /// Completes a failure with the steps taken and the transcripts: see
    /// [`Context::finish`].
    pub fn finish(&self, failure: Failure) -> Failure {
        self.context.finish(failure)
    }

    /// Collects a stream and remembers it for the transcripts.
    pub fn watch(&self, name: impl Into<String>, reader: impl io::Read + Send + 'static) -> Inbox {
        self.context.watch(name, reader)
    }

    /// Connects a new raw TCP peer, named A, B, C ..., from 127.0.0.1.
    pub fn peer(&self, port: u16) -> Result<Peer<'_>, Failure> {
        self.context.peer(port)
    }

    /// Connects a new raw TCP peer with the given options.
    pub fn peer_with(&self, port: u16, options: PeerOptions) -> Result<Peer<'_>, Failure> {
        self.context.peer_with(port, options)
    }

    /// Connects a new raw TCP peer called `name`.
    pub fn peer_named(
        &self,
        port: u16,
        name: &str,
        options: PeerOptions,
    ) -> Result<Peer<'_>, Failure> {
        self.context.peer_named(port, name, options)
    }

    /// `count` peers known to be in the chat: see [`Context::peers`].
    pub fn peers(&self, port: u16, count: usize) -> Result<Peers<'_>, Failure> {
        self.context.peers(port, count)
    }
}
