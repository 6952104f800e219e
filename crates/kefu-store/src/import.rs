//! Importing customers: every valid row of a file in one transaction (nothing is
//! half-written), matched to existing customers by code, else by phone number;
//! re-importing the same file changes nothing.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use kefu_domain::Reason;
use kefu_domain::audit::Actor;
use kefu_domain::customer::{CustomerDraft, CustomerInput, FieldError, PhoneInput};
use kefu_domain::phone::PhoneNumber;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::customers::{
    Customer, insert_drafts, load_customers, numbered_list, overwrite_customer,
};
use crate::tiers::{TierChangeReason, current_rules, record_tier_change};
use crate::{Store, StoreError};

/// One data row of a file, already mapped to customer fields.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The row's number in the file, for the report.
    pub number: usize,
    /// Only the cells the file fills in; blank means "leave as it is".
    pub input: CustomerInput,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RowOutcome {
    Inserted,
    Updated { customer_id: i64 },
    Unchanged { customer_id: i64 },
    Rejected { errors: Vec<FieldError> },
}

/// The result of an import, row by row in file order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportResult {
    pub rows: Vec<(usize, RowOutcome)>,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// Chunk size for the `IN (…)` look-ups.
const LOOKUP_CHUNK: usize = 500;

/// The stored record in input form, so a file's cells can be laid over it.
pub fn customer_to_input(c: &Customer) -> CustomerInput {
    CustomerInput {
        code: Some(c.code.clone()),
        name: Some(c.name.clone()),
        kind: Some(c.kind.code().to_owned()),
        phones: c
            .phones
            .iter()
            .map(|p| PhoneInput {
                label: p.label.code().to_owned(),
                number: p.number().map_or_else(|| p.key.clone(), |n| n.display()),
            })
            .collect(),
        email: c.email.clone(),
        address: c.address.clone(),
        service_area: c.service_area.clone(),
        occupation: c.occupation.clone(),
        birth_date: c.birth_date.map(|d| d.to_string()),
        // A stored birth date decides the band; only a band without it is kept as is.
        age_band: if c.birth_date.is_none() {
            c.age_band.map(|a| a.code().to_owned())
        } else {
            None
        },
        gender: c.gender.map(|g| g.code().to_owned()),
        position: c.position.clone(),
        assets: c.assets.map(|a| a.to_string()),
        liquidity: c.liquidity.map(|l| l.code().to_owned()),
        preferences: c.preferences.clone(),
        family: c.family.clone(),
        needs: c.needs.clone(),
        notes: c.notes.clone(),
        tags: c.tags.clone(),
        preferred_contact_time: c.preferred_contact_time.clone(),
        behaviour_type: c.behaviour_type.map(|b| b.code().to_owned()),
    }
}

fn reject(field: &str, reason: Reason) -> RowOutcome {
    RowOutcome::Rejected {
        errors: vec![FieldError::new(field, reason)],
    }
}

async fn ids_by_code(
    conn: &mut AnyConnection,
    codes: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(LOOKUP_CHUNK) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, code FROM customers WHERE code IN ({})",
            numbered_list(1, chunk.len())
        )));
        for code in chunk {
            q = q.bind(*code);
        }
        for row in q.fetch_all(&mut *conn).await? {
            found.insert(row.try_get("code")?, row.try_get("id")?);
        }
    }
    Ok(found)
}

async fn ids_by_phone(
    conn: &mut AnyConnection,
    keys: &[String],
) -> Result<HashMap<String, Vec<i64>>, StoreError> {
    let mut found: HashMap<String, Vec<i64>> = HashMap::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT phone_key, customer_id FROM customer_phones WHERE phone_key IN ({})",
            numbered_list(1, chunk.len())
        )));
        for key in chunk {
            q = q.bind(key.as_str());
        }
        for row in q.fetch_all(&mut *conn).await? {
            found
                .entry(row.try_get("phone_key")?)
                .or_default()
                .push(row.try_get("customer_id")?);
        }
    }
    Ok(found)
}

impl Store {
    /// Imports `rows` in one transaction. A row with a code updates the customer with
    /// that code (or creates it); a row without code updates the one customer that
    /// has one of its phone numbers. Only the cells a row fills in are changed. Rows
    /// that are invalid, duplicate an earlier row, or match several customers are
    /// rejected and written nowhere; every other row is committed together.
    pub async fn import_customers(
        &self,
        actor: &Actor,
        rows: &[ImportRow],
        today: Date,
        area_code: Option<&str>,
        now: Timestamp,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<ImportResult, StoreError> {
        let mut tx = self.begin_write().await?;
        let rules = current_rules(&mut tx).await?;

        // Match rows to existing customers.
        let codes: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.input.code.as_deref().map(str::trim))
            .filter(|c| !c.is_empty())
            .collect();
        let by_code = ids_by_code(&mut tx, &codes).await?;
        let mut row_keys: HashMap<usize, Vec<String>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            if row
                .input
                .code
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            {
                let keys = row
                    .input
                    .phones
                    .iter()
                    .filter_map(|p| PhoneNumber::parse(&p.number, area_code).ok())
                    .map(|p| p.key().to_owned());
                row_keys.insert(i, keys.collect());
            }
        }
        let all_keys: Vec<String> = {
            let mut k: Vec<String> = row_keys.values().flatten().cloned().collect();
            k.sort();
            k.dedup();
            k
        };
        let by_phone = ids_by_phone(&mut tx, &all_keys).await?;

        let mut matched: Vec<Option<Result<i64, RowOutcome>>> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let m = match row
                .input
                .code
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                Some(code) => by_code.get(code).map(|id| Ok(*id)),
                None => {
                    let mut ids: Vec<i64> = row_keys[&i]
                        .iter()
                        .filter_map(|k| by_phone.get(k))
                        .flatten()
                        .copied()
                        .collect();
                    ids.sort_unstable();
                    ids.dedup();
                    match ids.as_slice() {
                        [] => Some(Err(reject("code", Reason::row_no_code_no_match()))),
                        [id] => Some(Ok(*id)),
                        many => Some(Err(reject(
                            "phones",
                            Reason::row_ambiguous_phone(many.len()),
                        ))),
                    }
                }
            };
            matched.push(m);
        }
        let existing_ids: Vec<i64> = {
            let mut ids: Vec<i64> = matched
                .iter()
                .filter_map(|m| m.as_ref().and_then(|r| r.as_ref().ok()))
                .copied()
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let mut existing: HashMap<i64, Customer> = HashMap::with_capacity(existing_ids.len());
        for chunk in existing_ids.chunks(LOOKUP_CHUNK) {
            for c in load_customers(&mut tx, chunk).await? {
                existing.insert(c.id, c);
            }
        }

        // Decide each row.
        let mut result = ImportResult::default();
        let mut seen_codes: HashMap<String, usize> = HashMap::new();
        let mut seen_ids: HashMap<i64, usize> = HashMap::new();
        let mut new_drafts: Vec<CustomerDraft> = Vec::new();
        for (row, m) in rows.iter().zip(matched) {
            let outcome = match m {
                Some(Err(rejected)) => rejected,
                Some(Ok(id)) => {
                    if let Some(first) = seen_ids.insert(id, row.number) {
                        match row
                            .input
                            .code
                            .as_deref()
                            .map(str::trim)
                            .filter(|c| !c.is_empty())
                        {
                            Some(code) => reject("code", Reason::row_repeats_code(code, first)),
                            None => reject("phones", Reason::row_repeats_customer(first)),
                        }
                    } else if let Some(current) = existing.get(&id) {
                        let mut merged = customer_to_input(current);
                        merged.overlay(&row.input);
                        match CustomerDraft::parse(&merged, today, area_code) {
                            Err(e) => RowOutcome::Rejected { errors: e.0 },
                            Ok(draft) => {
                                let unchanged = CustomerDraft::parse(
                                    &customer_to_input(current),
                                    today,
                                    area_code,
                                )
                                .is_ok_and(|before| before == draft);
                                if unchanged {
                                    RowOutcome::Unchanged { customer_id: id }
                                } else {
                                    let decision = rules.rules.evaluate(draft.assets);
                                    overwrite_customer(
                                        &mut tx,
                                        id,
                                        &draft,
                                        &decision.tier_code,
                                        now,
                                    )
                                    .await?;
                                    if decision.tier_code != current.tier {
                                        record_tier_change(
                                            &mut tx,
                                            id,
                                            Some(&current.tier),
                                            &decision,
                                            TierChangeReason::Import,
                                            rules.version,
                                            actor,
                                            now,
                                        )
                                        .await?;
                                    }
                                    RowOutcome::Updated { customer_id: id }
                                }
                            }
                        }
                    } else {
                        reject("code", Reason::gone())
                    }
                }
                None => match CustomerDraft::parse(&row.input, today, area_code) {
                    Err(e) => RowOutcome::Rejected { errors: e.0 },
                    Ok(draft) => {
                        if let Some(first) = seen_codes.insert(draft.code.clone(), row.number) {
                            reject("code", Reason::row_repeats_code(&draft.code, first))
                        } else {
                            new_drafts.push(draft);
                            RowOutcome::Inserted
                        }
                    }
                },
            };
            match &outcome {
                RowOutcome::Inserted => result.inserted += 1,
                RowOutcome::Updated { .. } => result.updated += 1,
                RowOutcome::Unchanged { .. } => result.unchanged += 1,
                RowOutcome::Rejected { .. } => result.rejected += 1,
            }
            result.rows.push((row.number, outcome));
            if result.rows.len() % 1_000 == 0 {
                progress(result.rows.len());
            }
        }
        let inserted = insert_drafts(
            &mut tx,
            self.backend(),
            &rules,
            actor,
            &new_drafts,
            TierChangeReason::Import,
            now,
        )
        .await?;
        if inserted != new_drafts.len() as u64 {
            // Another writer created one of these codes meanwhile: refuse the whole
            // import rather than report rows as inserted that were not.
            return Err(StoreError::Conflict(kefu_domain::Reason::import_raced()));
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "customer.import",
                object_type: "customer",
                object_id: String::new(),
                detail: json!({
                    "rows": rows.len(),
                    "inserted": result.inserted,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                    "rejected": result.rejected,
                }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        progress(rows.len());
        Ok(result)
    }
}
