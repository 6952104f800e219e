//! Fresh databases for behaviour tests, on both backends.
//!
//! SQLite tests get a new file in a temporary directory. PostgreSQL tests get a new
//! schema in the database named by `KEFU_TEST_POSTGRES_URL`; when that variable is
//! unset they are skipped, unless `KEFU_TEST_REQUIRE_POSTGRES=1` (as in CI), which
//! turns a missing PostgreSQL into a failure so the suite cannot silently not run.

use std::path::PathBuf;

use rand::Rng;
use sqlx::Connection;

use crate::{Backend, DatabaseUrl, Store, StoreOptions};

/// A migrated, empty database that exists for one test.
pub struct TestDb {
    pub store: Store,
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    PostgresSchema { base_url: String, schema: String },
}

fn unique_suffix() -> String {
    let n: u64 = rand::rng().random();
    format!("{}_{n:016x}", std::process::id())
}

impl TestDb {
    /// A fresh database on `backend`, or `None` when PostgreSQL is not configured
    /// (and not required).
    pub async fn fresh(backend: Backend) -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("kefu-test-{}", unique_suffix()));
                (
                    DatabaseUrl::Sqlite(dir.join("kefu.db")),
                    Cleanup::SqliteDir(dir),
                )
            }
            Backend::Postgres => {
                let base_url = match std::env::var("KEFU_TEST_POSTGRES_URL") {
                    Ok(url) if !url.trim().is_empty() => url,
                    _ => {
                        assert!(
                            std::env::var("KEFU_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                            "KEFU_TEST_REQUIRE_POSTGRES=1 but KEFU_TEST_POSTGRES_URL is not set"
                        );
                        eprintln!("skipped: KEFU_TEST_POSTGRES_URL is not set");
                        return None;
                    }
                };
                let schema = format!("kefu_t_{}", unique_suffix());
                let mut conn = sqlx::AnyConnection::connect(&base_url)
                    .await
                    .expect("connect to KEFU_TEST_POSTGRES_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test schema");
                let _ = conn.close().await;
                let sep = if base_url.contains('?') { '&' } else { '?' };
                let url = format!("{base_url}{sep}options[search_path]={schema}");
                (
                    DatabaseUrl::Postgres(url),
                    Cleanup::PostgresSchema { base_url, schema },
                )
            }
        };
        let options = StoreOptions {
            max_connections: 5,
            ..StoreOptions::default()
        };
        let store = Store::connect(&url, &options)
            .await
            .expect("open test database");
        store.migrate().await.expect("migrate test database");
        Some(TestDb {
            store,
            url,
            cleanup,
        })
    }

    /// Runs `sql` on a connection of its own, as someone editing the database by
    /// hand would (tests of tamper detection use it).
    pub async fn execute_by_hand(&self, sql: &str) {
        let url = match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        };
        let mut conn = sqlx::AnyConnection::connect(&url)
            .await
            .expect("connect by hand");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect("statement by hand");
        let _ = conn.close().await;
    }

    /// Closes the database and removes it.
    pub async fn cleanup(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresSchema { base_url, schema } => {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&base_url).await {
                    let _ =
                        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                            .execute(&mut conn)
                            .await;
                    let _ = conn.close().await;
                }
            }
        }
    }
}

/// Runs each named `async fn(&TestDb)` on SQLite and on PostgreSQL, as the tests
/// `sqlite::<name>` and `postgres::<name>`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::testing::TestDb::fresh($crate::Backend::Sqlite).await {
                        super::$name(&db).await;
                        db.cleanup().await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::testing::TestDb::fresh($crate::Backend::Postgres).await {
                        super::$name(&db).await;
                        db.cleanup().await;
                    }
                }
            )*
        }
    };
}
