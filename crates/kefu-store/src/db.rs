//! Opening the database, applying migrations and starting transactions.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Executor, SqlSafeStr, Transaction};

use crate::error::StoreError;

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A validated database location: an SQLite file or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `postgres://…` and `postgresql://…`.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, StoreError> {
        let raw = raw.trim();
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::BadUrl(
                    "an SQLite URL must name a file, e.g. sqlite://data/kefu.db".to_owned(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            // Let the driver validate the rest now, so a bad URL fails before any
            // connection attempt and with the driver's precise reason.
            raw.parse::<sqlx::postgres::PgConnectOptions>()
                .map_err(|e| StoreError::BadUrl(format!("{}: {e}", redact(raw))))?;
            return Ok(DatabaseUrl::Postgres(raw.to_owned()));
        }
        let scheme = raw.split("://").next().unwrap_or(raw);
        Err(StoreError::BadUrl(format!(
            "unsupported scheme in '{}' (expected sqlite://PATH or postgres://…)",
            redact(scheme)
        )))
    }

    /// The SQLite file in `data_dir`, the default location.
    pub fn default_in(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(data_dir.join("kefu.db"))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The URL with any password replaced, fit for logs and error messages.
fn redact(raw: &str) -> String {
    match (raw.find("://"), raw.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &raw[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &raw[..scheme_end + 3], &raw[at..]),
                None => raw.to_owned(),
            }
        }
        _ => raw.to_owned(),
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Connection-pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite page cache per connection. Bulk loads into large indexes are several
    /// times faster with a cache that holds the indexes' upper levels.
    pub sqlite_cache_mib: u32,
    /// SQLite `synchronous=FULL` (true, the default) or `NORMAL`: whether a commit
    /// must survive power loss, or only a crash of the process.
    pub sqlite_power_safe: bool,
    /// The center's time zone: report counters count per local day and hour.
    pub time_zone: jiff::tz::TimeZone,
    /// Wrap-up length and the reasons for 置忙.
    pub agent_states: kefu_domain::agent_state::StateRules,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            sqlite_cache_mib: 4,
            sqlite_power_safe: true,
            time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC),
            agent_states: kefu_domain::agent_state::StateRules::default(),
        }
    }
}

/// The database: a pool of connections to one SQLite file or PostgreSQL database.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time. Writers of this process queue here, in
    /// order, instead of polling the file lock with SQLite's sleeping busy handler
    /// (which left waiters asleep for tens of milliseconds after the lock was free).
    pub(crate) writer: WriterTurn,
    /// Commits standalone audit records in groups (see [`crate::audit`]).
    pub(crate) audit_queue: crate::audit::AuditQueue,
    /// Where the database is (PostgreSQL notifications need their own connection).
    pub(crate) url: DatabaseUrl,
    /// The center's time zone, for per-day report counters.
    pub(crate) tz: jiff::tz::TimeZone,
    pub(crate) agent_rules: std::sync::Arc<kefu_domain::agent_state::StateRules>,
    /// The PostgreSQL schema this store works in: notification channels are scoped
    /// to it, since NOTIFY reaches every session of the database.
    pub(crate) schema: String,
    /// Search words' document counts, kept a while (this database's only).
    pub(crate) matching_counts: std::sync::Arc<crate::search::MatchingCounts>,
}

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        vec![$(Migration::new(
            $version,
            Cow::Borrowed($name),
            MigrationType::Simple,
            include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")).into_sql_str(),
            false,
        )),*]
    };
}

fn migrator(backend: Backend) -> Migrator {
    // Append-only: a released migration is never edited; changes get a new file.
    Migrator::with_migrations(match backend {
        Backend::Sqlite => {
            migrations!("sqlite": 1 "0001_foundation", 2 "0002_customer_archive", 3 "0003_service", 4 "0004_open_counts", 5 "0005_report_counts", 6 "0006_escalation_order", 7 "0007_campaigns", 8 "0008_complaint_callbacks", 9 "0009_held_targets", 10 "0010_call_queue", 11 "0011_incidents", 12 "0012_send_errors", 13 "0013_inspections", 14 "0014_violations", 15 "0015_shifts", 16 "0016_inspection_rules", 17 "0017_knowledge", 18 "0018_search_dictionary", 19 "0019_search_filter_words", 20 "0020_console_administration", 21 "0021_customer_segment_order", 22 "0022_escalation_notes", 23 "0023_campaign_status", 24 "0024_listing_indexes", 25 "0025_call_recordings", 26 "0026_click_to_dial", 27 "0027_agent_states")
        }
        Backend::Postgres => {
            migrations!("postgres": 1 "0001_foundation", 2 "0002_customer_archive", 3 "0003_service", 4 "0004_open_counts", 5 "0005_report_counts", 6 "0006_escalation_order", 7 "0007_campaigns", 8 "0008_complaint_callbacks", 9 "0009_held_targets", 10 "0010_call_queue", 11 "0011_incidents", 12 "0012_send_errors", 13 "0013_inspections", 14 "0014_violations", 15 "0015_shifts", 16 "0016_inspection_rules", 17 "0017_knowledge", 18 "0018_search_dictionary", 19 "0019_search_filter_words", 20 "0020_console_administration", 21 "0021_customer_segment_order", 22 "0022_escalation_notes", 23 "0023_campaign_status", 24 "0024_listing_indexes", 25 "0025_call_recordings", 26 "0026_click_to_dial", 27 "0027_agent_states")
        }
    })
}

impl Store {
    /// Opens the database (creating an SQLite file and its directory if missing).
    /// Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &DatabaseUrl, options: &StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let any_options = match url {
            DatabaseUrl::Sqlite(path) => {
                prepare_sqlite_dir(path)?;
                let sqlite = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true);
                AnyConnectOptions::from_url(&sqlite.to_url_lossy()).map_err(StoreError::Connect)?
            }
            DatabaseUrl::Postgres(raw) => raw
                .parse::<AnyConnectOptions>()
                .map_err(|e| StoreError::BadUrl(e.to_string()))?,
        };
        let backend = url.backend();
        if backend == Backend::Postgres {
            // One direct attempt first: the pool would retry until its timeout and
            // then report only that it timed out, hiding e.g. "connection refused".
            let probe = tokio::time::timeout(
                options.acquire_timeout,
                <sqlx::AnyConnection as sqlx::Connection>::connect_with(&any_options),
            )
            .await
            .map_err(|_| StoreError::Connect(sqlx::Error::PoolTimedOut))?
            .map_err(StoreError::Connect)?;
            let _ = sqlx::Connection::close(probe).await;
        }
        let cache_mib = options.sqlite_cache_mib;
        let durable = options.sqlite_power_safe;
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        let cache =
                            format!("PRAGMA cache_size = -{};", u64::from(cache_mib) * 1024);
                        conn.execute(sqlx::AssertSqlSafe(cache)).await?;
                        // WAL: readers never block the writer. synchronous=FULL (the
                        // default): a commit acknowledged to a client survives power
                        // loss, not only a process crash; NORMAL survives a crash of
                        // Kefu but may lose the last commits on power loss.
                        let sync = if durable { "FULL" } else { "NORMAL" };
                        // Checkpoints run in the background (see `Checkpointer`), not
                        // inside whichever commit happens to fill the WAL.
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA wal_autocheckpoint = 0;"
                        )))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(any_options)
            .await
            .map_err(|e| match url {
                DatabaseUrl::Sqlite(path) => StoreError::DataDir {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                },
                DatabaseUrl::Postgres(_) => StoreError::Connect(e),
            })?;
        let writer = WriterTurn::new(backend, &pool);
        let audit_queue = crate::audit::AuditQueue::start(pool.clone(), backend, writer.clone());
        let store = Store {
            pool,
            backend,
            writer,
            audit_queue,
            url: url.clone(),
            tz: options.time_zone.clone(),
            agent_rules: std::sync::Arc::new(options.agent_states.clone()),
            schema: String::new(),
            matching_counts: std::sync::Arc::default(),
        };
        let mut store = store;
        if backend == Backend::Postgres {
            store.check_postgres().await?;
            store.schema = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
                .fetch_one(&store.pool)
                .await?;
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The PostgreSQL schema the store works in (empty on SQLite).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// SQLite only: writes a consistent copy of the database to `target` (a new
    /// file) while other connections and processes keep writing. `VACUUM INTO`
    /// reads one snapshot inside a read transaction (WAL readers never block the
    /// writer, nor it them) and writes a compact, self-contained file: no WAL to
    /// carry along. The copy is then opened and its integrity checked.
    /// PostgreSQL databases are copied with `pg_dump` (see the `kefu backup` command).
    pub async fn backup_sqlite(&self, target: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Backup(
                "a PostgreSQL database is copied with pg_dump".into(),
            ));
        }
        if target.exists() {
            return Err(StoreError::Backup(format!(
                "{} exists already; a backup never overwrites a file",
                target.display()
            )));
        }
        let target_text = target.to_str().ok_or_else(|| {
            StoreError::Backup(format!("{} is not a UTF-8 path", target.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target_text)
            .execute(&self.pool)
            .await?;
        let copy = Store::connect(
            &DatabaseUrl::Sqlite(target.to_path_buf()),
            &StoreOptions {
                max_connections: 1,
                ..StoreOptions::default()
            },
        )
        .await?;
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&copy.pool)
            .await?;
        copy.close().await;
        if verdict != "ok" {
            return Err(StoreError::Backup(format!(
                "the copy failed its integrity check: {verdict}"
            )));
        }
        Ok(())
    }

    /// Applies every migration not yet applied. Safe to run from several server
    /// instances at once (the migrator takes a database lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator(self.backend).run(&self.pool).await?;
        self.upgrade_search_index().await
    }

    /// Re-indexes every document once when the search index was written in an
    /// older format (before filter words); several instances starting together
    /// may each do it, which only repeats the work.
    async fn upgrade_search_index(&self) -> Result<(), StoreError> {
        const FORMAT: i64 = 2;
        let format: Option<i64> = sqlx::query_scalar("SELECT MAX(format) FROM search_index_format")
            .fetch_one(&self.pool)
            .await?;
        if format.unwrap_or(0) >= FORMAT {
            return Ok(());
        }
        let now = jiff::Timestamp::now();
        for (kind, _) in crate::indexing::KINDS {
            let done = self.reindex(kind, 1_000, now, |_| ()).await?;
            tracing::info!(kind, done, "search index upgraded: filter words added");
        }
        sqlx::query("UPDATE search_index_format SET format = $1")
            .bind(FORMAT)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The number of migrations the code knows and how many the database has.
    pub async fn migration_status(&self) -> Result<(usize, usize), StoreError> {
        let known = migrator(self.backend).iter().count();
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(0);
        Ok((known, usize::try_from(applied).unwrap_or(0)))
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so a transaction that reads before it writes can
    /// never fail half-way because another writer committed in between.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        begin_write(&self.pool, self.backend, &self.writer).await
    }

    /// The database's size on disk in bytes (SQLite: the file and its WAL).
    pub async fn size_bytes(&self) -> Result<i64, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => {
                sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(&self.pool)
                .await?
            }
            Backend::Postgres => {
                sqlx::query_scalar("SELECT CAST(pg_database_size(current_database()) AS BIGINT)")
                    .fetch_one(&self.pool)
                    .await?
            }
        })
    }

    /// Refreshes the planner's statistics; run after bulk loads, or the planner
    /// keeps estimating from an empty table (PostgreSQL picks scans that are slower
    /// by orders of magnitude until autovacuum catches up).
    /// With `vacuum` (after loading a whole data set), PostgreSQL also marks pages
    /// all-visible, which lets counts use index-only scans.
    /// On SQLite a whole data set's load also merges the word index's segments into
    /// one (FTS5 `optimize`), so a word is looked up once instead of per segment,
    /// and checkpoints the WAL.
    pub async fn analyze(&self, vacuum: bool) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite && vacuum {
            let mut tx = self.begin_write().await?;
            sqlx::query("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            // The load's WAL copied into the database now, not by the checkpointer
            // beside the first requests.
            sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        let sql = match (self.backend, vacuum) {
            (Backend::Sqlite, _) => "PRAGMA optimize = 0x10002",
            (Backend::Postgres, false) => "ANALYZE",
            (Backend::Postgres, true) => "VACUUM ANALYZE",
        };
        sqlx::raw_sql(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn check_postgres(&self) -> Result<(), StoreError> {
        let encoding: String = sqlx::query_scalar("SELECT CAST(pg_encoding_to_char(encoding) AS TEXT) FROM pg_database WHERE datname = current_database()")
            .fetch_one(&self.pool)
            .await?;
        if encoding != "UTF8" {
            return Err(StoreError::Unsupported(format!(
                "the database encoding is {encoding}; Kefu needs UTF8 for Chinese text"
            )));
        }
        Ok(())
    }
}

/// The in-process queue of SQLite writers (no queue on PostgreSQL, whose row locks
/// let writers proceed in parallel), and the SQLite checkpointer they wake.
#[derive(Clone)]
pub(crate) struct WriterTurn(Option<SqliteWriter>);

#[derive(Clone)]
struct SqliteWriter {
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    checkpoint: tokio::sync::mpsc::Sender<()>,
}

/// How long the checkpointer lets commits gather before copying the WAL into the
/// database file, and how often it looks anyway (writes outside [`WriteTx`]).
const CHECKPOINT_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl WriterTurn {
    fn new(backend: Backend, pool: &AnyPool) -> WriterTurn {
        WriterTurn((backend == Backend::Sqlite).then(|| SqliteWriter {
            turn: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            checkpoint: spawn_checkpointer(pool.clone()),
        }))
    }

    pub(crate) async fn lock(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.0 {
            Some(w) => Some(w.turn.clone().lock_owned().await),
            None => None,
        }
    }

    /// Tells the checkpointer the WAL grew (never waits).
    pub(crate) fn committed(&self) {
        if let Some(w) = &self.0 {
            let _ = w.checkpoint.try_send(());
        }
    }
}

/// SQLite's automatic checkpoint runs inside the commit that crosses the WAL's size
/// threshold, so one unlucky request pays for copying everyone's pages (and an
/// fsync of the database file). Kefu turns it off and checkpoints here instead, a
/// moment after commits, with `PASSIVE` (never blocking readers or the writer). The
/// task ends when the last handle of the store is dropped.
fn spawn_checkpointer(pool: AnyPool) -> tokio::sync::mpsc::Sender<()> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                woke = receiver.recv() => {
                    if woke.is_none() {
                        break;
                    }
                    tokio::time::sleep(CHECKPOINT_DELAY).await;
                    while receiver.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            }
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying later");
            }
        }
    });
    sender
}

/// A write transaction; on SQLite it also holds this process's writer turn until it
/// commits or is dropped (rolled back). Derefs to the connection for queries.
pub(crate) struct WriteTx {
    tx: Transaction<'static, sqlx::Any>,
    writer: WriterTurn,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.writer.committed();
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// Starts a write transaction: waits for the writer turn (SQLite), then takes a
/// connection and the database's write lock at once (`BEGIN IMMEDIATE`), so a
/// transaction that reads before it writes never fails half-way because another
/// writer committed in between.
pub(crate) async fn begin_write(
    pool: &AnyPool,
    backend: Backend,
    writer: &WriterTurn,
) -> Result<WriteTx, StoreError> {
    let turn = writer.lock().await;
    let tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    Ok(WriteTx {
        tx,
        writer: writer.clone(),
        _turn: turn,
    })
}

/// Creates the SQLite file's directory and proves it is writable, so the error names
/// the directory instead of SQLite's "unable to open database file".
fn prepare_sqlite_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fail = |reason: String| StoreError::DataDir {
        path: dir.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(format!(".kefu-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail(format!("not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/kefu.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/kefu.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:/tmp/k.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/k.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/test")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
    }

    #[test]
    fn refuses_bad_urls_with_reasons() {
        for bad in [
            "mysql://x/y",
            "",
            "sqlite://",
            "sqlite::memory:",
            "http://host",
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert!(matches!(err, StoreError::BadUrl(_)), "{bad}: {err}");
        }
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h:notaport/db"),
            Err(StoreError::BadUrl(_))
        ));
    }

    #[test]
    fn passwords_never_shown() {
        let url = DatabaseUrl::parse("postgres://kefu:s3cret@db:5432/kefu").unwrap();
        assert_eq!(url.to_string(), "postgres://kefu:***@db:5432/kefu");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
