//! `chat db backup`: a consistent copy of a live SQLite database, made with
//! SQLite's online backup API while the server keeps committing posts.
//!
//! One read transaction, opened on the source before the first step and
//! held until the last, covers the copy: it is the database as of the
//! moment that transaction began (every message acknowledged before then
//! is in it), and in WAL mode the server's writer is never blocked by it.
//! The copy goes [`PAGES_PER_STEP`] pages a step, so its progress can be
//! shown; because the transaction is the connection's own, not one each
//! step opens and closes, no step lets go of the snapshot, and a commit by
//! the server between two steps neither shows in the copy nor restarts it
//! (SQLite restarts a backup whose source changes between steps, which on
//! a busy server may be never finishing).
//!
//! The copy is written to a temporary file beside the target and renamed
//! into place only once it is complete and synced, so the given name never
//! holds half a database; an existing file is replaced only when asked.
//! PostgreSQL is not copied here: `pg_dump` does that job (see
//! [`PG_DUMP`]). This module reads the source file only; it never goes
//! through the store's pool or writer.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use thiserror::Error;

use super::engine::{self, Engine};
use crate::progress::Progress;

/// What PostgreSQL users run instead, named in the refusal.
pub const PG_DUMP: &str = "pg_dump --format=custom --file=chat.dump \"$DATABASE_URL\"";

/// How often a busy or locked step is tried again before giving up (SQLite
/// in WAL mode answers busy only while a checkpoint resets the log).
const STEP_ATTEMPTS: u32 = 50;
const STEP_PAUSE: Duration = Duration::from_millis(100);

/// Pages copied per step (4 MiB at SQLite's default page size): progress
/// is told after each.
const PAGES_PER_STEP: i32 = 1024;

#[derive(Debug, Error)]
pub enum BackupError {
    #[error("chat db backup copies SQLite databases; for PostgreSQL run: {PG_DUMP}")]
    Postgres,
    #[error(transparent)]
    Url(#[from] super::StoreError),
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} already exists (pass --force to replace it)")]
    TargetExists(PathBuf),
    #[error("{0} is the live database itself")]
    SameFile(PathBuf),
    #[error("the database stayed busy; try again")]
    Busy,
    #[error("backup failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("backup failed writing {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// What a finished backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub messages: i64,
    pub rooms: i64,
    pub took: Duration,
}

/// Copies the SQLite database at `database_url` to `target`, refusing to
/// replace an existing file unless `force`, telling `progress` the pages
/// copied of the total. Blocking: run it on a thread of its own (the
/// command line has nothing else to do meanwhile).
pub fn backup(
    database_url: &str,
    target: &Path,
    force: bool,
    progress: &Progress,
) -> Result<BackupReport, BackupError> {
    if Engine::of(database_url)? == Engine::Postgres {
        return Err(BackupError::Postgres);
    }
    let source = Path::new(engine::sqlite_path(database_url));
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.to_owned()));
    }
    if target.exists() {
        if same_file(source, target) {
            return Err(BackupError::SameFile(target.to_owned()));
        }
        if !force {
            return Err(BackupError::TargetExists(target.to_owned()));
        }
    }
    if !directory_of(target).is_dir() {
        let source = io::Error::new(io::ErrorKind::NotFound, "no such directory");
        return Err(BackupError::Io { path: target.to_owned(), source });
    }
    let started = Instant::now();
    let partial = partial_name(target);
    let copied = copy(source, &partial, progress).and_then(|counts| {
        let io = |source| BackupError::Io { path: target.to_owned(), source };
        fs::File::open(&partial).and_then(|file| file.sync_all()).map_err(io)?;
        fs::rename(&partial, target).map_err(io)?;
        sync_dir(target).map_err(io)?;
        Ok(counts)
    });
    let (messages, rooms) = match copied {
        Ok(counts) => counts,
        Err(error) => {
            // Nothing half-written stays behind, under any name (nor the
            // journal files SQLite keeps beside it).
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let mut name = partial.clone().into_os_string();
                name.push(suffix);
                let _ = fs::remove_file(name);
            }
            return Err(error);
        }
    };
    let bytes = fs::metadata(target).map_err(|source| BackupError::Io { path: target.to_owned(), source })?.len();
    Ok(BackupReport { path: target.to_owned(), bytes, messages, rooms, took: started.elapsed() })
}

/// The copy itself, into `partial`; answers the messages and rooms it holds.
fn copy(source: &Path, partial: &Path, progress: &Progress) -> Result<(i64, i64), BackupError> {
    // Read-write without create: a missing file is an error, not a new
    // empty database; read-only would fail on a WAL file whose -shm is gone.
    let from =
        Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    from.busy_timeout(Duration::from_secs(10))?;
    // The snapshot every step reads (see the module's docs): a read
    // transaction starts at its first read, not at BEGIN.
    from.execute_batch("BEGIN")?;
    from.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let _ = fs::remove_file(partial);
    let mut to = Connection::open(partial)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        let mut attempts = 0;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let pages = backup.progress();
            progress.set_total(pages.pagecount.max(0) as u64);
            progress.set((pages.pagecount - pages.remaining).max(0) as u64);
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    attempts += 1;
                    if attempts >= STEP_ATTEMPTS {
                        return Err(BackupError::Busy);
                    }
                    std::thread::sleep(STEP_PAUSE);
                }
                _ => return Err(BackupError::Busy),
            }
        }
    }
    from.execute_batch("COMMIT")?;
    // Counted in the copy: what was written, not what the source holds now.
    let messages = to.query_row("SELECT count(*) FROM messages", [], |row| row.get(0))?;
    let rooms = to.query_row("SELECT count(*) FROM rooms", [], |row| row.get(0))?;
    // The copy is in WAL mode like its source; fold any log back into the
    // file so that the one file is the whole backup.
    to.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    to.close().map_err(|(_, error)| error)?;
    Ok((messages, rooms))
}

/// `<dir>/.<name>.partial-<pid>`: beside the target (so the rename stays
/// on one file system), hidden, never the target's own name, and not
/// another backup's that is writing to the same target at the same time.
fn partial_name(target: &Path) -> PathBuf {
    let name = target.file_name().map_or_else(|| "backup".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

fn directory_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Syncs the directory holding `path`, so the rename itself is durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    fs::File::open(directory_of(path))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Progress {
        Progress::lines("backup", "pages", None)
    }

    fn database(dir: &Path) -> String {
        let path = dir.join("chat.db");
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE rooms (name TEXT PRIMARY KEY, last_id INTEGER);
                 CREATE TABLE messages (room TEXT, id INTEGER, text TEXT);
                 INSERT INTO rooms VALUES ('lobby', 2);
                 INSERT INTO messages VALUES ('lobby', 1, 'a'), ('lobby', 2, 'b');",
            )
            .unwrap();
        format!("sqlite://{}", path.display())
    }

    #[test]
    fn a_backup_holds_every_committed_row_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = database(dir.path());
        let target = dir.path().join("copy.db");
        let report = backup(&url, &target, false, &quiet()).unwrap();
        assert_eq!((report.messages, report.rooms), (2, 1));
        assert_eq!(report.bytes, fs::metadata(&target).unwrap().len());
        let copy = Connection::open(&target).unwrap();
        let texts: String = copy.query_row("SELECT group_concat(text, '') FROM messages", [], |r| r.get(0)).unwrap();
        assert_eq!(texts, "ab");
        assert!(!partial_name(&target).exists());
    }

    #[test]
    fn an_existing_target_is_replaced_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let url = database(dir.path());
        let target = dir.path().join("copy.db");
        fs::write(&target, "keep me").unwrap();
        assert!(matches!(backup(&url, &target, false, &quiet()), Err(BackupError::TargetExists(_))));
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
        backup(&url, &target, true, &quiet()).unwrap();
        assert_ne!(fs::read(&target).unwrap(), b"keep me");
    }

    #[test]
    fn the_live_database_is_never_a_target_even_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let url = database(dir.path());
        let live = dir.path().join("chat.db");
        assert!(matches!(backup(&url, &live, true, &quiet()), Err(BackupError::SameFile(_))));
    }

    #[test]
    fn a_postgres_url_is_refused_with_the_pg_dump_line() {
        let error = backup("postgres://localhost/chat", Path::new("x.db"), false, &quiet()).unwrap_err();
        assert!(error.to_string().contains("pg_dump --format=custom"), "{error}");
    }

    #[test]
    fn a_target_in_a_missing_directory_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let url = database(dir.path());
        let error = backup(&url, &dir.path().join("nowhere/copy.db"), false, &quiet()).unwrap_err();
        assert!(error.to_string().contains("nowhere/copy.db: no such directory"), "{error}");
    }

    #[test]
    fn a_missing_database_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("none.db").display());
        assert!(matches!(backup(&url, &dir.path().join("copy.db"), false, &quiet()), Err(BackupError::NoDatabase(_))));
        assert!(!dir.path().join("none.db").exists());
    }
}
