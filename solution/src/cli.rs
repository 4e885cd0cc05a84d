//! The command lines of the server and the client, as the protocol fixes
//! them:
//!
//! ```text
//! server [PORT]          PORT: default 5000; 0 asks the kernel for a free port
//! client [HOST [PORT]]   HOST: default 127.0.0.1; PORT: default 5000
//! ```
//!
//! and lab 2's (the room, whose `select-client` takes the client's):
//!
//! ```text
//! room [--idle SECS] [PORT]          SECS: a whole number of seconds, at least 1
//! room-helper FD PIPE_IN PIPE_OUT    descriptor numbers, given by `room`
//! ```
//!
//! Bad arguments are a [`UsageError`]; the binaries print it and exit with
//! status 2.

use std::fmt;

use crate::protocol::{DEFAULT_HOST, DEFAULT_PORT};

/// What the server was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// The port to listen on; 0 lets the kernel choose a free one.
    pub port: u16,
}

/// What the client was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    /// The server's host name or address.
    pub host: String,
    /// The server's port.
    pub port: u16,
}

/// What the room was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomArgs {
    /// The port to listen on; 0 lets the kernel choose a free one.
    pub port: u16,
    /// How long a user may send no line before it is disconnected, in
    /// seconds; `None` (the default) never disconnects anyone for that.
    pub idle_secs: Option<u32>,
}

/// The descriptors a room helper serves, by number: `room` opened them
/// before it ran the helper, and only their numbers survive `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperArgs {
    /// The client's connected socket.
    pub socket: i32,
    /// The read end of the pipe from the room.
    pub pipe_in: i32,
    /// The write end of the pipe to the room.
    pub pipe_out: i32,
}

/// A command line that does not fit the usage: says what is wrong, then the
/// usage line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    problem: String,
    usage: &'static str,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\nusage: {}", self.problem, self.usage)
    }
}

impl std::error::Error for UsageError {}

/// The program's arguments after its name. An argument that is not valid
/// UTF-8 is kept with replacement characters, so it is reported, not lost.
pub fn args() -> impl Iterator<Item = String> {
    std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
}

const SERVER_USAGE: &str = "server [PORT]";
const CLIENT_USAGE: &str = "client [HOST [PORT]]";
const ROOM_USAGE: &str = "room [--idle SECS] [PORT]";
const HELPER_USAGE: &str = "room-helper FD PIPE_IN PIPE_OUT (started by room, not by hand)";

impl ServerArgs {
    /// Parses the arguments that follow the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, UsageError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<S> = args.into_iter().collect();
        match args.as_slice() {
            [] => Ok(Self { port: DEFAULT_PORT }),
            [port] => Ok(Self {
                port: parse_port(port.as_ref(), SERVER_USAGE)?,
            }),
            [_, extra, ..] => Err(too_many(extra.as_ref(), SERVER_USAGE)),
        }
    }
}

impl ClientArgs {
    /// Parses the arguments that follow the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, UsageError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let (host, port) = match args.as_slice() {
            [] => (DEFAULT_HOST, DEFAULT_PORT),
            [host] => (host.as_ref(), DEFAULT_PORT),
            [host, port] => (host.as_ref(), parse_port(port.as_ref(), CLIENT_USAGE)?),
            [_, _, extra, ..] => return Err(too_many(extra.as_ref(), CLIENT_USAGE)),
        };
        if host.is_empty() {
            return Err(UsageError {
                problem: "the host name is empty".to_owned(),
                usage: CLIENT_USAGE,
            });
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl RoomArgs {
    /// Parses the arguments that follow the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, UsageError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let mut rest: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let mut idle_secs = None;
        if rest.first() == Some(&"--idle") {
            let Some(secs) = rest.get(1) else {
                return Err(UsageError {
                    problem: "--idle needs a number of seconds".to_owned(),
                    usage: ROOM_USAGE,
                });
            };
            idle_secs = Some(parse_secs(secs)?);
            rest.drain(..2);
        }
        match rest.as_slice() {
            [] => Ok(Self {
                port: DEFAULT_PORT,
                idle_secs,
            }),
            [port] => Ok(Self {
                port: parse_port(port, ROOM_USAGE)?,
                idle_secs,
            }),
            [_, extra, ..] => Err(too_many(extra, ROOM_USAGE)),
        }
    }
}

impl HelperArgs {
    /// Parses the arguments that follow the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, UsageError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<S> = args.into_iter().collect();
        match args.as_slice() {
            [socket, pipe_in, pipe_out] => Ok(Self {
                socket: parse_fd(socket.as_ref())?,
                pipe_in: parse_fd(pipe_in.as_ref())?,
                pipe_out: parse_fd(pipe_out.as_ref())?,
            }),
            _ => Err(UsageError {
                problem: format!(
                    "expected 3 descriptor numbers, got {} arguments",
                    args.len()
                ),
                usage: HELPER_USAGE,
            }),
        }
    }
}

fn parse_secs(text: &str) -> Result<u32, UsageError> {
    match text.parse() {
        Ok(secs) if secs > 0 => Ok(secs),
        _ => Err(UsageError {
            problem: format!("not a number of seconds (1 or more): {text:?}"),
            usage: ROOM_USAGE,
        }),
    }
}

fn parse_fd(text: &str) -> Result<i32, UsageError> {
    match text.parse() {
        Ok(fd) if fd >= 0 => Ok(fd),
        _ => Err(UsageError {
            problem: format!("not a descriptor number: {text:?}"),
            usage: HELPER_USAGE,
        }),
    }
}

fn parse_port(text: &str, usage: &'static str) -> Result<u16, UsageError> {
    text.parse().map_err(|_| UsageError {
        problem: format!("not a port number (0 to 65535): {text:?}"),
        usage,
    })
}

fn too_many(extra: &str, usage: &'static str) -> UsageError {
    UsageError {
        problem: format!("unexpected argument: {extra:?}"),
        usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_defaults_to_port_5000_and_takes_any_u16() {
        let none: [&str; 0] = [];
        assert_eq!(ServerArgs::parse(none), Ok(ServerArgs { port: 5000 }));
        assert_eq!(ServerArgs::parse(["0"]), Ok(ServerArgs { port: 0 }));
        assert_eq!(ServerArgs::parse(["65535"]), Ok(ServerArgs { port: 65535 }));
    }

    #[test]
    fn the_server_rejects_bad_ports_and_extra_arguments() {
        for bad in [&["65536"][..], &["-1"], &["http"], &[""], &["1", "2"]] {
            let err = ServerArgs::parse(bad).expect_err("a usage error");
            assert!(err.to_string().ends_with("usage: server [PORT]"), "{err}");
        }
    }

    #[test]
    fn the_client_defaults_to_localhost_5000() {
        let none: [&str; 0] = [];
        let args = ClientArgs::parse(none).expect("no arguments is fine");
        assert_eq!((args.host.as_str(), args.port), ("127.0.0.1", 5000));
        let args = ClientArgs::parse(["example.org"]).expect("a host alone is fine");
        assert_eq!((args.host.as_str(), args.port), ("example.org", 5000));
        let args = ClientArgs::parse(["::1", "6000"]).expect("host and port");
        assert_eq!((args.host.as_str(), args.port), ("::1", 6000));
    }

    #[test]
    fn the_client_rejects_bad_ports_and_extra_arguments() {
        for bad in [&["h", "x"][..], &["h", "70000"], &["h", "1", "2"], &[""]] {
            let err = ClientArgs::parse(bad).expect_err("a usage error");
            assert!(
                err.to_string().ends_with("usage: client [HOST [PORT]]"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_room_takes_an_optional_idle_time_then_the_port() {
        let none: [&str; 0] = [];
        let args = RoomArgs::parse(none).expect("no arguments is fine");
        assert_eq!((args.port, args.idle_secs), (5000, None));
        let args = RoomArgs::parse(["0"]).expect("a port alone");
        assert_eq!((args.port, args.idle_secs), (0, None));
        let args = RoomArgs::parse(["--idle", "30", "6000"]).expect("idle and port");
        assert_eq!((args.port, args.idle_secs), (6000, Some(30)));
        let args = RoomArgs::parse(["--idle", "1"]).expect("idle alone");
        assert_eq!((args.port, args.idle_secs), (5000, Some(1)));
    }

    #[test]
    fn the_room_rejects_bad_idle_times_ports_and_extra_arguments() {
        for bad in [
            &["--idle"][..],
            &["--idle", "0"],
            &["--idle", "-3"],
            &["--idle", "x", "0"],
            &["0", "--idle", "3"],
            &["70000"],
            &["1", "2"],
        ] {
            let err = RoomArgs::parse(bad).expect_err("a usage error");
            assert!(
                err.to_string()
                    .ends_with("usage: room [--idle SECS] [PORT]"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn the_helper_takes_exactly_three_descriptor_numbers() {
        let args = HelperArgs::parse(["5", "6", "9"]).expect("three numbers");
        assert_eq!((args.socket, args.pipe_in, args.pipe_out), (5, 6, 9));
        for bad in [
            &["5", "6"][..],
            &["5", "6", "x"],
            &["5", "-1", "7"],
            &["1", "2", "3", "4"],
        ] {
            assert!(HelperArgs::parse(bad).is_err(), "{bad:?}");
        }
    }
}
