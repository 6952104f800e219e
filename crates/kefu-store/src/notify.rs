//! Notifications between server instances: PostgreSQL `NOTIFY` on a channel, and a
//! listener that hands each payload to the caller. (SQLite serves one instance; the
//! caller delivers its events in process.)

use std::time::Duration;

use crate::{Backend, DatabaseUrl, Store, StoreError};

/// The channel as used on the server: scoped to the store's schema (at most 63 bytes,
/// PostgreSQL's identifier limit).
fn scoped(channel: &str, schema: &str) -> String {
    let mut name = format!("{channel}.{schema}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

impl Store {
    /// Sends `payload` to every instance listening on `channel` (PostgreSQL only;
    /// a no-op on SQLite). Payloads are at most 8000 bytes.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT CAST(pg_notify($1, $2) AS TEXT)")
                .bind(scoped(channel, &self.schema))
                .bind(payload)
                .fetch_optional(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Payloads arriving on `channel`, from every instance (this one included), for
    /// as long as the receiver is kept. Reconnects after a lost connection (payloads
    /// sent meanwhile are missed: notifications are for live screens, not records).
    /// `None` on SQLite.
    pub fn listen(&self, channel: &str) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let DatabaseUrl::Postgres(url) = &self.url else {
            return None;
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (url, channel) = (url.clone(), scoped(channel, &self.schema));
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(&channel).await {
                            tracing::warn!(error = %e, "LISTEN failed");
                        } else {
                            loop {
                                match listener.recv().await {
                                    Ok(n) => {
                                        if tx.send(n.payload().to_owned()).is_err() {
                                            return;
                                        }
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "notification connection lost");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot connect for notifications"),
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Some(rx)
    }
}
