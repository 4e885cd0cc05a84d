//! `server [PORT]`: the chat server. See `lab-docs/protocol.md`.

use std::process::ExitCode;

use chat::cli::ServerArgs;

fn main() -> ExitCode {
    let args = match ServerArgs::parse(chat::cli::args()) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("server: {usage}");
            return ExitCode::from(2);
        }
    };
    match chat::server::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server: {err}");
            ExitCode::FAILURE
        }
    }
}
