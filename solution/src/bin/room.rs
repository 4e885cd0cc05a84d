//! `room [--idle SECS] [PORT]`: lab 2's chat server, a process per client.
//! See `lab-docs/protocol.md` and [`chat::room`].

use std::process::ExitCode;

use chat::cli::RoomArgs;

fn main() -> ExitCode {
    let args = match RoomArgs::parse(chat::cli::args()) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("room: {usage}");
            return ExitCode::from(2);
        }
    };
    match chat::room::parent::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("room: {err}");
            ExitCode::FAILURE
        }
    }
}
