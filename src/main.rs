//! The binary: `chat` (or `chat serve`) serves on 127.0.0.1:8000 with the
//! SQLite file under `./data/`; `chat user ...`, `chat room list` and
//! `chat db migrate` manage the same database. All of the app is in the
//! library.

use std::process::ExitCode;

use chat::cli::{Cli, Command};
use clap::Parser;

#[rocket::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Serve) => serve().await,
        Some(command) => match chat::cli::run(command, chat::figment(), &mut std::io::stdout()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chat: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn serve() -> ExitCode {
    let (figment, settings) = match chat::config::prepare(chat::figment()) {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!("chat: {e}");
            return ExitCode::FAILURE;
        }
    };
    chat::logging::init(&settings);
    match chat::assemble(figment, settings, chat::Clock::system()).launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}
