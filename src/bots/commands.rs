//! `chat bot ...` and `chat hook ...`: making, listing and revoking bots
//! and incoming webhooks from the command line, on the server's database
//! (safe while it serves: each is a short transaction, and a revocation
//! works at the server's next request). A token is printed once, on its
//! own last line, and never again: only its digest is kept.

use std::io::Write;

use clap::Subcommand;

use super::{BotError, Bots};
use crate::cli::CliError;
use crate::rooms;

#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Make a bot account for some rooms and print its bearer token once.
    Add {
        name: String,
        /// The rooms it may read and post in, comma separated (1 to 50).
        #[arg(long)]
        rooms: String,
    },
    /// List bots with their rooms (and `revoked` after a revoked one).
    List,
    /// Revoke a bot: its token (401) and its webhooks (404) stop working
    /// at once, its open streams end; its name and messages stay.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Make an incoming webhook that posts to ROOM (one of the bot's rooms)
    /// as BOT, and print its URL path once.
    Add {
        #[arg(long)]
        bot: String,
        #[arg(long)]
        room: String,
    },
    /// List webhooks by number, with their bot and room.
    List,
    /// Revoke a webhook by its number: its URL answers 404 from then on.
    Revoke { id: i64 },
}

fn refused(error: BotError) -> CliError {
    match error {
        BotError::Store(e) => CliError::Store(e),
        other => CliError::Refused(other.to_string()),
    }
}

fn since(ms: i64) -> String {
    rooms::format_at(rooms::from_millis(ms))
}

pub async fn run_bot(command: BotCommand, bots: Bots, out: &mut impl Write) -> Result<(), CliError> {
    match command {
        BotCommand::Add { name, rooms } => {
            let (bot, token) = bots.add(&name, &rooms).await.map_err(refused)?;
            let rooms: Vec<String> = bot.rooms().iter().map(|room| format!("#{room}")).collect();
            writeln!(out, "created bot {} for {}", bot.name, rooms.join(", "))?;
            writeln!(out, "its token, shown this once (send it as Authorization: Bearer <token>):")?;
            writeln!(out, "{}", token.expose())?;
        }
        BotCommand::List => {
            for bot in bots.list().await? {
                let revoked = bot.revoked_ms.map(|ms| format!("\trevoked {}", since(ms))).unwrap_or_default();
                writeln!(out, "{}\t{}\tsince {}{revoked}", bot.name, bot.rooms.join(","), since(bot.created_ms))?;
            }
        }
        BotCommand::Revoke { name } => {
            bots.revoke(&name).await.map_err(refused)?;
            writeln!(out, "{name} is revoked: its token and its webhooks no longer work")?;
        }
    }
    Ok(())
}

pub async fn run_hook(command: HookCommand, bots: Bots, out: &mut impl Write) -> Result<(), CliError> {
    match command {
        HookCommand::Add { bot, room } => {
            let (id, token) = bots.add_hook(&bot, &room).await.map_err(refused)?;
            writeln!(out, "created webhook {id}: it posts to #{room} as {bot}")?;
            writeln!(out, "its URL path, shown this once (POST it JSON {{\"text\": \"...\"}}):")?;
            writeln!(out, "/hooks/{}", token.expose())?;
        }
        HookCommand::List => {
            for hook in bots.list_hooks().await? {
                let revoked = hook.revoked_ms.map(|ms| format!("\trevoked {}", since(ms))).unwrap_or_default();
                writeln!(out, "{}\t{}\t#{}\tsince {}{revoked}", hook.id, hook.bot, hook.room, since(hook.created_ms))?;
            }
        }
        HookCommand::Revoke { id } => {
            bots.revoke_hook(id).await.map_err(refused)?;
            writeln!(out, "webhook {id} is revoked")?;
        }
    }
    Ok(())
}
