//! `select-client [HOST [PORT]]`: lab 1's chat client, waiting with
//! `select()`. See `lab-docs/protocol.md` and [`chat::select_client`].

use std::process::ExitCode;

use chat::cli::ClientArgs;

fn main() -> ExitCode {
    let args = match ClientArgs::parse(chat::cli::args()) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("select-client: {usage}");
            return ExitCode::from(2);
        }
    };
    match chat::select_client::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("select-client: {err}");
            ExitCode::FAILURE
        }
    }
}
