//! The command lines of the server and the client, as the protocol fixes
//! them:
//!
//! ```text
//! server [PORT]          PORT: default 5000; 0 asks the kernel for a free port
//! client [HOST [PORT]]   HOST: default 127.0.0.1; PORT: default 5000
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
}
