//! `client [HOST [PORT]]`: the chat client. See `lab-docs/protocol.md`.

use std::process::ExitCode;

use chat::cli::ClientArgs;

fn main() -> ExitCode {
    let args = match ClientArgs::parse(chat::cli::args()) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("client: {usage}");
            return ExitCode::from(2);
        }
    };
    match chat::client::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("client: {err}");
            ExitCode::FAILURE
        }
    }
}
