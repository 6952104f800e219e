//! What search knows of the product's records: each kind's search document is
//! built from the record as it stands in the database and written by the
//! transaction that changed the record (so the index can never lag or diverge).
//! `reindex_all` rebuilds everything, e.g. after the dictionary changed.
//!
//! Phone numbers and codes are indexed as hidden words — findable by any part of
//! their digits — but never stored in the document's text, so snippets cannot show
//! a number that the reader's role would see masked.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};

use crate::search::{DocMeta, index_document};
use crate::{Backend, StoreError};

/// The kinds of documents and what each is called in search.
pub const WORK_ORDER: &str = "work_order";
pub const CONTACT: &str = "contact";
pub const CUSTOMER: &str = "customer";

/// The longest text indexed for one document, in characters (a long order's
/// notes are cut, the start kept).
const BODY_CHARS: usize = 20_000;

fn capped(mut text: String) -> String {
    if let Some((byte, _)) = text.char_indices().nth(BODY_CHARS) {
        text.truncate(byte);
    }
    text
}

fn join<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Re-indexes a work order: its number and subject; description, notes and the
/// notes of its events; the customer's number hidden.
pub(crate) async fn work_order(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT number, subject, description, state, department_id, customer_id, phone_key, created_at \
         FROM work_orders WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return remove(conn, backend, WORK_ORDER, id).await;
    };
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM work_order_notes WHERE work_order_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT note FROM work_order_events WHERE work_order_id = $1 AND note <> '' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let number: String = row.try_get("number")?;
    let subject: String = row.try_get("subject")?;
    let description: Option<String> = row.try_get("description")?;
    let state: String = row.try_get("state")?;
    let phone: Option<String> = row.try_get("phone_key")?;
    let body = capped(join(
        std::iter::once(description.as_deref().unwrap_or_default())
            .chain(notes.iter().map(String::as_str))
            .chain(events.iter().map(String::as_str)),
    ));
    index_document(
        conn,
        backend,
        WORK_ORDER,
        id,
        &format!("{number} {subject}"),
        &body,
        phone.as_deref().unwrap_or_default(),
        DocMeta {
            state: Some(&state),
            department_id: row.try_get("department_id")?,
            customer_id: row.try_get("customer_id")?,
            at: Some(row.try_get("created_at")?),
        },
        now,
    )
    .await
}

/// Re-indexes a contact: its summary and 5W2H record; the caller's number hidden.
/// A call with nothing written yet is indexed by its number alone.
pub(crate) async fn contact(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT category, summary, five_w2h, phone_key, callee, customer_id, created_at FROM contacts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return remove(conn, backend, CONTACT, id).await;
    };
    let summary: Option<String> = row.try_get("summary")?;
    let record: String = row.try_get("five_w2h")?;
    let record: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
    let parts: Vec<String> = ["what", "why", "where", "when", "who", "how", "how_much"]
        .iter()
        .filter_map(|k| record[*k].as_str().map(str::to_owned))
        .collect();
    let category: Option<String> = row.try_get("category")?;
    let summary = summary.unwrap_or_default();
    let title: String = summary
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    let body = capped(join(
        std::iter::once(summary.as_str()).chain(parts.iter().map(String::as_str)),
    ));
    let hidden = [
        row.try_get::<Option<String>, _>("phone_key")?,
        row.try_get::<Option<String>, _>("callee")?,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    index_document(
        conn,
        backend,
        CONTACT,
        id,
        &title,
        &body,
        &hidden,
        DocMeta {
            state: category.as_deref(),
            department_id: None,
            customer_id: row.try_get("customer_id")?,
            at: Some(row.try_get("created_at")?),
        },
        now,
    )
    .await
}

/// Re-indexes a customer: name; address, needs, preferences and notes; the code
/// and phone numbers hidden.
pub(crate) async fn customer(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT code, name, address, service_area, needs, preferences, notes, created_at \
         FROM customers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return remove(conn, backend, CUSTOMER, id).await;
    };
    let phones: Vec<String> = sqlx::query_scalar(
        "SELECT phone_key FROM customer_phones WHERE customer_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let text = |c: &str| -> Result<String, sqlx::Error> {
        Ok(row.try_get::<Option<String>, _>(c)?.unwrap_or_default())
    };
    let body = capped(join([
        text("address")?.as_str(),
        text("service_area")?.as_str(),
        text("needs")?.as_str(),
        text("preferences")?.as_str(),
        text("notes")?.as_str(),
    ]));
    let code: String = row.try_get("code")?;
    index_document(
        conn,
        backend,
        CUSTOMER,
        id,
        &text("name")?,
        &body,
        &format!("{code} {}", phones.join(" ")),
        DocMeta {
            state: None,
            department_id: None,
            customer_id: Some(id),
            at: Some(row.try_get("created_at")?),
        },
        now,
    )
    .await
}

/// Removes a document (its record is gone).
pub(crate) async fn remove(
    conn: &mut AnyConnection,
    backend: Backend,
    kind: &str,
    id: i64,
) -> Result<(), StoreError> {
    if backend == Backend::Sqlite {
        sqlx::query(
            "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE doc_kind = $1 AND doc_id = $2)",
        )
        .bind(kind)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM search_docs WHERE doc_kind = $1 AND doc_id = $2")
        .bind(kind)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
