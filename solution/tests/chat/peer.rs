//! The fake server that `terminal.rs` drives, as it was written: each call
//! panics when it fails, where the harness's [`harness::FakeServer`] and
//! [`harness::Peer`], which the other tests use, return a
//! [`harness::Failure`]. A thin layer over those, until `terminal.rs`
//! returns `Result` like the others.

use harness::{Context, Failure, Peer};

use crate::failure::{self, DEADLINE, TEST_LIMIT};

/// A listening socket standing in for the server, to test a client.
pub struct FakeServer {
    fake: harness::FakeServer,
    /// What the connection's waits and steps run in.
    context: Context,
}

impl FakeServer {
    #[track_caller]
    pub fn start() -> FakeServer {
        FakeServer {
            fake: or_fail(harness::FakeServer::start()),
            context: Context::new(DEADLINE, TEST_LIMIT),
        }
    }

    pub fn port(&self) -> u16 {
        self.fake.port()
    }

    /// Waits for the client to connect; gives up at once if a process of
    /// the test exits first: it will not connect any more.
    #[track_caller]
    pub fn accept(&self) -> Connection<'_> {
        let abort = failure::a_process_exited;
        Connection(or_fail(self.fake.accept(&self.context, "S", &abort)))
    }
}

/// The server's side of the client's connection.
pub struct Connection<'s>(Peer<'s>);

impl Connection<'_> {
    #[track_caller]
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        or_fail(self.0.send(bytes));
    }

    #[track_caller]
    pub fn expect_line(&self, line: impl AsRef<[u8]>) {
        or_fail(self.0.expect_line(line));
    }

    /// Itself: `terminal.rs` says `connection.inbox().expect_end()`.
    pub fn inbox(&self) -> &Self {
        self
    }

    /// Waits for the client to close the connection, with nothing else
    /// arriving first.
    #[track_caller]
    pub fn expect_end(&self) {
        or_fail(self.0.expect_closed());
    }
}

/// The value, or a panic that says what failed, how the processes of the
/// test are doing, and the TODO most likely at fault.
#[track_caller]
fn or_fail<T>(result: Result<T, Failure>) -> T {
    result.unwrap_or_else(|failure| failure::fail_after(failure.to_string(), true))
}
