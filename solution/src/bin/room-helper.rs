//! `room-helper FD PIPE_IN PIPE_OUT`: serves one client of the room; `room`
//! starts it. See [`chat::room::helper`].

use std::process::ExitCode;

use chat::cli::HelperArgs;

fn main() -> ExitCode {
    let args = match HelperArgs::parse(chat::cli::args()) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("room-helper: {usage}");
            return ExitCode::from(2);
        }
    };
    match chat::room::helper::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("room-helper: {err}");
            ExitCode::FAILURE
        }
    }
}
