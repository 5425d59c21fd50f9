//! Persistence with `--db FILE`: users, contacts and message history in SQLite.
//!
//! The in-memory registry stays the source of truth while the server runs; the
//! database is loaded once at startup and then written behind, by a dedicated thread fed through
//! a bounded channel. So SQLite never runs on an async worker and a slow disk never holds the
//! registry lock; a session that writes faster than the disk is slowed down (the channel is
//! bounded), nobody else is.

use std::path::{Path, PathBuf};

use jim_text::Lang;
use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use crate::notes::Note;
use crate::state::Loaded;

/// Pending writes the channel holds before writers wait.
const QUEUE: usize = 1024;

/// Most writes grouped into one transaction.
const BATCH: usize = 256;

/// Why the database could not be opened or loaded.
#[derive(Debug, thiserror::Error)]
#[error("database {path}: {source}")]
pub struct DbError {
    /// The file.
    pub path: PathBuf,
    /// What SQLite said.
    #[source]
    pub source: rusqlite::Error,
}

/// One write to the database.
#[derive(Debug)]
pub(crate) enum DbOp {
    /// A user logged in (known from now on).
    User(String),
    /// `owner` added `contact`.
    AddContact(String, String),
    /// `owner` removed `contact`.
    DelContact(String, String),
    /// A delivered chat message.
    History {
        /// Server time, UNIX seconds.
        time: f64,
        /// Sender session name.
        from: String,
        /// User or `#room`.
        to: String,
        /// The text.
        text: String,
    },
    /// Answer when everything before this is written.
    Flush(oneshot::Sender<()>),
}

/// Handle to the database thread.
#[derive(Debug)]
pub(crate) struct Db {
    tx: mpsc::Sender<DbOp>,
    lang: Lang,
}

impl Db {
    /// Opens (creating if needed) the database, loads users and contacts, and starts the writer
    /// thread. Blocking: call it from `spawn_blocking`.
    pub fn open(path: &Path, lang: Lang) -> Result<(Self, Loaded), DbError> {
        let err = |source| DbError { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS users (
                 name TEXT PRIMARY KEY,
                 first_seen REAL NOT NULL
             );
             CREATE TABLE IF NOT EXISTS contacts (
                 owner TEXT NOT NULL,
                 contact TEXT NOT NULL,
                 PRIMARY KEY (owner, contact)
             );
             CREATE TABLE IF NOT EXISTS history (
                 id INTEGER PRIMARY KEY,
                 time REAL NOT NULL,
                 sender TEXT NOT NULL,
                 recipient TEXT NOT NULL,
                 text TEXT NOT NULL
             );",
        )
        .map_err(err)?;
        let loaded = load(&conn).map_err(err)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let display = path.display().to_string();
        std::thread::Builder::new()
            .name("jim-db".into())
            .spawn(move || writer(conn, rx, &display, lang))
            .map_err(|e| err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        Ok((Self { tx, lang }, loaded))
    }

    /// Queues a write; waits only when the writer is behind.
    pub async fn write(&self, op: DbOp) {
        if self.tx.send(op).await.is_err() {
            tracing::error!("{}", self.lang.say(&Note::DbGone));
        }
    }

    /// Waits until every write queued so far is on disk.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        self.write(DbOp::Flush(done)).await;
        let _ = wait.await;
    }
}

fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut users = conn.prepare("SELECT name FROM users")?;
    for name in users.query_map([], |row| row.get::<_, String>(0))? {
        loaded.users.insert(name?);
    }
    let mut contacts = conn.prepare("SELECT owner, contact FROM contacts")?;
    let rows =
        contacts.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    for row in rows {
        let (owner, contact) = row?;
        loaded.contacts.entry(owner).or_default().insert(contact);
    }
    Ok(loaded)
}

/// The writer thread: takes ops in batches, one transaction per batch.
fn writer(mut conn: Connection, mut rx: mpsc::Receiver<DbOp>, path: &str, lang: Lang) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut acks = Vec::new();
        if let Err(e) = write_batch(&mut conn, batch, &mut acks) {
            let note = Note::DbWriteFailed { path: path.to_owned(), error: e.to_string() };
            tracing::error!("{}", lang.say(&note));
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

fn write_batch(
    conn: &mut Connection,
    batch: Vec<DbOp>,
    acks: &mut Vec<oneshot::Sender<()>>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for op in batch {
        match op {
            DbOp::User(name) => {
                let now = jim_protocol::Timestamp::now().0;
                tx.execute(
                    "INSERT OR IGNORE INTO users (name, first_seen) VALUES (?1, ?2)",
                    params![name, now],
                )?;
            }
            DbOp::AddContact(owner, contact) => {
                tx.execute(
                    "INSERT OR IGNORE INTO contacts (owner, contact) VALUES (?1, ?2)",
                    params![owner, contact],
                )?;
            }
            DbOp::DelContact(owner, contact) => {
                tx.execute(
                    "DELETE FROM contacts WHERE owner = ?1 AND contact = ?2",
                    params![owner, contact],
                )?;
            }
            DbOp::History { time, from, to, text } => {
                tx.execute(
                    "INSERT INTO history (time, sender, recipient, text) VALUES (?1, ?2, ?3, ?4)",
                    params![time, from, to, text],
                )?;
            }
            DbOp::Flush(ack) => acks.push(ack),
        }
    }
    tx.commit()
}

/// Reads the message history (oldest first): for tests and inspection.
pub fn read_history(path: &Path) -> Result<Vec<(String, String, String)>, DbError> {
    let err = |source| DbError { path: path.to_owned(), source };
    let conn = Connection::open(path).map_err(err)?;
    let mut stmt =
        conn.prepare("SELECT sender, recipient, text FROM history ORDER BY id").map_err(err)?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok(rows)
}
