//! The command line: `chat` (or `chat serve`) runs the server; the other
//! subcommands manage accounts and rooms on the same configuration and
//! database, and are safe to run while a server is serving (each is a few
//! short transactions; `db backup` and `export` only read). Backups and
//! exports are made in the store (`store::backup`, `Store::export`), and
//! `db sweep` is housekeeping's own pass (`Housekeeping::run_once_telling`);
//! this module only prints their progress (on stderr, see `progress`) and
//! their outcome.
//!
//! Passwords are read from standard input (a prompt without echo on a
//! terminal, one line otherwise), never from the arguments, which other
//! users of the machine can see.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use rocket::figment::Figment;
use thiserror::Error;

use crate::access::{AccessError, InviteSpec, Invites, ResetLinks};
use crate::auth::{Accounts, NameKey, Password, PasswordHasher, Role, Sessions, UserName};
use crate::clock::Clock;
use crate::config::{self, ConfigError};
use crate::housekeeping::Housekeeping;
use crate::moderation::{Moderation, ModerationError, OPERATOR};
use crate::progress::Progress;
use crate::rooms;
use crate::store::{self, BackupError, ExportError, RoleChange, Store, StoreError};
use crate::stream::Hub;

#[derive(Debug, Parser)]
#[command(name = "chat", about = "A self-hosted web chat room server", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command line with the settings list under `chat serve --help`
    /// (built at run time from the defaults in code); exits on `--help`,
    /// `--version` and usage errors, as clap does.
    pub fn parse_args() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let settings = config::settings_help();
        let command = Self::command().mut_subcommand("serve", |serve| serve.after_help(settings));
        let matches = command.get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default); `chat serve --help` lists every setting.
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Look at rooms.
    #[command(subcommand)]
    Room(RoomCommand),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Manage bots: accounts that use the JSON API with a bearer token.
    #[command(subcommand)]
    Bot(crate::bots::BotCommand),
    /// Manage incoming webhooks (`POST /hooks/<token>`, posting as a bot).
    #[command(subcommand)]
    Hook(crate::bots::HookCommand),
    /// Invites: codes that let people register (also in invite mode).
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Write messages to standard output as JSON lines, one message per
    /// line as history shows it: ordered by room name (byte order), then by
    /// id within each room. Not a snapshot (see `db backup`). Progress goes
    /// to standard error.
    Export {
        /// Only this room; a room that does not exist is an error.
        #[arg(long)]
        room: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add { name: String },
    /// Set an account's role: admin, moderator or member.
    SetRole { name: String, role: String },
    /// Set a new password (read from standard input) and end every session.
    ResetPassword { name: String },
    /// List accounts with their roles (and `banned` after a banned name).
    List,
    /// Ban a name site-wide (an account or a guest name): its sessions end
    /// and it can no longer log in or post. No rank applies here.
    Ban { name: String },
    /// Lift a ban: how an admin banned by mistake gets back in, without SQL.
    Unban { name: String },
    /// Print a one-time link (/reset/<token>, valid for an hour) that sets
    /// the account's password: no password is handed around.
    ResetLink { name: String },
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Create an invite and print its code and link (/join/<code>).
    Create {
        /// How many people may register with it (1 to 1000).
        #[arg(long, default_value_t = 1)]
        uses: i64,
        /// Hours until it expires (1 to 8760).
        #[arg(long, default_value_t = 168)]
        expires_hours: i64,
        /// A members-only room its registrations join (repeatable).
        #[arg(long = "room")]
        rooms: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoomCommand {
    /// List rooms with their message counts and last activity.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations and exit.
    Migrate,
    /// Copy the live SQLite database to FILE, consistent while the server
    /// keeps serving (PostgreSQL: use pg_dump). Restore: stop the server,
    /// copy FILE to <data_dir>/chat.db (removing any chat.db-wal and
    /// chat.db-shm there), start it. Progress goes to standard error.
    Backup {
        /// Where the copy goes: written beside it first, renamed when whole.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Run the server's housekeeping pass once, now: delete messages past
    /// `message_retention_days` (none when it is 0) with their attached
    /// files, ended session rows, and abandoned upload temporaries, in the
    /// same small batches; safe while the server runs. Progress goes to
    /// standard error, what was removed to standard output.
    Sweep,
}

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    #[error("reading or writing failed: {0}")]
    Input(#[from] std::io::Error),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// Runs one management subcommand (not `serve`), printing to `out`.
pub async fn run(command: Command, figment: Figment, out: &mut impl Write) -> Result<(), CliError> {
    let (_, settings) = config::prepare(figment)?;
    // A backup reads the file as it is: no store (which would create a
    // missing file and migrate the one it copies).
    if let Command::Db(DbCommand::Backup { file, force }) = command {
        return backup_to(settings.database_url(), file, force, out).await;
    }
    let store = Store::open(&settings.database_url(), Arc::new(Hub::new(1))).await?;
    match command {
        Command::Serve => unreachable!("serve is handled by main"),
        Command::Db(DbCommand::Migrate) => writeln!(out, "migrations applied")?,
        Command::Db(DbCommand::Sweep) => sweep(store, &settings, out).await?,
        Command::Db(DbCommand::Backup { .. }) => unreachable!("backups are made without a store"),
        Command::Bot(command) => crate::bots::run_bot(command, crate::bots::Bots::new(store), out).await?,
        Command::Hook(command) => crate::bots::run_hook(command, crate::bots::Bots::new(store), out).await?,
        Command::Export { room } => {
            let progress = Progress::new("export", "messages", None);
            store.export(room.as_deref(), out, &progress).await?;
            progress.finish();
        }
        Command::Room(RoomCommand::List) => {
            for room in store.rooms(u32::MAX).await? {
                let last = rooms::format_at(rooms::from_millis(room.last_at_ms));
                writeln!(out, "{}\t{} messages\tlast {last}", room.name, room.messages)?;
            }
        }
        Command::User(UserCommand::List) => {
            let banned = store.bans().await?;
            for (name, role, created_ms) in store.list_users().await? {
                let since = rooms::format_at(rooms::from_millis(created_ms));
                let ban = if banned.contains(&NameKey::new(&name)) { "\tbanned" } else { "" };
                writeln!(out, "{name}\t{role}\tsince {since}{ban}")?;
            }
        }
        Command::User(UserCommand::SetRole { name, role }) => {
            let role: Role = role.parse().map_err(|e: crate::auth::UnknownRole| CliError::Refused(e.to_string()))?;
            match store.set_role(&name, role).await? {
                RoleChange::Changed => writeln!(out, "{name} is now {role}")?,
                RoleChange::NoSuchAccount => return Err(CliError::Refused(format!("no account named {name:?}"))),
                RoleChange::LastAdmin => {
                    return Err(CliError::Refused(format!("{name} is the last admin: make another admin first")));
                }
            }
        }
        Command::User(UserCommand::Ban { name }) => operator_ban(store, &settings, &name, true, out).await?,
        Command::User(UserCommand::Unban { name }) => operator_ban(store, &settings, &name, false, out).await?,
        Command::User(UserCommand::Add { name }) => {
            UserName::parse(&name).map_err(|e| CliError::Refused(e.to_string()))?;
            let password = read_password(&format!("password for {name}: "))?;
            let accounts = accounts(store, &settings).await?;
            match accounts.register(&name, &password).await {
                Ok(_) => writeln!(out, "created {name}")?,
                Err(e) => return Err(CliError::Refused(e.to_string())),
            }
        }
        Command::Invite(InviteCommand::Create { uses, expires_hours, rooms }) => {
            let spec = InviteSpec::parse(uses, expires_hours, &rooms).map_err(refused)?;
            let invite = Invites::new(store, Clock::system()).create(OPERATOR, &spec).await.map_err(refused)?;
            writeln!(out, "invite {} created: code {}", invite.id, invite.code)?;
            writeln!(out, "{}", invite.url)?;
        }
        Command::User(UserCommand::ResetLink { name }) => {
            let link = ResetLinks::new(store, Clock::system()).issue(OPERATOR, &name).await.map_err(refused)?;
            writeln!(out, "{link}")?;
            eprintln!("valid once, for an hour: prefix it with the site's address");
        }
        Command::User(UserCommand::ResetPassword { name }) => {
            let user =
                store.find_user(&name).await?.ok_or_else(|| CliError::Refused(format!("no account named {name:?}")))?;
            if store.is_bot(user.id).await? {
                return Err(CliError::Refused(format!("{} is a bot: bots have a token, not a password", user.name)));
            }
            let password = read_password(&format!("new password for {}: ", user.name))?;
            let password = Password::parse(&password).map_err(|e| CliError::Refused(e.to_string()))?;
            let hasher =
                PasswordHasher::new(settings.hash_concurrency).await.map_err(|e| CliError::Refused(e.to_string()))?;
            let hash = hasher.hash(password).await.map_err(|e| CliError::Refused(e.to_string()))?;
            store.set_password_hash(user.id, &hash).await?;
            Sessions::new(store, Clock::system(), settings.session_policy()).end_all(user.id).await?;
            writeln!(out, "password of {} reset; every session ended", user.name)?;
        }
    }
    Ok(())
}

/// An access refusal as the command line reports it.
fn refused(error: AccessError) -> CliError {
    match error {
        AccessError::Store(e) => CliError::Store(e),
        other => CliError::Refused(other.to_string()),
    }
}

/// Bans or unbans as the operator: no rank applies, the audit log says
/// "(command line)". A running server sees it within its ban cache's life.
async fn operator_ban(
    store: Store,
    settings: &config::Settings,
    name: &str,
    banned: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let sessions = Sessions::new(store.clone(), Clock::system(), settings.session_policy());
    let moderation = Moderation::new(store, Clock::system(), sessions);
    moderation.operator_ban(name, banned).await.map_err(|e| match e {
        ModerationError::Store(e) => CliError::Store(e),
        other => CliError::Refused(other.to_string()),
    })?;
    writeln!(out, "{name} is {}", if banned { "banned; every session ended" } else { "no longer banned" })?;
    Ok(())
}

async fn backup_to(url: String, file: PathBuf, force: bool, out: &mut impl Write) -> Result<(), CliError> {
    let progress = Progress::new("backup", "pages", None);
    let copying = progress.clone();
    let report = tokio::task::spawn_blocking(move || store::backup(&url, &file, force, &copying))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    progress.finish();
    writeln!(
        out,
        "wrote {} ({} bytes): {} messages in {} rooms, in {:.2} s",
        report.path.display(),
        report.bytes,
        report.messages,
        report.rooms,
        report.took.as_secs_f64()
    )?;
    Ok(())
}

/// `chat db sweep`: one housekeeping pass, its progress counting the
/// messages due for deletion, then a line of what went.
async fn sweep(store: Store, settings: &config::Settings, out: &mut impl Write) -> Result<(), CliError> {
    let housekeeping = Housekeeping::by_hand(store, settings)
        .map_err(|e| CliError::Refused(format!("cannot open {}: {e}", settings.files_dir().display())))?;
    let progress = Progress::new("sweep", "messages", Some(housekeeping.messages_due().await?));
    let swept = housekeeping
        .run_once_telling(&|kind, removed| {
            if kind == "messages" {
                progress.add(removed);
            }
        })
        .await?;
    progress.finish();
    let messages = match housekeeping.retention_days() {
        0 => "no messages (message_retention_days is 0: they are kept for ever)".to_owned(),
        days => format!("{} messages older than {days} days", swept.messages),
    };
    writeln!(
        out,
        "removed {messages}, {} ended sessions, {} abandoned upload files, {} rows of the activity rollup",
        swept.sessions, swept.upload_temps, swept.activity
    )?;
    Ok(())
}

async fn accounts(store: Store, settings: &config::Settings) -> Result<Accounts, CliError> {
    let hasher = PasswordHasher::new(settings.hash_concurrency).await.map_err(|e| CliError::Refused(e.to_string()))?;
    let sessions = Sessions::new(store.clone(), Clock::system(), settings.session_policy());
    Ok(Accounts::new(store, hasher, sessions))
}

/// A password from a prompt without echo on a terminal, or one line of
/// standard input (without its line ending) otherwise.
fn read_password(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}
