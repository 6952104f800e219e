//! The customer archive (S1): profiles, normalised phone numbers, tags, tiers and
//! their history. Every read of a customer record writes an audit entry in the same
//! transaction as the read.

use jiff::Timestamp;
use jiff::civil::Date;
use kefu_domain::audit::Actor;
use kefu_domain::customer::{
    AgeBand, BehaviourType, CustomerDraft, CustomerKind, Gender, Liquidity, PhoneLabel,
};
use kefu_domain::money::Yuan;
use kefu_domain::phone::{PhoneNumber, mask_key};
use kefu_domain::tiering::TierDecision;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::tiers::{TierChangeReason, current_rules, record_tier_change};
use crate::{Backend, Page, PageRequest, Store, StoreError, from_ms, ms};

/// A stored phone number: label, lookup key and extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPhone {
    pub label: PhoneLabel,
    /// Normalised digits, e.g. `13812345678` or `053188886666`.
    pub key: String,
    pub extension: Option<String>,
}

impl StoredPhone {
    pub fn number(&self) -> Option<PhoneNumber> {
        PhoneNumber::from_key(&self.key, self.extension.as_deref())
    }

    /// The number as shown: in full with its extension, or masked.
    pub fn shown(&self, full: bool) -> String {
        match self.number() {
            Some(n) if full => n.display(),
            Some(n) => n.masked(),
            None => "****".into(),
        }
    }
}

/// A customer record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: CustomerKind,
    pub phones: Vec<StoredPhone>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub service_area: Option<String>,
    pub occupation: Option<String>,
    pub birth_date: Option<Date>,
    pub age_band: Option<AgeBand>,
    pub gender: Option<Gender>,
    pub position: Option<String>,
    pub assets: Option<Yuan>,
    pub liquidity: Option<Liquidity>,
    pub preferences: Option<String>,
    pub family: Option<String>,
    pub needs: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub preferred_contact_time: Option<String>,
    pub behaviour_type: Option<BehaviourType>,
    pub tier: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// A segment as people and programs write it: each filter as text (a code or one of
/// its Chinese or English labels), tags separated by commas; blank means no filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegmentText<'a> {
    pub tier: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub occupation: Option<&'a str>,
    pub age_band: Option<&'a str>,
    pub gender: Option<&'a str>,
    pub position: Option<&'a str>,
    pub liquidity: Option<&'a str>,
    pub service_area: Option<&'a str>,
    pub tags: Option<&'a str>,
}

impl CustomerFilter {
    /// Reads a segment written as text (the API's query, the console's form, the
    /// command line); a filter that names no known value is refused by its field.
    pub fn parse(text: &SegmentText<'_>) -> Result<CustomerFilter, kefu_domain::FieldError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|s| !s.is_empty())
        }
        fn parsed<T>(
            field: &str,
            raw: Option<&str>,
            parse: impl Fn(&str) -> Option<T>,
        ) -> Result<Option<T>, kefu_domain::FieldError> {
            given(raw)
                .map(|r| {
                    parse(r).ok_or_else(|| {
                        kefu_domain::FieldError::new(field, kefu_domain::Reason::unknown_value(r))
                    })
                })
                .transpose()
        }
        let text_of = |v: Option<&str>| given(v).map(str::to_owned);
        Ok(CustomerFilter {
            tier: text_of(text.tier),
            kind: parsed("kind", text.kind, CustomerKind::parse)?,
            occupation: text_of(text.occupation),
            age_band: parsed("age_band", text.age_band, AgeBand::parse)?,
            gender: parsed("gender", text.gender, Gender::parse)?,
            position: text_of(text.position),
            liquidity: parsed("liquidity", text.liquidity, Liquidity::parse)?,
            service_area: text_of(text.service_area),
            tags: given(text.tags)
                .map(|t| {
                    t.split([',', '，', '、'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Segment filters; every present filter must match (tags: all of them).
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub tier: Option<String>,
    pub kind: Option<CustomerKind>,
    pub occupation: Option<String>,
    pub age_band: Option<AgeBand>,
    pub gender: Option<Gender>,
    pub position: Option<String>,
    pub liquidity: Option<Liquidity>,
    pub service_area: Option<String>,
    pub tags: Vec<String>,
}

const COLUMNS: &str = "id, code, name, kind, email, address, service_area, occupation, birth_date, age_band, gender, \
     position, assets_fen, liquidity, preferences, family, needs, notes, preferred_contact_time, behaviour_type, tier, \
     created_at, updated_at, version";

fn decode<T>(
    field: &str,
    raw: Option<String>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, sqlx::Error> {
    raw.map(|r| {
        parse(&r).ok_or_else(|| {
            sqlx::Error::Decode(format!("customers.{field}: unexpected value '{r}'").into())
        })
    })
    .transpose()
}

fn customer_from_row(row: &sqlx::any::AnyRow) -> Result<Customer, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(Customer {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        kind: CustomerKind::parse(&kind).ok_or_else(|| {
            sqlx::Error::Decode(format!("customers.kind: unexpected value '{kind}'").into())
        })?,
        phones: Vec::new(),
        email: row.try_get("email")?,
        address: row.try_get("address")?,
        service_area: row.try_get("service_area")?,
        occupation: row.try_get("occupation")?,
        birth_date: decode("birth_date", row.try_get("birth_date")?, |s| s.parse().ok())?,
        age_band: decode("age_band", row.try_get("age_band")?, AgeBand::parse)?,
        gender: decode("gender", row.try_get("gender")?, Gender::parse)?,
        position: row.try_get("position")?,
        assets: row
            .try_get::<Option<i64>, _>("assets_fen")?
            .map(Yuan::from_fen),
        liquidity: decode("liquidity", row.try_get("liquidity")?, Liquidity::parse)?,
        preferences: row.try_get("preferences")?,
        family: row.try_get("family")?,
        needs: row.try_get("needs")?,
        notes: row.try_get("notes")?,
        tags: Vec::new(),
        preferred_contact_time: row.try_get("preferred_contact_time")?,
        behaviour_type: decode(
            "behaviour_type",
            row.try_get("behaviour_type")?,
            BehaviourType::parse,
        )?,
        tier: row.try_get("tier")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        version: row.try_get("version")?,
    })
}

/// `$from, $from+1, …` for `n` parameters.
pub(crate) fn numbered_list(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Loads customers with their phones and tags, in the order of `ids`.
pub(crate) async fn load_customers(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Vec<Customer>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = numbered_list(1, ids.len());
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE id IN ({list})"
    )));
    for id in ids {
        q = q.bind(*id);
    }
    let mut customers: Vec<Customer> = q
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(customer_from_row)
        .collect::<Result<_, _>>()?;
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT customer_id, label, phone_key, extension FROM customer_phones WHERE customer_id IN ({list}) \
         ORDER BY customer_id, position"
    )));
    for id in ids {
        q = q.bind(*id);
    }
    for row in q.fetch_all(&mut *conn).await? {
        let owner: i64 = row.try_get("customer_id")?;
        let label: String = row.try_get("label")?;
        let phone = StoredPhone {
            label: PhoneLabel::parse(&label).ok_or_else(|| {
                sqlx::Error::Decode(format!("customer_phones.label: '{label}'").into())
            })?,
            key: row.try_get("phone_key")?,
            extension: row.try_get("extension")?,
        };
        if let Some(c) = customers.iter_mut().find(|c| c.id == owner) {
            c.phones.push(phone);
        }
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT customer_id, tag FROM customer_tags WHERE customer_id IN ({list}) ORDER BY customer_id, tag"
    )));
    for id in ids {
        q = q.bind(*id);
    }
    for row in q.fetch_all(&mut *conn).await? {
        let owner: i64 = row.try_get("customer_id")?;
        if let Some(c) = customers.iter_mut().find(|c| c.id == owner) {
            c.tags.push(row.try_get("tag")?);
        }
    }
    customers.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
    Ok(customers)
}

/// Loads one customer, or `NotFound`.
async fn load_one(conn: &mut AnyConnection, id: i64) -> Result<Customer, StoreError> {
    load_customers(conn, &[id])
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// Writes the phones and tags of customer `id`, replacing what was there.
async fn write_contacts(
    conn: &mut AnyConnection,
    id: i64,
    draft: &CustomerDraft,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM customer_phones WHERE customer_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM customer_tags WHERE customer_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for (position, phone) in draft.phones.iter().enumerate() {
        sqlx::query(
            "INSERT INTO customer_phones (customer_id, position, label, phone_key, extension) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(position as i64)
        .bind(phone.label.code())
        .bind(phone.number.key())
        .bind(phone.number.extension())
        .execute(&mut *conn)
        .await?;
    }
    for tag in &draft.tags {
        sqlx::query("INSERT INTO customer_tags (customer_id, tag) VALUES ($1, $2)")
            .bind(id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The profile columns' values, in the order of [`PROFILE_COLUMNS`].
const PROFILE_COLUMNS: &[&str] = &[
    "name",
    "kind",
    "email",
    "address",
    "service_area",
    "occupation",
    "birth_date",
    "age_band",
    "gender",
    "position",
    "assets_fen",
    "liquidity",
    "preferences",
    "family",
    "needs",
    "notes",
    "preferred_contact_time",
    "behaviour_type",
];

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_profile<'q>(q: AnyQuery<'q>, d: &'q CustomerDraft) -> AnyQuery<'q> {
    q.bind(d.name.as_str())
        .bind(d.kind.code())
        .bind(d.email.as_deref())
        .bind(d.address.as_deref())
        .bind(d.service_area.as_deref())
        .bind(d.occupation.as_deref())
        .bind(d.birth_date.map(|b| b.to_string()))
        .bind(d.age_band.map(AgeBand::code))
        .bind(d.gender.map(Gender::code))
        .bind(d.position.as_deref())
        .bind(d.assets.map(Yuan::fen))
        .bind(d.liquidity.map(Liquidity::code))
        .bind(d.preferences.as_deref())
        .bind(d.family.as_deref())
        .bind(d.needs.as_deref())
        .bind(d.notes.as_deref())
        .bind(d.preferred_contact_time.as_ref().map(ToString::to_string))
        .bind(d.behaviour_type.map(BehaviourType::code))
}

/// The names of the profile fields that differ between a stored record and a draft.
fn changed_fields(old: &Customer, new: &CustomerDraft) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    check("name", old.name != new.name);
    check("kind", old.kind != new.kind);
    let new_phones: Vec<(PhoneLabel, &str, Option<&str>)> = new
        .phones
        .iter()
        .map(|p| (p.label, p.number.key(), p.number.extension()))
        .collect();
    let old_phones: Vec<(PhoneLabel, &str, Option<&str>)> = old
        .phones
        .iter()
        .map(|p| (p.label, p.key.as_str(), p.extension.as_deref()))
        .collect();
    check("phones", old_phones != new_phones);
    check("email", old.email != new.email);
    check("address", old.address != new.address);
    check("service_area", old.service_area != new.service_area);
    check("occupation", old.occupation != new.occupation);
    check("birth_date", old.birth_date != new.birth_date);
    check("age_band", old.age_band != new.age_band);
    check("gender", old.gender != new.gender);
    check("position", old.position != new.position);
    check("assets", old.assets != new.assets);
    check("liquidity", old.liquidity != new.liquidity);
    check("preferences", old.preferences != new.preferences);
    check("family", old.family != new.family);
    check("needs", old.needs != new.needs);
    check("notes", old.notes != new.notes);
    check(
        "tags",
        old.tags.iter().collect::<std::collections::BTreeSet<_>>() != new.tags.iter().collect(),
    );
    check(
        "preferred_contact_time",
        old.preferred_contact_time != new.preferred_contact_time.as_ref().map(ToString::to_string),
    );
    check("behaviour_type", old.behaviour_type != new.behaviour_type);
    changed
}

/// Inserts a new customer inside the caller's transaction; returns its id.
pub(crate) async fn insert_customer(
    conn: &mut AnyConnection,
    draft: &CustomerDraft,
    decision: &TierDecision,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let placeholders = numbered_list(1, PROFILE_COLUMNS.len() + 5);
    let sql = format!(
        "INSERT INTO customers ({}, code, tier, created_at, updated_at, version) VALUES ({placeholders}) RETURNING id",
        PROFILE_COLUMNS.join(", ")
    );
    let id: i64 = bind_profile(sqlx::query(sqlx::AssertSqlSafe(sql)), draft)
        .bind(draft.code.as_str())
        .bind(decision.tier_code.as_str())
        .bind(ms(now))
        .bind(ms(now))
        .bind(1i64)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(kefu_domain::Reason::taken(&draft.code))
            }
            other => other,
        })?
        .try_get("id")?;
    write_contacts(conn, id, draft).await?;
    Ok(id)
}

/// Overwrites customer `id` with `draft` inside the caller's transaction.
pub(crate) async fn overwrite_customer(
    conn: &mut AnyConnection,
    id: i64,
    draft: &CustomerDraft,
    tier: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let sets: Vec<String> = PROFILE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let n = PROFILE_COLUMNS.len();
    let sql = format!(
        "UPDATE customers SET {}, code = ${}, tier = ${}, updated_at = ${}, version = version + 1 WHERE id = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3,
        n + 4
    );
    bind_profile(sqlx::query(sqlx::AssertSqlSafe(sql)), draft)
        .bind(draft.code.as_str())
        .bind(tier)
        .bind(ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(kefu_domain::Reason::taken(&draft.code))
            }
            other => other,
        })?;
    write_contacts(conn, id, draft).await?;
    crate::indexing::customer(conn, crate::backend_of(conn), id, now).await
}

/// ` FOR UPDATE SKIP LOCKED` on PostgreSQL (queue takers pass over rows another
/// transaction is taking); nothing on SQLite, whose one writer needs no row locks.
pub(crate) fn skip_locked_clause(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

pub(crate) fn lock_clause(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

impl CustomerFilter {
    /// ` WHERE …` with numbered parameters from `$1`, and the values to bind.
    pub(crate) fn to_sql(&self, today: Date) -> (String, Vec<String>) {
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<String> = Vec::new();
        let equals: [(&str, Option<&str>); 7] = [
            ("tier", self.tier.as_deref()),
            ("kind", self.kind.map(CustomerKind::code)),
            ("occupation", self.occupation.as_deref()),
            ("gender", self.gender.map(Gender::code)),
            ("position", self.position.as_deref()),
            ("liquidity", self.liquidity.map(Liquidity::code)),
            ("service_area", self.service_area.as_deref()),
        ];
        for (column, value) in equals {
            if let Some(v) = value {
                params.push(v.to_owned());
                conditions.push(format!("{column} = ${}", params.len()));
            }
        }
        if let Some(band) = self.age_band {
            // Known birth dates decide by date; otherwise the recorded band.
            let (after, until) = band.birth_dates(today);
            let mut by_date = vec!["birth_date IS NOT NULL".to_owned()];
            if let Some(a) = after {
                params.push(a.to_string());
                by_date.push(format!("birth_date > ${}", params.len()));
            }
            if let Some(u) = until {
                params.push(u.to_string());
                by_date.push(format!("birth_date <= ${}", params.len()));
            }
            params.push(band.code().to_owned());
            conditions.push(format!(
                "(({}) OR (birth_date IS NULL AND age_band = ${}))",
                by_date.join(" AND "),
                params.len()
            ));
        }
        for tag in &self.tags {
            params.push(tag.clone());
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = customers.id AND t.tag = ${})",
                params.len()
            ));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        (clause, params)
    }
}

fn bind_params<'q>(mut q: AnyQuery<'q>, params: &'q [String]) -> AnyQuery<'q> {
    for p in params {
        q = q.bind(p.as_str());
    }
    q
}

fn audit_read<'a>(
    actor: &'a Actor,
    action: &'a str,
    object_id: String,
    detail: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        actor,
        action,
        object_type: "customer",
        object_id,
        detail,
    }
}

impl Store {
    pub async fn count_customers(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Creates a customer, assigns its tier from the rules in force and records the
    /// tier in its history.
    pub async fn create_customer(
        &self,
        actor: &Actor,
        draft: &CustomerDraft,
        now: Timestamp,
    ) -> Result<Customer, StoreError> {
        let mut tx = self.begin_write().await?;
        let rules = current_rules(&mut tx).await?;
        let decision = rules.rules.evaluate(draft.assets);
        let id = insert_customer(&mut tx, draft, &decision, now).await?;
        record_tier_change(
            &mut tx,
            id,
            None,
            &decision,
            TierChangeReason::Created,
            rules.version,
            actor,
            now,
        )
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "customer.create",
                object_type: "customer",
                object_id: id.to_string(),
                detail: json!({ "code": draft.code, "tier": decision.tier_code }),
            },
            now,
        )
        .await?;
        crate::indexing::customer(&mut tx, self.backend(), id, now).await?;
        let customer = load_one(&mut tx, id).await?;
        tx.commit().await?;
        Ok(customer)
    }

    /// Reads one customer. The read is audited; the audit record is committed before
    /// the record is returned. The read itself holds no write lock, so large reads
    /// never stall writers (SQLite has one).
    pub async fn read_customer(
        &self,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<Customer, StoreError> {
        let customer = {
            let mut conn = self.pool.acquire().await?;
            load_one(&mut conn, id).await?
        };
        self.record_audit(
            &audit_read(
                actor,
                "customer.read",
                id.to_string(),
                json!({ "code": customer.code }),
            ),
            now,
        )
        .await?;
        Ok(customer)
    }

    /// Replaces a customer's profile if it is still at `expected_version`; the tier
    /// is recomputed and a change recorded in its history.
    pub async fn update_customer(
        &self,
        actor: &Actor,
        id: i64,
        expected_version: i64,
        draft: &CustomerDraft,
        now: Timestamp,
    ) -> Result<Customer, StoreError> {
        let mut tx = self.begin_write().await?;
        let current: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM customers WHERE id = $1{}",
            lock_clause(self.backend())
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        match current {
            None => return Err(StoreError::NotFound),
            Some(v) if v != expected_version => {
                return Err(StoreError::Conflict(kefu_domain::Reason::stale_version(v)));
            }
            Some(_) => {}
        }
        let old = load_one(&mut tx, id).await?;
        let rules = current_rules(&mut tx).await?;
        let decision = rules.rules.evaluate(draft.assets);
        overwrite_customer(&mut tx, id, draft, &decision.tier_code, now).await?;
        if decision.tier_code != old.tier {
            record_tier_change(
                &mut tx,
                id,
                Some(&old.tier),
                &decision,
                TierChangeReason::ProfileChanged,
                rules.version,
                actor,
                now,
            )
            .await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "customer.update",
                object_type: "customer",
                object_id: id.to_string(),
                detail: json!({ "code": draft.code, "changed": changed_fields(&old, draft), "tier": decision.tier_code }),
            },
            now,
        )
        .await?;
        let customer = load_one(&mut tx, id).await?;
        tx.commit().await?;
        Ok(customer)
    }

    /// Adds a number to a customer's phones (an unknown caller linked to their
    /// record at the desk): the last phone, version moved on, audited, searchable.
    /// A number the customer already has is refused.
    pub async fn add_customer_phone(
        &self,
        actor: &Actor,
        id: i64,
        label: PhoneLabel,
        number: &PhoneNumber,
        now: Timestamp,
    ) -> Result<Customer, StoreError> {
        let mut tx = self.begin_write().await?;
        let current: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM customers WHERE id = $1{}",
            lock_clause(self.backend())
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if current.is_none() {
            return Err(StoreError::NotFound);
        }
        let existing: Vec<(i64, String)> = sqlx::query_as(
            "SELECT position, phone_key FROM customer_phones WHERE customer_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if existing.iter().any(|(_, key)| key == number.key()) {
            return Err(StoreError::invalid(
                "number",
                kefu_domain::Reason::duplicate(number.display()),
            ));
        }
        let position = existing.iter().map(|(p, _)| p + 1).max().unwrap_or(0);
        sqlx::query(
            "INSERT INTO customer_phones (customer_id, position, label, phone_key, extension) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(position)
        .bind(label.code())
        .bind(number.key())
        .bind(number.extension())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE customers SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::indexing::customer(&mut tx, self.backend(), id, now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "customer.update",
                object_type: "customer",
                object_id: id.to_string(),
                detail: json!({ "changed": ["phones"], "added_phone": number.masked() }),
            },
            now,
        )
        .await?;
        let customer = load_one(&mut tx, id).await?;
        tx.commit().await?;
        Ok(customer)
    }

    /// Deletes a customer if it is still at `expected_version`.
    pub async fn delete_customer(
        &self,
        actor: &Actor,
        id: i64,
        expected_version: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let row =
            sqlx::query("DELETE FROM customers WHERE id = $1 AND version = $2 RETURNING code")
                .bind(id)
                .bind(expected_version)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else {
            return Err(crate::departments::stale_or_missing(&mut tx, "customers", id).await);
        };
        let code: String = row.try_get("code")?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "customer.delete",
                object_type: "customer",
                object_id: id.to_string(),
                detail: json!({ "code": code }),
            },
            now,
        )
        .await?;
        crate::indexing::remove(&mut tx, self.backend(), crate::indexing::CUSTOMER, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The screen pop: customers with a phone whose key is `phone_key`. Audited (the
    /// number masked in the audit record) before the result is returned.
    pub async fn lookup_by_phone(
        &self,
        actor: &Actor,
        phone_key: &str,
        now: Timestamp,
    ) -> Result<Vec<Customer>, StoreError> {
        let (ids, customers) = {
            let mut conn = self.pool.acquire().await?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT DISTINCT customer_id FROM customer_phones WHERE phone_key = $1 ORDER BY customer_id LIMIT 20",
            )
            .bind(phone_key)
            .fetch_all(&mut *conn)
            .await?;
            let customers = load_customers(&mut conn, &ids).await?;
            (ids, customers)
        };
        let entry = audit_read(
            actor,
            "customer.lookup",
            ids.first().map(ToString::to_string).unwrap_or_default(),
            json!({ "phone": mask_key(phone_key), "matched": ids }),
        );
        self.record_audit(&entry, now).await?;
        Ok(customers)
    }

    /// A page of a segment, by code, counted exactly up to [`COUNT_LIMIT`]. The
    /// customers listed are audited as read before the page is returned.
    pub async fn list_customers(
        &self,
        actor: &Actor,
        filter: &CustomerFilter,
        page: PageRequest,
        today: Date,
        now: Timestamp,
    ) -> Result<Page<Customer>, StoreError> {
        self.list_customers_counting_to(actor, filter, page, COUNT_LIMIT, today, now)
            .await
    }

    /// [`Store::list_customers`] counting exactly only up to `count_to` matches:
    /// counting a segment costs a read of every customer it examines, and two
    /// broad filters together (an area and a tag) examine several customers per
    /// match, so a page meant to answer at once counts less far.
    pub async fn list_customers_counting_to(
        &self,
        actor: &Actor,
        filter: &CustomerFilter,
        page: PageRequest,
        count_to: i64,
        today: Date,
        now: Timestamp,
    ) -> Result<Page<Customer>, StoreError> {
        let count_to = count_to.clamp(1, COUNT_LIMIT);
        let (clause, params) = filter.to_sql(today);
        let (total, ids, items) = {
            let mut conn = self.pool.acquire().await?;
            let q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM customers{clause} LIMIT {}) counted",
                count_to + 1
            )));
            let total: i64 = bind_params(q, &params)
                .fetch_one(&mut *conn)
                .await?
                .try_get("n")?;
            // Counted to the end and the page past it (or nothing matched): the
            // page query would only read the same customers again.
            let ids: Vec<i64> = if total <= count_to && page.offset >= total {
                Vec::new()
            } else {
                let n = params.len();
                let q = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM customers{clause} ORDER BY code LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                )));
                bind_params(q, &params)
                    .bind(page.limit)
                    .bind(page.offset)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get("id"))
                    .collect::<Result<_, _>>()?
            };
            let items = load_customers(&mut conn, &ids).await?;
            (total, ids, items)
        };
        if !ids.is_empty() {
            self.record_audit(
                &audit_read(
                    actor,
                    "customer.list",
                    String::new(),
                    json!({ "ids": ids, "total": total }),
                ),
                now,
            )
            .await?;
        }
        Ok(Page {
            items,
            total: total.min(count_to),
            total_exact: total <= count_to,
            offset: page.offset,
            limit: page.limit,
        })
    }

    /// Streams a whole segment in pages of `batch` to `sink` (for exports); the
    /// export is audited once with its size.
    pub async fn export_customers(
        &self,
        actor: &Actor,
        filter: &CustomerFilter,
        today: Date,
        now: Timestamp,
        mut sink: impl FnMut(&[Customer]) -> Result<(), StoreError>,
    ) -> Result<i64, StoreError> {
        let (clause, params) = filter.to_sql(today);
        let n = params.len();
        let mut after = String::new();
        let mut exported = 0i64;
        loop {
            let sep = if clause.is_empty() { " WHERE" } else { " AND" };
            let q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, code FROM customers{clause}{sep} code > ${} ORDER BY code LIMIT ${}",
                n + 1,
                n + 2
            )));
            let rows = bind_params(q, &params)
                .bind(after.as_str())
                .bind(1000i64)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            let ids: Vec<i64> = rows
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            after = rows
                .last()
                .map(|r| r.try_get("code"))
                .transpose()?
                .unwrap_or_default();
            let mut conn = self.pool.acquire().await?;
            let batch = load_customers(&mut conn, &ids).await?;
            drop(conn);
            exported += batch.len() as i64;
            sink(&batch)?;
        }
        self.record_audit(
            &audit_read(
                actor,
                "customer.export",
                String::new(),
                json!({ "rows": exported }),
            ),
            now,
        )
        .await?;
        Ok(exported)
    }
}

/// Segments are counted exactly up to this many customers; beyond it the count is
/// reported as a lower bound.
pub const COUNT_LIMIT: i64 = 10_000;

/// Rows per INSERT statement in bulk paths.
pub const INSERT_BATCH: usize = 500;

impl Store {
    /// Inserts customers whose codes do not exist yet, in one transaction, with
    /// phones, tags and the first entry of their tier history. Existing codes are
    /// skipped, so repeating a batch adds nothing. Returns the number inserted.
    pub async fn insert_new_customers(
        &self,
        actor: &Actor,
        drafts: &[CustomerDraft],
        reason: TierChangeReason,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let rules = current_rules(&mut tx).await?;
        let inserted =
            insert_drafts(&mut tx, self.backend(), &rules, actor, drafts, reason, now).await?;
        tx.commit().await?;
        Ok(inserted)
    }
}

/// The bulk insert inside the caller's transaction; see [`Store::insert_new_customers`].
pub(crate) async fn insert_drafts(
    tx: &mut AnyConnection,
    backend: Backend,
    rules: &crate::tiers::VersionedRules,
    actor: &Actor,
    drafts: &[CustomerDraft],
    reason: TierChangeReason,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let mut inserted = 0u64;
    for chunk in drafts.chunks(INSERT_BATCH) {
        let decisions: Vec<TierDecision> = chunk
            .iter()
            .map(|d| rules.rules.evaluate(d.assets))
            .collect();
        let n_cols = PROFILE_COLUMNS.len() + 4;
        let sql = format!(
            "INSERT INTO customers ({}, code, tier, created_at, updated_at) VALUES {} \
                 ON CONFLICT (code) DO NOTHING RETURNING id, code",
            PROFILE_COLUMNS.join(", "),
            values_placeholders(backend, chunk.len(), n_cols)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (draft, decision) in chunk.iter().zip(&decisions) {
            q = bind_profile(q, draft)
                .bind(draft.code.as_str())
                .bind(decision.tier_code.as_str())
                .bind(ms(now))
                .bind(ms(now));
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mut ids: std::collections::HashMap<String, i64> =
            std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            ids.insert(row.try_get("code")?, row.try_get("id")?);
        }
        inserted += rows.len() as u64;
        let new: Vec<(i64, &CustomerDraft, &TierDecision)> = chunk
            .iter()
            .zip(&decisions)
            .filter_map(|(d, dec)| ids.get(&d.code).map(|id| (*id, d, dec)))
            .collect();
        let phones: Vec<(i64, usize, &kefu_domain::customer::CustomerPhone)> = new
            .iter()
            .flat_map(|(id, d, _)| d.phones.iter().enumerate().map(move |(i, p)| (*id, i, p)))
            .collect();
        for part in phones.chunks(INSERT_BATCH) {
            let sql = format!(
                "INSERT INTO customer_phones (customer_id, position, label, phone_key, extension) VALUES {}",
                values_placeholders(backend, part.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, position, phone) in part {
                q = q
                    .bind(*id)
                    .bind(*position as i64)
                    .bind(phone.label.code())
                    .bind(phone.number.key())
                    .bind(phone.number.extension());
            }
            q.execute(&mut *tx).await?;
        }
        let tags: Vec<(i64, &String)> = new
            .iter()
            .flat_map(|(id, d, _)| d.tags.iter().map(move |t| (*id, t)))
            .collect();
        for part in tags.chunks(INSERT_BATCH) {
            let sql = format!(
                "INSERT INTO customer_tags (customer_id, tag) VALUES {}",
                values_placeholders(backend, part.len(), 2)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, tag) in part {
                q = q.bind(*id).bind(tag.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        if !new.is_empty() {
            let sql = format!(
                "INSERT INTO customer_tier_history (customer_id, at_ms, from_tier, to_tier, reason, assets_fen, \
                     threshold_fen, rules_version, actor_label) VALUES {}",
                values_placeholders(backend, new.len(), 9)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let label = actor.label();
            for (id, _, decision) in &new {
                q = q
                    .bind(*id)
                    .bind(ms(now))
                    .bind(None::<String>)
                    .bind(decision.tier_code.as_str())
                    .bind(reason.code())
                    .bind(decision.assets.map(Yuan::fen))
                    .bind(decision.threshold.fen())
                    .bind(rules.version)
                    .bind(label.clone());
            }
            q.execute(&mut *tx).await?;
        }
        let docs: Vec<crate::search::NewDoc> = new
            .iter()
            .map(|(id, d, _)| crate::search::NewDoc {
                doc_id: *id,
                title: d.name.clone(),
                body: customer_text(d),
                hidden: std::iter::once(d.code.clone())
                    .chain(d.phones.iter().map(|p| p.number.key().to_owned()))
                    .collect::<Vec<_>>()
                    .join(" "),
                meta: crate::search::DocMeta {
                    state: None,
                    department_id: None,
                    customer_id: Some(*id),
                    at: Some(ms(now)),
                },
            })
            .collect();
        crate::search::index_documents_bulk(tx, backend, crate::indexing::CUSTOMER, &docs, now)
            .await?;
    }
    Ok(inserted)
}

/// A customer's searchable text (as `indexing::customer` builds it from the row).
fn customer_text(d: &CustomerDraft) -> String {
    crate::indexing::join(
        [
            &d.address,
            &d.service_area,
            &d.needs,
            &d.preferences,
            &d.notes,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str),
    )
}

/// The VALUES list for `n_rows` rows of `n_cols` parameters each, bound in order:
/// `($1, $2, …), ($k, …)` on PostgreSQL, `(?, ?, …), (?, …)` on SQLite.
///
/// SQLite looks numbered parameters up by walking a list, so a statement with
/// thousands of `$n` parameters costs quadratic time to bind (measured: 1M rows in
/// 114 s instead of seconds); anonymous `?` parameters bind in constant time. (sqlx's
/// `QueryBuilder` cannot be used: under the `Any` driver it writes `?` for both.)
pub(crate) fn values_placeholders(backend: Backend, n_rows: usize, n_cols: usize) -> String {
    let mut sql = String::with_capacity(n_rows * n_cols * 6);
    let mut n = 0;
    for r in 0..n_rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..n_cols {
            if c > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    n += 1;
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

impl Store {
    /// Customers whose code is `q` or whose name starts with `q`, by name (at most
    /// `limit`). The customers found are audited as read before they are returned.
    pub async fn find_customers(
        &self,
        actor: &Actor,
        q: &str,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<Customer>, StoreError> {
        let q = q.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, 200);
        let customers = {
            let mut conn = self.pool.acquire().await?;
            let mut ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE code = $1")
                .bind(q)
                .fetch_all(&mut *conn)
                .await?;
            let by_name: Vec<i64> = match self.backend() {
                Backend::Sqlite => {
                    // Binary collation: names starting with q sort in [q, q + U+10FFFF).
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM customers WHERE name >= $1 AND name < $2 ORDER BY name, id LIMIT {limit}"
                    )))
                    .bind(q)
                    .bind(format!("{q}\u{10FFFF}"))
                    .fetch_all(&mut *conn)
                    .await?
                }
                Backend::Postgres => {
                    let pattern = format!(
                        "{}%",
                        q.replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_")
                    );
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM customers WHERE name COLLATE \"C\" LIKE $1 ORDER BY name COLLATE \"C\", id LIMIT {limit}"
                    )))
                    .bind(pattern)
                    .fetch_all(&mut *conn)
                    .await?
                }
            };
            for id in by_name {
                if !ids.contains(&id) && (ids.len() as i64) < limit {
                    ids.push(id);
                }
            }
            load_customers(&mut conn, &ids).await?
        };
        if !customers.is_empty() {
            self.record_audit(
                &audit_read(
                    actor,
                    "customer.search",
                    String::new(),
                    json!({ "read": customers.iter().map(|c| c.id).collect::<Vec<_>>() }),
                ),
                now,
            )
            .await?;
        }
        Ok(customers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_parameter() {
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 3),
            "($1,$2,$3),($4,$5,$6)"
        );
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 2), "(?,?),(?,?)");
        assert_eq!(numbered_list(3, 3), "$3,$4,$5");
    }
}

/// A follow-up campaign a customer is on, for their timeline.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerCampaign {
    pub campaign_id: i64,
    pub name: String,
    pub status: String,
    pub last_result: Option<String>,
    pub attempts: i64,
    /// The last attempt, else when the target list was frozen.
    pub at: Timestamp,
}

/// An emergency notice a customer was sent, for their timeline.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerNotice {
    pub incident_id: i64,
    pub title: String,
    pub outcome: String,
    /// When they were told, else when the incident was recorded.
    pub at: Timestamp,
}

impl Store {
    /// The campaigns `customer_id` is a target of, newest first.
    pub async fn customer_campaigns(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<CustomerCampaign>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.campaign_id, c.name, t.status, t.last_result, t.attempts, t.updated_at \
             FROM campaign_targets t JOIN campaigns c ON c.id = t.campaign_id \
             WHERE t.customer_id = $1 ORDER BY t.updated_at DESC LIMIT $2",
        )
        .bind(customer_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerCampaign {
                    campaign_id: r.try_get("campaign_id")?,
                    name: r.try_get("name")?,
                    status: r.try_get("status")?,
                    last_result: r.try_get("last_result")?,
                    attempts: r.try_get("attempts")?,
                    at: from_ms(r.try_get("updated_at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The emergency notices `customer_id` was sent, newest first.
    pub async fn customer_notices(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<CustomerNotice>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.incident_id, i.title, n.outcome, COALESCE(n.notified_at, i.created_at) AS at \
             FROM incident_notices n JOIN incidents i ON i.id = n.incident_id \
             WHERE n.customer_id = $1 ORDER BY n.id DESC LIMIT $2",
        )
        .bind(customer_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerNotice {
                    incident_id: r.try_get("incident_id")?,
                    title: r.try_get("title")?,
                    outcome: r.try_get("outcome")?,
                    at: from_ms(r.try_get("at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Whether the customer asked not to be called.
    pub async fn do_not_call(&self, customer_id: i64) -> Result<bool, StoreError> {
        let flag: Option<i64> =
            sqlx::query_scalar("SELECT do_not_call FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(&self.pool)
                .await?;
        flag.map(|f| f != 0).ok_or(StoreError::NotFound)
    }
}
