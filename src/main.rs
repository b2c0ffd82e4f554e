//! The binary: `chat` (or `chat serve`) serves on 127.0.0.1:8000 with the
//! SQLite file under `./data/`; `chat user ...`, `chat room list` and
//! `chat db ...` manage the same database. All of the app is in the
//! library; every failure is one line on standard error and a non-zero exit.

use std::process::ExitCode;

use chat::cli::{Cli, Command};

#[rocket::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let outcome = match cli.command {
        None | Some(Command::Serve) => {
            chat::process::serve(chat::figment(), chat::Clock::system()).await.map_err(|e| e.to_string())
        }
        Some(command) => {
            chat::cli::run(command, chat::figment(), &mut std::io::stdout()).await.map_err(|e| e.to_string())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}
