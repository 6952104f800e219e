//! Live events for console screens (a call ringing at an extension, a work order
//! changing), delivered to every server instance's Server-Sent-Event clients: in
//! process on SQLite, through PostgreSQL `NOTIFY`/`LISTEN` when instances share a
//! database.

use kefu_store::{Backend, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The notification channel shared by instances.
const CHANNEL: &str = "kefu_console";

/// Something a screen may want to show at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleEvent {
    /// A call is ringing at `extension`; its contact is `contact_id`.
    Ringing { extension: String, contact_id: i64 },
    /// A work order was opened or changed.
    WorkOrder {
        id: i64,
        department_id: Option<i64>,
        state: String,
    },
    /// An incident's figures moved (notices sent, calls made, a command).
    Incident { id: i64 },
    /// The floor moved: an agent's state, a call ringing, answered or ended.
    Floor,
}

/// Fans events out to the screens of this instance (and, on PostgreSQL, of all).
#[derive(Clone)]
pub struct EventHub {
    local: broadcast::Sender<ConsoleEvent>,
    store: Store,
}

impl EventHub {
    /// A hub; on PostgreSQL it also listens for the other instances' events.
    pub fn start(store: Store) -> EventHub {
        let (local, _) = broadcast::channel(1024);
        if let Some(mut incoming) = store.listen(CHANNEL) {
            let forward = local.clone();
            tokio::spawn(async move {
                while let Some(payload) = incoming.recv().await {
                    match serde_json::from_str::<ConsoleEvent>(&payload) {
                        Ok(event) => {
                            let _ = forward.send(event);
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable console event"),
                    }
                }
            });
        }
        EventHub { local, store }
    }

    /// Publishes an event; never fails the request that caused it (a screen missing
    /// one live update still shows the truth on its next load).
    pub async fn publish(&self, event: ConsoleEvent) {
        if self.store.backend() == Backend::Postgres {
            match serde_json::to_string(&event) {
                Ok(payload) => {
                    if let Err(e) = self.store.notify(CHANNEL, &payload).await {
                        tracing::warn!(error = %e, "console event not sent");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "console event not encoded"),
            }
        } else {
            let _ = self.local.send(event);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ConsoleEvent> {
        self.local.subscribe()
    }
}
