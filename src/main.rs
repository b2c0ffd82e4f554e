//! The server binary: `cargo run` serves on 127.0.0.1:8000 with the SQLite
//! file under `./data/`. All of the app is in the library.

use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    let rocket = match chat::build(chat::figment()) {
        Ok(rocket) => rocket,
        Err(e) => {
            eprintln!("chat: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rocket.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}
