//! Work orders (S3, S4): kinds, routing rules and deadline policies as data; opening
//! an order (priority, routing, deadlines), workflow transitions with their event
//! history, notes and replies, the 24-hour progress notice, department inboxes, the
//! escalation sweep and the self-service status lookup.
//!
//! Every change writes its event row, its audit record and its webhook deliveries in
//! the transaction of the change.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use kefu_domain::DepartmentId;
use kefu_domain::audit::Actor;
use kefu_domain::calendar::BusinessCalendar;
use kefu_domain::contact::{Category, Channel, Direction};
use kefu_domain::sla::{self, DeadlineKind, Deadlines, Met, SlaPolicy};
use kefu_domain::workflow::{Command, Progress, State};
use kefu_domain::workorder::{
    self, ComplaintCause, KindSpec, Priority, RoutingRule, Urgency, workflow_named,
};
use kefu_domain::{Reason, StaffId};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::contacts::insert_contact;
use crate::customers::lock_clause;
use crate::webhooks::enqueue;
use crate::{Backend, Page, PageRequest, Store, StoreError, from_ms, ms};

/// Where deadlines are computed: the business calendar and the center's time zone.
#[derive(Debug, Clone)]
pub struct SlaContext {
    pub calendar: BusinessCalendar,
    pub tz: TimeZone,
}

/// Sorts last in the inbox: an order with no deadline left to meet.
const NO_DEADLINE: i64 = 9_000_000_000_000_000_000;

/// A work order as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOrder {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub workflow: String,
    pub state: State,
    pub reopen_count: i64,
    pub priority: Priority,
    pub urgency: Urgency,
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub phone_key: Option<String>,
    pub subject: String,
    pub description: Option<String>,
    pub category: Option<Category>,
    pub service_area: Option<String>,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub complaint_cause: Option<ComplaintCause>,
    pub complained_staff_id: Option<i64>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deadlines: Deadlines,
    pub met: Met,
    pub escalated: Vec<DeadlineKind>,
    pub closed_at: Option<Timestamp>,
    pub last_reply: Option<String>,
    pub last_reply_at: Option<Timestamp>,
    pub version: i64,
}

impl WorkOrder {
    /// The deadlines breached at `now`.
    pub fn breaches(&self, now: Timestamp) -> Vec<DeadlineKind> {
        DeadlineKind::ALL
            .into_iter()
            .filter(|k| sla::is_breached(&self.deadlines, &self.met, *k, now))
            .collect()
    }
}

/// A new order, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewWorkOrder {
    pub kind: String,
    pub urgency: Urgency,
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub phone_key: Option<String>,
    pub subject: String,
    pub description: Option<String>,
    pub category: Option<Category>,
    pub service_area: Option<String>,
    /// Explicit department; otherwise the routing rules decide.
    pub department_id: Option<DepartmentId>,
    pub assignee_id: Option<StaffId>,
    pub complaint_cause: Option<ComplaintCause>,
    pub complained_staff_id: Option<StaffId>,
    /// Dispatch at once to the routed department (the usual path from a call).
    pub dispatch: bool,
}

/// A workflow command with what it needs.
#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub command: Command,
    pub note: String,
    /// Dispatch: overrides routing; transfer: the new department (required).
    pub department_id: Option<DepartmentId>,
    pub assignee_id: Option<StaffId>,
    /// Record result of a complaint: the cause classification.
    pub complaint_cause: Option<ComplaintCause>,
    /// Refused with a conflict if the order moved on meanwhile.
    pub expected_version: Option<i64>,
    /// The satisfaction callback's score (1–5), kept on the callback's target so
    /// the reports and the agent's figures count it.
    pub satisfaction: Option<u8>,
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOrderEvent {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    /// created, a workflow command, progress_notice, note, reply, escalated.
    pub event: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub note: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteVisibility {
    /// For staff only.
    Internal,
    /// A reply the customer sees (self-service, and what the agent reads out).
    Customer,
}

impl NoteVisibility {
    pub fn code(self) -> &'static str {
        match self {
            NoteVisibility::Internal => "internal",
            NoteVisibility::Customer => "customer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOrderNote {
    pub id: i64,
    pub visibility: String,
    pub body: String,
    pub author: String,
    pub at: Timestamp,
}

/// Filters for listing orders; every present filter must match.
#[derive(Debug, Clone, Default)]
pub struct WorkOrderFilter {
    pub state: Option<State>,
    pub open_only: bool,
    pub kind: Option<String>,
    pub department_id: Option<DepartmentId>,
    pub customer_id: Option<i64>,
    pub tier: Option<String>,
    /// Only orders with a deadline breached (true) or none breached (false) at `now`.
    pub breached: Option<bool>,
    /// Only open orders whose next deadline falls within this long from `now`.
    pub due_within: Option<jiff::SignedDuration>,
}

/// A breached deadline escalated to the manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub id: i64,
    pub work_order_id: i64,
    pub number: String,
    /// The order's subject and state now (the order may have moved on since).
    pub subject: String,
    pub state: State,
    pub deadline: DeadlineKind,
    pub due_at: Timestamp,
    pub escalated_at: Timestamp,
    pub department_id: Option<i64>,
    pub acknowledged_at: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
    /// What the manager wrote when acknowledging it.
    pub note: Option<String>,
}

/// What the self-service lookup may reveal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatus {
    pub number: String,
    pub kind_name: String,
    pub state: State,
    pub last_reply: Option<String>,
    pub last_reply_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// Checked by the caller against the digits the customer gave; never shown.
    pub phone_key: Option<String>,
}

const COLUMNS: &str = "id, number, kind, workflow, state, reopen_count, priority, urgency, customer_id, contact_id, \
     phone_key, subject, description, category, service_area, department_id, assignee_id, complaint_cause, \
     complained_staff_id, created_by, created_at, updated_at, first_response_due, progress_due, resolution_due, \
     first_response_at, progress_notice_at, resolved_at, closed_at, escalated, last_reply, last_reply_at, version";

fn bad(what: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("work_orders.{what}: unexpected value '{raw}'").into())
}

fn escalated_list(raw: &str) -> Vec<DeadlineKind> {
    raw.split(',').filter_map(DeadlineKind::parse).collect()
}

fn escalated_text(list: &[DeadlineKind]) -> String {
    list.iter().map(|k| k.code()).collect::<Vec<_>>().join(",")
}

fn order_from_row(row: &sqlx::any::AnyRow) -> Result<WorkOrder, sqlx::Error> {
    let t = |name: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(from_ms))
    };
    let state: String = row.try_get("state")?;
    let urgency: String = row.try_get("urgency")?;
    let priority: i64 = row.try_get::<i64, _>("priority")?;
    let category: Option<String> = row.try_get("category")?;
    let cause: Option<String> = row.try_get("complaint_cause")?;
    let escalated: String = row.try_get("escalated")?;
    Ok(WorkOrder {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        kind: row.try_get("kind")?,
        workflow: row.try_get("workflow")?,
        state: State::parse(&state).ok_or_else(|| bad("state", &state))?,
        reopen_count: row.try_get::<i64, _>("reopen_count")?,
        priority: u8::try_from(priority)
            .ok()
            .and_then(Priority::new)
            .ok_or_else(|| bad("priority", &priority.to_string()))?,
        urgency: Urgency::parse(&urgency).ok_or_else(|| bad("urgency", &urgency))?,
        customer_id: row.try_get("customer_id")?,
        contact_id: row.try_get("contact_id")?,
        phone_key: row.try_get("phone_key")?,
        subject: row.try_get("subject")?,
        description: row.try_get("description")?,
        category: category
            .map(|c| Category::parse(&c).ok_or_else(|| bad("category", &c)))
            .transpose()?,
        service_area: row.try_get("service_area")?,
        department_id: row.try_get("department_id")?,
        assignee_id: row.try_get("assignee_id")?,
        complaint_cause: cause
            .map(|c| ComplaintCause::parse(&c).ok_or_else(|| bad("complaint_cause", &c)))
            .transpose()?,
        complained_staff_id: row.try_get("complained_staff_id")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        deadlines: Deadlines {
            first_response: t("first_response_due")?,
            progress_notice: t("progress_due")?,
            resolution: t("resolution_due")?,
        },
        met: Met {
            first_response: t("first_response_at")?,
            progress_notice: t("progress_notice_at")?,
            resolution: t("resolved_at")?,
        },
        escalated: escalated_list(&escalated),
        closed_at: t("closed_at")?,
        last_reply: row.try_get("last_reply")?,
        last_reply_at: t("last_reply_at")?,
        version: row.try_get("version")?,
    })
}

pub(crate) async fn load_order(
    conn: &mut AnyConnection,
    id: i64,
    lock: &str,
) -> Result<WorkOrder, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM work_orders WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(order_from_row(&row)?)
}

/// Orders outside a handler's department do not exist for them.
fn check_scope(order: &WorkOrder, scope: Option<DepartmentId>) -> Result<(), StoreError> {
    match scope {
        Some(dept) if order.department_id != Some(dept.0) => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The sweep's and the inbox's view of the order's deadlines.
fn watch(order: &WorkOrder) -> (Option<i64>, i64) {
    if workorder::is_final(order.state) {
        return (None, NO_DEADLINE);
    }
    let next = sla::next_check(&order.deadlines, &order.met, &order.escalated).map(ms);
    let inbox = DeadlineKind::ALL
        .into_iter()
        .filter(|k| order.met.get(*k).is_none())
        .filter_map(|k| order.deadlines.get(k))
        .min()
        .map_or(NO_DEADLINE, ms);
    (next, inbox)
}

async fn load_kind(conn: &mut AnyConnection, code: &str) -> Result<KindSpec, StoreError> {
    let row = sqlx::query(
        "SELECT code, name, workflow, base_priority, builtin FROM work_order_kinds WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::invalid("kind", Reason::unknown_value(code)))?;
    kind_from_row(&row)
}

fn kind_from_row(row: &sqlx::any::AnyRow) -> Result<KindSpec, StoreError> {
    let workflow: String = row.try_get("workflow")?;
    Ok(KindSpec {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        workflow: workflow_named(&workflow).ok_or_else(|| bad("workflow", &workflow))?,
        base_priority: u8::try_from(row.try_get::<i64, _>("base_priority")?).unwrap_or(0),
        builtin: row.try_get::<i64, _>("builtin")? == 1,
    })
}

async fn load_routing(conn: &mut AnyConnection) -> Result<Vec<RoutingRule>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, category, service_area, department_id FROM routing_rules ORDER BY position",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let category: Option<String> = r.try_get("category")?;
            Ok(RoutingRule {
                kind: r.try_get("kind")?,
                category: category.as_deref().and_then(Category::parse),
                service_area: r.try_get("service_area")?,
                department_id: DepartmentId(r.try_get("department_id")?),
            })
        })
        .collect()
}

/// The deadline policies in force and their version (0: the defaults).
pub(crate) async fn load_policies(
    conn: &mut AnyConnection,
) -> Result<(i64, Vec<SlaPolicy>), StoreError> {
    let row = sqlx::query("SELECT version, policies FROM sla_policies WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        None => Ok((0, sla::default_policies())),
        Some(row) => {
            let raw: String = row.try_get("policies")?;
            let policies = serde_json::from_str(&raw)
                .map_err(|e| StoreError::Unsupported(format!("stored SLA policies: {e}")))?;
            Ok((row.try_get("version")?, policies))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    conn: &mut AnyConnection,
    order_id: i64,
    actor: &Actor,
    event: &str,
    from: Option<State>,
    to: Option<State>,
    note: &str,
    detail: serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO work_order_events (work_order_id, at_ms, actor_id, actor_label, event, from_state, to_state, \
         note, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(order_id)
    .bind(ms(now))
    .bind(actor.staff_id().map(|s| s.0))
    .bind(actor.label())
    .bind(event)
    .bind(from.map(State::code))
    .bind(to.map(State::code))
    .bind(note)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What webhooks receive about an order.
fn webhook_payload(order: &WorkOrder) -> serde_json::Value {
    json!({
        "id": order.id,
        "number": order.number,
        "kind": order.kind,
        "state": order.state.code(),
        "priority": order.priority.level(),
        "department_id": order.department_id,
        "customer_id": order.customer_id,
        "updated_at": order.updated_at.to_string(),
    })
}

/// Where an order counts: its department (0: none yet) and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placement {
    department: i64,
    state: State,
}

impl Placement {
    fn open(self) -> bool {
        !workorder::is_final(self.state)
    }
}

fn placement(department_id: Option<i64>, state: State) -> Placement {
    Placement {
        department: department_id.unwrap_or(0),
        state,
    }
}

/// Adds `delta` to a department's count of open orders.
async fn adjust_open(
    conn: &mut AnyConnection,
    department: i64,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO work_order_open_counts (department_id, open_orders) VALUES ($1, $2) \
         ON CONFLICT (department_id) DO UPDATE SET open_orders = work_order_open_counts.open_orders + excluded.open_orders",
    )
    .bind(department)
    .bind(delta)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the order between the running counts (open per department; per department
/// and state) when its department or state changed. `before` is `None` for a new order.
async fn recount(
    conn: &mut AnyConnection,
    before: Option<Placement>,
    after: Placement,
) -> Result<(), StoreError> {
    if before == Some(after) {
        return Ok(());
    }
    let was_open = before.filter(|b| b.open()).map(|b| b.department);
    let is_open = after.open().then_some(after.department);
    if was_open != is_open {
        if let Some(d) = was_open {
            adjust_open(conn, d, -1).await?;
        }
        if let Some(d) = is_open {
            adjust_open(conn, d, 1).await?;
        }
    }
    crate::reports::move_state_count(
        conn,
        before.map(|b| (b.department, b.state.code())),
        Some((after.department, after.state.code())),
    )
    .await
}

/// Counts the deadlines `order` newly met in time (those met late were counted as
/// breached when escalated).
async fn count_met(
    conn: &mut AnyConnection,
    tz: &TimeZone,
    before: &Met,
    order: &WorkOrder,
    now: Timestamp,
) -> Result<(), StoreError> {
    let day = crate::reports::day_key(tz, now);
    for k in DeadlineKind::ALL {
        if before.get(k).is_some() || order.escalated.contains(&k) {
            continue;
        }
        if let (Some(met), Some(due)) = (order.met.get(k), order.deadlines.get(k))
            && met <= due
        {
            crate::reports::bump(conn, &day, crate::reports::metric::DEADLINE, "met", 1).await?;
        }
    }
    Ok(())
}

/// Writes the mutable columns of `order` (after a change) and bumps its version;
/// `before` is where the order counted before the change.
async fn save_order(
    conn: &mut AnyConnection,
    order: &WorkOrder,
    before: Placement,
) -> Result<(), StoreError> {
    recount(
        conn,
        Some(before),
        placement(order.department_id, order.state),
    )
    .await?;
    let (next_check, inbox_due) = watch(order);
    sqlx::query(
        "UPDATE work_orders SET state = $1, is_open = $2, reopen_count = $3, department_id = $4, assignee_id = $5, \
         complaint_cause = $6, updated_at = $7, first_response_due = $8, progress_due = $9, resolution_due = $10, \
         first_response_at = $11, progress_notice_at = $12, resolved_at = $13, closed_at = $14, escalated = $15, \
         next_check_at = $16, inbox_due = $17, last_reply = $18, last_reply_at = $19, version = version + 1 \
         WHERE id = $20",
    )
    .bind(order.state.code())
    .bind(i64::from(!workorder::is_final(order.state)))
    .bind(order.reopen_count)
    .bind(order.department_id)
    .bind(order.assignee_id)
    .bind(order.complaint_cause.map(|c| c.code()))
    .bind(ms(order.updated_at))
    .bind(order.deadlines.first_response.map(ms))
    .bind(order.deadlines.progress_notice.map(ms))
    .bind(order.deadlines.resolution.map(ms))
    .bind(order.met.first_response.map(ms))
    .bind(order.met.progress_notice.map(ms))
    .bind(order.met.resolution.map(ms))
    .bind(order.closed_at.map(ms))
    .bind(escalated_text(&order.escalated))
    .bind(next_check)
    .bind(inbox_due)
    .bind(order.last_reply.as_deref())
    .bind(order.last_reply_at.map(ms))
    .bind(order.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Every work-order kind, built-in first.
    pub async fn list_kinds(&self) -> Result<Vec<KindSpec>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, name, workflow, base_priority, builtin FROM work_order_kinds ORDER BY builtin DESC, code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(kind_from_row).collect()
    }

    /// Adds or changes a configurable kind. Built-in kinds keep their workflow.
    pub async fn save_kind(
        &self,
        actor: &Actor,
        kind: &KindSpec,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT builtin FROM work_order_kinds WHERE code = $1")
                .bind(&kind.code)
                .fetch_optional(&mut *tx)
                .await?;
        if existing == Some(1) {
            let current = load_kind(&mut tx, &kind.code).await?;
            if current.workflow.name != kind.workflow.name {
                return Err(StoreError::invalid(
                    "workflow",
                    Reason::builtin_keeps_workflow(),
                ));
            }
        }
        sqlx::query(
            "INSERT INTO work_order_kinds (code, name, workflow, base_priority, builtin) VALUES ($1, $2, $3, $4, 0) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, workflow = excluded.workflow, \
             base_priority = excluded.base_priority",
        )
        .bind(&kind.code)
        .bind(&kind.name)
        .bind(kind.workflow.name)
        .bind(i64::from(kind.base_priority))
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "work_order_kind.save",
                object_type: "work_order_kind",
                object_id: kind.code.clone(),
                detail: json!({ "name": kind.name, "workflow": kind.workflow.name, "base_priority": kind.base_priority }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn routing_rules(&self) -> Result<Vec<RoutingRule>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_routing(&mut conn).await
    }

    /// Replaces the routing rules. Unknown kinds and departments are refused.
    pub async fn set_routing_rules(
        &self,
        actor: &Actor,
        rules: &[RoutingRule],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM routing_rules")
            .execute(&mut *tx)
            .await?;
        for (i, r) in rules.iter().enumerate() {
            if let Some(kind) = &r.kind {
                load_kind(&mut tx, kind).await.map_err(|_| {
                    StoreError::invalid(&format!("rules[{i}].kind"), Reason::unknown_value(kind))
                })?;
            }
            sqlx::query(
                "INSERT INTO routing_rules (position, kind, category, service_area, department_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(i as i64)
            .bind(r.kind.as_deref())
            .bind(r.category.map(|c| c.code()))
            .bind(r.service_area.as_deref())
            .bind(r.department_id.0)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "routing_rules.set",
                object_type: "routing_rules",
                object_id: String::new(),
                detail: json!({ "rules": rules }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The deadline policies in force and their version (0: the shipped defaults).
    pub async fn sla_policies(&self) -> Result<(i64, Vec<SlaPolicy>), StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_policies(&mut conn).await
    }

    /// Replaces the deadline policies (validated by the caller). Orders keep the
    /// deadlines they were given; new orders get the new ones.
    pub async fn set_sla_policies(
        &self,
        actor: &Actor,
        policies: &[SlaPolicy],
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let (version, _) = load_policies(&mut tx).await?;
        let raw =
            serde_json::to_string(policies).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        sqlx::query(
            "INSERT INTO sla_policies (id, version, policies, updated_at, updated_by) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, policies = excluded.policies, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(version + 1)
        .bind(&raw)
        .bind(ms(now))
        .bind(actor.label())
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "sla_policies.set",
                object_type: "sla_policies",
                object_id: (version + 1).to_string(),
                detail: json!({ "policies": policies }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(version + 1)
    }

    /// Opens a work order: priority from kind, urgency and the customer's tier;
    /// department from the request or the routing rules; deadlines from the policy
    /// on the calendar. With `dispatch`, it goes to the department at once.
    pub async fn create_work_order(
        &self,
        actor: &Actor,
        new: &NewWorkOrder,
        ctx: &SlaContext,
        now: Timestamp,
    ) -> Result<WorkOrder, StoreError> {
        let mut tx = self.begin_write().await?;
        let kind = load_kind(&mut tx, &new.kind).await?;
        let mut customer_id = new.customer_id;
        let mut phone_key = new.phone_key.clone();
        if let Some(contact_id) = new.contact_id {
            let contact = crate::contacts::load_contact(&mut tx, contact_id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => StoreError::unknown("contact_id"),
                    other => other,
                })?;
            customer_id = customer_id.or(contact.customer_id);
            phone_key = phone_key.or(contact.phone_key);
        }
        let (tier_boost, mut service_area) = match customer_id {
            Some(id) => {
                let row = sqlx::query("SELECT tier, service_area FROM customers WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::unknown("customer_id"))?;
                let tier: String = row.try_get("tier")?;
                let rules = crate::tiers::current_rules(&mut tx).await?;
                let boost = rules.rules.tier(&tier).map_or(0, |t| t.priority_boost);
                if phone_key.is_none() {
                    phone_key = sqlx::query_scalar(
                        "SELECT phone_key FROM customer_phones WHERE customer_id = $1 ORDER BY position LIMIT 1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                }
                (boost, row.try_get::<Option<String>, _>("service_area")?)
            }
            None => (0, None),
        };
        if new.service_area.is_some() {
            service_area = new.service_area.clone();
        }
        let priority = workorder::priority(&kind, new.urgency, tier_boost);
        let department = match new.department_id {
            Some(d) => Some(d),
            None => workorder::route(
                &load_routing(&mut tx).await?,
                &kind.code,
                new.category,
                service_area.as_deref(),
            ),
        };
        let (policy_version, policies) = load_policies(&mut tx).await?;
        let deadlines = sla::policy_for(&policies, &kind.code, priority)
            .map(|p| sla::deadlines(p, now, &ctx.calendar, &ctx.tz))
            .unwrap_or_default();
        let placeholder = format!("tmp-{}", uuid_like(now));
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO work_orders (number, kind, workflow, state, is_open, priority, urgency, customer_id, contact_id, \
             phone_key, subject, description, category, service_area, department_id, assignee_id, complaint_cause, \
             complained_staff_id, created_by, created_at, updated_at, inbox_due) \
             VALUES ($1, $2, $3, 'new', 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19) \
             RETURNING id",
        )
        .bind(&placeholder)
        .bind(&kind.code)
        .bind(kind.workflow.name)
        .bind(i64::from(priority.level()))
        .bind(new.urgency.code())
        .bind(customer_id)
        .bind(new.contact_id)
        .bind(phone_key.as_deref())
        .bind(&new.subject)
        .bind(new.description.as_deref())
        .bind(new.category.map(|c| c.code()))
        .bind(service_area.as_deref())
        .bind(department.map(|d| d.0))
        .bind(new.assignee_id.map(|a| a.0))
        .bind(new.complaint_cause.map(|c| c.code()))
        .bind(new.complained_staff_id.map(|s| s.0))
        .bind(actor.label())
        .bind(ms(now))
        .bind(NO_DEADLINE)
        .fetch_one(&mut *tx)
        .await?;
        let date = now.to_zoned(ctx.tz.clone()).date();
        let number = format!("GD{}{id:07}", date.strftime("%Y%m%d"));
        sqlx::query("UPDATE work_orders SET number = $1 WHERE id = $2")
            .bind(&number)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut order = load_order(&mut tx, id, "").await?;
        order.deadlines = deadlines;
        let before = placement(order.department_id, order.state);
        recount(&mut tx, None, before).await?;
        insert_event(
            &mut tx,
            id,
            actor,
            "created",
            None,
            Some(State::New),
            "",
            json!({ "priority": priority.level(), "sla_policy_version": policy_version, "department_id": department.map(|d| d.0) }),
            now,
        )
        .await?;
        if new.dispatch {
            if department.is_none() {
                return Err(StoreError::invalid(
                    "department_id",
                    Reason::no_routing_rule(),
                ));
            }
            let (progress, event) = Progress::new()
                .apply(kind.workflow, Command::Dispatch, &actor.label(), "", now)
                .map_err(StoreError::Transition)?;
            order.state = progress.state;
            insert_event(
                &mut tx,
                id,
                actor,
                Command::Dispatch.code(),
                Some(event.from),
                Some(event.to),
                "",
                json!({}),
                now,
            )
            .await?;
        }
        save_order(&mut tx, &order, before).await?;
        if let Some(contact_id) = new.contact_id {
            sqlx::query(
                "UPDATE contacts SET outcome = 'work_order', outcome_work_order_id = $1, updated_at = $2, \
                 version = version + 1 WHERE id = $3",
            )
            .bind(id)
            .bind(ms(now))
            .bind(contact_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM callbacks WHERE contact_id = $1 AND done_at IS NULL")
                .bind(contact_id)
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "work_order.create",
                object_type: "work_order",
                object_id: id.to_string(),
                detail: json!({ "number": number, "kind": kind.code, "customer_id": customer_id }),
            },
            now,
        )
        .await?;
        let order = load_order(&mut tx, id, "").await?;
        enqueue(&mut tx, "work_order.created", &webhook_payload(&order), now).await?;
        crate::indexing::work_order(&mut tx, self.backend(), id, now).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Applies a workflow command. Refusals (illegal in the current state, missing
    /// note or department, out of the caller's department) change nothing.
    pub async fn transition_work_order(
        &self,
        actor: &Actor,
        scope: Option<DepartmentId>,
        id: i64,
        req: &TransitionRequest,
        ctx: &SlaContext,
        now: Timestamp,
    ) -> Result<WorkOrder, StoreError> {
        let mut tx = self.begin_write().await?;
        let order = self
            .transition_in(&mut tx, actor, scope, id, req, ctx, now)
            .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// [`Store::transition_work_order`] inside the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn transition_in(
        &self,
        tx: &mut AnyConnection,
        actor: &Actor,
        scope: Option<DepartmentId>,
        id: i64,
        req: &TransitionRequest,
        ctx: &SlaContext,
        now: Timestamp,
    ) -> Result<WorkOrder, StoreError> {
        let mut order = load_order(tx, id, lock_clause(self.backend())).await?;
        check_scope(&order, scope)?;
        let before = placement(order.department_id, order.state);
        let met_before = order.met;
        if let Some(v) = req.expected_version
            && v != order.version
        {
            return Err(StoreError::Conflict(Reason::stale_version(order.version)));
        }
        let workflow = workflow_named(&order.workflow).ok_or_else(|| {
            StoreError::Unsupported(format!("unknown workflow '{}'", order.workflow))
        })?;
        let progress = Progress {
            state: order.state,
            reopen_count: u32::try_from(order.reopen_count).unwrap_or(0),
        };
        let (next, event) = progress
            .apply(workflow, req.command, &actor.label(), &req.note, now)
            .map_err(StoreError::Transition)?;
        if req.command.needs_note() && req.note.trim().is_empty() {
            return Err(StoreError::invalid(
                "note",
                Reason::needs_note(req.command.code()),
            ));
        }
        let mut detail = json!({});
        match req.command {
            Command::Transfer => {
                let to = req
                    .department_id
                    .ok_or_else(|| StoreError::invalid("department_id", Reason::required()))?;
                if order.department_id == Some(to.0) {
                    return Err(StoreError::invalid(
                        "department_id",
                        Reason::transfer_same_department(),
                    ));
                }
                detail =
                    json!({ "from_department_id": order.department_id, "to_department_id": to.0 });
                order.department_id = Some(to.0);
                order.assignee_id = None;
            }
            Command::Dispatch => {
                if let Some(d) = req.department_id {
                    order.department_id = Some(d.0);
                }
                if order.department_id.is_none() {
                    let rules = load_routing(tx).await?;
                    order.department_id = workorder::route(
                        &rules,
                        &order.kind,
                        order.category,
                        order.service_area.as_deref(),
                    )
                    .map(|d| d.0);
                }
                if order.department_id.is_none() {
                    return Err(StoreError::invalid(
                        "department_id",
                        Reason::no_routing_rule(),
                    ));
                }
                detail = json!({ "department_id": order.department_id });
            }
            Command::Accept => {
                order.assignee_id = req
                    .assignee_id
                    .map(|a| a.0)
                    .or(actor.staff_id().map(|s| s.0))
                    .or(order.assignee_id);
                detail = json!({ "assignee_id": order.assignee_id });
            }
            Command::RecordResult => {
                if let Some(cause) = req.complaint_cause {
                    order.complaint_cause = Some(cause);
                }
                detail = json!({ "complaint_cause": order.complaint_cause.map(|c| c.code()) });
            }
            _ => {}
        }
        if workorder::is_first_response(req.command) && order.met.first_response.is_none() {
            order.met.first_response = Some(now);
        }
        let was_resolved = workorder::is_resolved(workflow, order.state);
        let now_resolved = workorder::is_resolved(workflow, next.state);
        if now_resolved && !was_resolved {
            order.met.resolution = Some(now);
        }
        if was_resolved && !now_resolved {
            order.met.resolution = None;
            if req.command.reopens() {
                // A reopened order gets a fresh resolution target from now.
                let (_, policies) = load_policies(tx).await?;
                if let Some(target) = sla::policy_for(&policies, &order.kind, order.priority)
                    .and_then(|p| p.resolution)
                {
                    order.deadlines.resolution = sla::due(now, target, &ctx.calendar, &ctx.tz);
                    order.escalated.retain(|k| *k != DeadlineKind::Resolution);
                }
            }
        }
        if workorder::is_final(next.state) {
            order.closed_at = Some(now);
        }
        let from = order.state;
        order.state = next.state;
        order.reopen_count = i64::from(next.reopen_count);
        order.updated_at = now;
        save_order(tx, &order, before).await?;
        if req.command == Command::Approve && workflow.name == kefu_domain::workflow::COMPLAINT.name
        {
            // The satisfaction callback joins the call queue (S4 step 6).
            crate::campaigns::enqueue_complaint_callback(tx, &order, now).await?;
        }
        if matches!(
            req.command,
            Command::ConfirmSatisfied | Command::ReportUnsatisfied
        ) {
            // Called back (from the queue or the order page): the queued call is done.
            // A score given on the order page is recorded as the call's attempt, so
            // the campaign's report and the agent's figures count it.
            if let Some(score) = req.satisfaction {
                let pending = sqlx::query(
                    "SELECT id, campaign_id FROM campaign_targets WHERE work_order_id = $1 AND status = 'pending'",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                for target in &pending {
                    sqlx::query(
                        "INSERT INTO campaign_attempts (campaign_id, target_id, agent_id, result, at_ms, \
                         satisfaction, answers, notes) VALUES ($1, $2, $3, 'reached', $4, $5, '[]', $6)",
                    )
                    .bind(target.try_get::<i64, _>("campaign_id")?)
                    .bind(target.try_get::<i64, _>("id")?)
                    .bind(actor.staff_id().map(|s| s.0))
                    .bind(ms(now))
                    .bind(i64::from(score))
                    .bind(Some(&req.note).filter(|n| !n.is_empty()))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "UPDATE campaign_targets SET status = 'completed', locked_by = NULL, locked_until = NULL, \
                 completed_at = $1, updated_at = $1, satisfaction = COALESCE($3, satisfaction), \
                 last_result = CASE WHEN $3 IS NULL THEN last_result ELSE 'reached' END, \
                 attempts = CASE WHEN $3 IS NULL THEN attempts ELSE attempts + 1 END \
                 WHERE work_order_id = $2 AND status = 'pending'",
            )
            .bind(ms(now))
            .bind(id)
            .bind(req.satisfaction.map(i64::from))
            .execute(&mut *tx)
            .await?;
        }
        count_met(tx, &self.tz, &met_before, &order, now).await?;
        let day = crate::reports::day_key(&self.tz, now);
        match req.command {
            Command::ConfirmSatisfied | Command::ReportUnsatisfied => {
                let key = if req.command == Command::ConfirmSatisfied {
                    "satisfied"
                } else {
                    "unsatisfied"
                };
                crate::reports::bump(tx, &day, crate::reports::metric::SATISFACTION, key, 1)
                    .await?;
            }
            _ => {}
        }
        if req.command == Command::ConfirmSatisfied
            && workflow.name == kefu_domain::workflow::COMPLAINT.name
        {
            // The complaint file is archived: counted by its cause.
            let cause = order.complaint_cause.map_or("unclassified", |c| c.code());
            crate::reports::bump(tx, &day, crate::reports::metric::COMPLAINT_CAUSE, cause, 1)
                .await?;
        }
        insert_event(
            tx,
            id,
            actor,
            req.command.code(),
            Some(from),
            Some(event.to),
            &req.note,
            detail,
            now,
        )
        .await?;
        if matches!(
            req.command,
            Command::ConfirmSatisfied | Command::ReportUnsatisfied
        ) {
            // The satisfaction callback is a contact with the customer.
            insert_contact(
                tx,
                &self.tz,
                None,
                Direction::Outbound,
                Channel::Phone,
                order.phone_key.as_deref(),
                order.customer_id,
                actor.staff_id().map(|s| s.0),
                "ended",
                Some(now),
                Some(now),
                Some((id, "satisfaction_callback")),
                Some(&req.note)
                    .filter(|n| !n.is_empty())
                    .map(String::as_str),
                actor,
                now,
            )
            .await?;
        }
        append(
            tx,
            &AuditEntry {
                actor,
                action: "work_order.transition",
                object_type: "work_order",
                object_id: id.to_string(),
                detail: json!({ "command": req.command.code(), "from": from.code(), "to": order.state.code() }),
            },
            now,
        )
        .await?;
        let order = load_order(tx, id, "").await?;
        crate::indexing::work_order(tx, self.backend(), id, now).await?;
        enqueue(
            tx,
            "work_order.state_changed",
            &json!({ "work_order": webhook_payload(&order), "command": req.command.code(), "from": from.code() }),
            now,
        )
        .await?;
        Ok(order)
    }

    /// Records that the customer was told the progress (the 24-hour notice of a
    /// complaint): an outbound contact about the order, and the notice deadline met.
    pub async fn record_progress_notice(
        &self,
        actor: &Actor,
        scope: Option<DepartmentId>,
        id: i64,
        summary: &str,
        now: Timestamp,
    ) -> Result<(WorkOrder, i64), StoreError> {
        let mut tx = self.begin_write().await?;
        let mut order = load_order(&mut tx, id, lock_clause(self.backend())).await?;
        check_scope(&order, scope)?;
        if workorder::is_final(order.state) {
            return Err(StoreError::Conflict(Reason::no_progress_notice_due(
                order.state.code(),
            )));
        }
        let contact_id = insert_contact(
            &mut tx,
            &self.tz,
            None,
            Direction::Outbound,
            Channel::Phone,
            order.phone_key.as_deref(),
            order.customer_id,
            actor.staff_id().map(|s| s.0),
            "ended",
            Some(now),
            Some(now),
            Some((id, "progress_notice")),
            Some(summary),
            actor,
            now,
        )
        .await?;
        let met_before = order.met;
        if order.met.progress_notice.is_none() {
            order.met.progress_notice = Some(now);
        }
        count_met(&mut tx, &self.tz, &met_before, &order, now).await?;
        order.updated_at = now;
        save_order(&mut tx, &order, placement(order.department_id, order.state)).await?;
        insert_event(
            &mut tx,
            id,
            actor,
            "progress_notice",
            None,
            None,
            summary,
            json!({ "contact_id": contact_id }),
            now,
        )
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "work_order.progress_notice",
                object_type: "work_order",
                object_id: id.to_string(),
                detail: json!({ "contact_id": contact_id }),
            },
            now,
        )
        .await?;
        let order = load_order(&mut tx, id, "").await?;
        crate::indexing::work_order(&mut tx, self.backend(), id, now).await?;
        tx.commit().await?;
        Ok((order, contact_id))
    }

    /// Adds an internal note or a customer-visible reply.
    pub async fn add_work_order_note(
        &self,
        actor: &Actor,
        scope: Option<DepartmentId>,
        id: i64,
        visibility: NoteVisibility,
        body: &str,
        now: Timestamp,
    ) -> Result<WorkOrderNote, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut order = load_order(&mut tx, id, lock_clause(self.backend())).await?;
        check_scope(&order, scope)?;
        let note_id: i64 = sqlx::query_scalar(
            "INSERT INTO work_order_notes (work_order_id, visibility, body, author_id, author_label, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(id)
        .bind(visibility.code())
        .bind(body)
        .bind(actor.staff_id().map(|s| s.0))
        .bind(actor.label())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        if visibility == NoteVisibility::Customer {
            order.last_reply = Some(body.to_owned());
            order.last_reply_at = Some(now);
        }
        order.updated_at = now;
        let unchanged = placement(order.department_id, order.state);
        save_order(&mut tx, &order, unchanged).await?;
        let event = match visibility {
            NoteVisibility::Internal => "note",
            NoteVisibility::Customer => "reply",
        };
        insert_event(
            &mut tx,
            id,
            actor,
            event,
            None,
            None,
            body,
            json!({ "note_id": note_id }),
            now,
        )
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "work_order.note",
                object_type: "work_order",
                object_id: id.to_string(),
                detail: json!({ "note_id": note_id, "visibility": visibility.code() }),
            },
            now,
        )
        .await?;
        crate::indexing::work_order(&mut tx, self.backend(), id, now).await?;
        tx.commit().await?;
        Ok(WorkOrderNote {
            id: note_id,
            visibility: visibility.code().into(),
            body: body.into(),
            author: actor.label(),
            at: now,
        })
    }

    /// One order, if the caller's scope includes it. The read is audited (the detail
    /// carries the customer's number) before the record is returned.
    pub async fn get_work_order(
        &self,
        actor: &Actor,
        scope: Option<DepartmentId>,
        id: i64,
        now: Timestamp,
    ) -> Result<WorkOrder, StoreError> {
        let order = {
            let mut conn = self.pool.acquire().await?;
            load_order(&mut conn, id, "").await?
        };
        check_scope(&order, scope)?;
        self.record_audit(
            &AuditEntry {
                actor,
                action: "work_order.read",
                object_type: "work_order",
                object_id: id.to_string(),
                detail: json!({ "number": order.number, "customer_id": order.customer_id }),
            },
            now,
        )
        .await?;
        Ok(order)
    }

    /// An order's history, oldest first.
    pub async fn work_order_events(&self, id: i64) -> Result<Vec<WorkOrderEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, actor_label, event, from_state, to_state, note, detail FROM work_order_events \
             WHERE work_order_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(WorkOrderEvent {
                    id: r.try_get("id")?,
                    at: from_ms(r.try_get("at_ms")?),
                    actor: r.try_get("actor_label")?,
                    event: r.try_get("event")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    note: r.try_get("note")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    pub async fn work_order_notes(&self, id: i64) -> Result<Vec<WorkOrderNote>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, visibility, body, author_label, at_ms FROM work_order_notes WHERE work_order_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkOrderNote {
                    id: r.try_get("id")?,
                    visibility: r.try_get("visibility")?,
                    body: r.try_get("body")?,
                    author: r.try_get("author_label")?,
                    at: from_ms(r.try_get("at_ms")?),
                })
            })
            .collect()
    }

    /// A page of orders. Open orders sort by their nearest unmet deadline (the inbox
    /// order); with `open_only` false, newest first.
    pub async fn list_work_orders(
        &self,
        scope: Option<DepartmentId>,
        filter: &WorkOrderFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<WorkOrder>, StoreError> {
        let mut c = crate::Conditions::default();
        if let Some(s) = filter.state {
            c.text(s.code(), |p| format!("w.state = {p}"));
        }
        if let Some(k) = &filter.kind {
            c.text(k, |p| format!("w.kind = {p}"));
        }
        if let Some(t) = &filter.tier {
            c.text(t, |p| {
                format!("w.customer_id IN (SELECT id FROM customers WHERE tier = {p})")
            });
        }
        let open_only =
            filter.open_only || filter.breached.is_some() || filter.due_within.is_some();
        if let Some(d) = scope.or(filter.department_id) {
            c.int(d.0, |p| format!("w.department_id = {p}"));
        }
        if let Some(id) = filter.customer_id {
            c.int(id, |p| format!("w.customer_id = {p}"));
        }
        match filter.breached {
            Some(true) => c.int(ms(now), |p| format!("w.inbox_due < {p}")),
            Some(false) => c.int(ms(now), |p| format!("w.inbox_due >= {p}")),
            None => {}
        }
        if let Some(within) = filter.due_within {
            let limit = now.checked_add(within).unwrap_or(now);
            c.int(ms(limit), |p| format!("w.inbox_due <= {p}"));
        }
        if open_only {
            c.push("w.is_open = 1");
        }
        if let (Some(a), Some(b)) = (scope, filter.department_id)
            && a != b
        {
            // A handler asking for another department's orders sees none.
            c.push("1 = 0");
        }
        let filter_sql = c.where_sql();
        let order = if open_only {
            "w.inbox_due, w.id"
        } else {
            "w.created_at DESC, w.id DESC"
        };
        let mut conn = self.pool.acquire().await?;
        // An inbox (open orders of one department, nothing else filtered) has its
        // size kept as a running count; other lists are counted up to 10 001.
        let inbox = filter.open_only
            && filter.breached.is_none()
            && filter.due_within.is_none()
            && filter.state.is_none()
            && filter.kind.is_none()
            && filter.customer_id.is_none()
            && filter.tier.is_none();
        let inbox_department = match (scope, filter.department_id) {
            (Some(a), Some(b)) if a != b => None,
            (a, b) => a.or(b),
        };
        let total = match inbox_department.filter(|_| inbox) {
            Some(d) => sqlx::query_scalar::<_, i64>(
                "SELECT open_orders FROM work_order_open_counts WHERE department_id = $1",
            )
            .bind(d.0)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(0),
            None => {
                c.bind_scalar(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM work_orders w{filter_sql} LIMIT 10001) counted"
                ))))
                .fetch_one(&mut *conn)
                .await?
            }
        };
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("w.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let items = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {cols} FROM work_orders w{filter_sql} ORDER BY {order} LIMIT {} OFFSET {}",
                page.limit, page.offset
            ))))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(order_from_row)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total: if inbox { total } else { total.min(10_000) },
            total_exact: inbox || total <= 10_000,
            offset: page.offset,
            limit: page.limit,
        })
    }

    /// One batch of the escalation sweep: orders whose next deadline has passed are
    /// locked (skipping those another instance holds), their new breaches escalated
    /// once each (the unique key on escalations makes a second insert a no-op), and
    /// their next check moved on. Returns the escalations made; call again until it
    /// returns fewer orders than `batch`.
    pub async fn escalate_due(
        &self,
        now: Timestamp,
        batch: i64,
    ) -> Result<(usize, Vec<Escalation>), StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM work_orders WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT {batch}{lock}"
        )))
        .bind(ms(now))
        .fetch_all(&mut *tx)
        .await?;
        let n = rows.len();
        let system = Actor::System("deadline-sweep".into());
        let mut made = Vec::new();
        for row in &rows {
            let mut order = order_from_row(row)?;
            let fresh = sla::new_breaches(&order.deadlines, &order.met, &order.escalated, now);
            for kind in fresh {
                let due = order.deadlines.get(kind).unwrap_or(now);
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO escalations (work_order_id, deadline, due_at, escalated_at, department_id) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (work_order_id, deadline, due_at) DO NOTHING RETURNING id",
                )
                .bind(order.id)
                .bind(kind.code())
                .bind(ms(due))
                .bind(ms(now))
                .bind(order.department_id)
                .fetch_optional(&mut *tx)
                .await?;
                order.escalated.push(kind);
                if let Some(esc_id) = inserted {
                    crate::reports::bump(
                        &mut tx,
                        &crate::reports::day_key(&self.tz, now),
                        crate::reports::metric::DEADLINE,
                        "breached",
                        1,
                    )
                    .await?;
                    insert_event(
                        &mut tx,
                        order.id,
                        &system,
                        "escalated",
                        None,
                        None,
                        kind.label_zh(),
                        json!({ "deadline": kind.code(), "due_at": due.to_string(), "escalation_id": esc_id }),
                        now,
                    )
                    .await?;
                    enqueue(
                        &mut tx,
                        "work_order.deadline_breached",
                        &json!({ "work_order": webhook_payload(&order), "deadline": kind.code(), "due_at": due.to_string() }),
                        now,
                    )
                    .await?;
                    made.push(Escalation {
                        id: esc_id,
                        work_order_id: order.id,
                        number: order.number.clone(),
                        subject: order.subject.clone(),
                        state: order.state,
                        deadline: kind,
                        due_at: due,
                        escalated_at: now,
                        department_id: order.department_id,
                        acknowledged_at: None,
                        acknowledged_by: None,
                        note: None,
                    });
                }
            }
            let (next, inbox) = watch(&order);
            sqlx::query("UPDATE work_orders SET escalated = $1, next_check_at = $2, inbox_due = $3 WHERE id = $4")
                .bind(escalated_text(&order.escalated))
                .bind(next)
                .bind(inbox)
                .bind(order.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((n, made))
    }

    /// Escalations, newest first; `open_only`: not yet acknowledged by a manager.
    pub async fn list_escalations(
        &self,
        open_only: bool,
        page: PageRequest,
    ) -> Result<Vec<Escalation>, StoreError> {
        let filter = if open_only {
            " WHERE e.acknowledged_at IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT e.id, e.work_order_id, w.number, w.subject, w.state, e.deadline, e.due_at, e.escalated_at, \
             e.department_id, e.acknowledged_at, e.acknowledged_by, e.acknowledge_note FROM (SELECT * FROM escalations e{filter} \
             ORDER BY e.escalated_at DESC, e.id DESC LIMIT {} OFFSET {}) e JOIN work_orders w ON w.id = e.work_order_id \
             ORDER BY e.escalated_at DESC, e.id DESC",
            page.limit, page.offset
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let deadline: String = r.try_get("deadline")?;
                let state: String = r.try_get("state")?;
                Ok(Escalation {
                    id: r.try_get("id")?,
                    work_order_id: r.try_get("work_order_id")?,
                    number: r.try_get("number")?,
                    subject: r.try_get("subject")?,
                    state: State::parse(&state).ok_or_else(|| bad("state", &state))?,
                    deadline: DeadlineKind::parse(&deadline)
                        .ok_or_else(|| bad("deadline", &deadline))?,
                    due_at: from_ms(r.try_get("due_at")?),
                    escalated_at: from_ms(r.try_get("escalated_at")?),
                    department_id: r.try_get("department_id")?,
                    acknowledged_at: r.try_get::<Option<i64>, _>("acknowledged_at")?.map(from_ms),
                    acknowledged_by: r.try_get("acknowledged_by")?,
                    note: r.try_get("acknowledge_note")?,
                })
            })
            .collect()
    }

    /// Escalations not yet acknowledged, counted up to `cap`.
    pub async fn count_open_escalations(&self, cap: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM escalations WHERE acknowledged_at IS NULL LIMIT {}) open",
            cap.max(1)
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Marks an escalation seen by a manager, with what they did about it.
    pub async fn acknowledge_escalation(
        &self,
        actor: &Actor,
        id: i64,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE escalations SET acknowledged_at = $1, acknowledged_by = $2, acknowledge_note = $3 \
             WHERE id = $4 AND acknowledged_at IS NULL",
        )
        .bind(ms(now))
        .bind(actor.label())
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM escalations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict(Reason::already_done()),
                None => StoreError::NotFound,
            });
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "escalation.acknowledge",
                object_type: "escalation",
                object_id: id.to_string(),
                detail: json!({ "note": note }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The self-service view of an order by its number (no authentication: the
    /// caller checks the phone digits and the rate limits).
    pub async fn public_status(&self, number: &str) -> Result<Option<PublicStatus>, StoreError> {
        let row = sqlx::query(
            "SELECT w.number, k.name, w.state, w.last_reply, w.last_reply_at, w.updated_at, w.phone_key \
             FROM work_orders w JOIN work_order_kinds k ON k.code = w.kind WHERE w.number = $1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.try_get("state")?;
        Ok(Some(PublicStatus {
            number: row.try_get("number")?,
            kind_name: row.try_get("name")?,
            state: State::parse(&state).ok_or_else(|| bad("state", &state))?,
            last_reply: row.try_get("last_reply")?,
            last_reply_at: row.try_get::<Option<i64>, _>("last_reply_at")?.map(from_ms),
            updated_at: from_ms(row.try_get("updated_at")?),
            phone_key: row.try_get("phone_key")?,
        }))
    }

    /// Counts one hit in a fixed window for `bucket`; returns the hits in the current
    /// window including this one. Shared by every server instance on the database.
    pub async fn rate_limit_hit(
        &self,
        bucket: &str,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let window_ms = window.as_millis().max(1) as i64;
        let start = ms(now) - ms(now).rem_euclid(window_ms);
        let mut tx = self.begin_write().await?;
        let hits: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END, \
             window_start = excluded.window_start RETURNING hits",
        )
        .bind(bucket)
        .bind(start)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(hits)
    }

    /// Open orders of a customer and the latest contacts, for the screen pop.
    pub async fn customer_open_orders(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<WorkOrder>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM work_orders WHERE customer_id = $1 AND is_open = 1 ORDER BY created_at DESC LIMIT {limit}"
        )))
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(order_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn count_work_orders(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM work_orders")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// A unique placeholder for the number column until the id is known.
fn uuid_like(now: Timestamp) -> String {
    use rand::Rng;
    format!("{}-{:016x}", ms(now), rand::rng().random::<u64>())
}

/// A work order written in bulk (demo data and migrations from other systems):
/// every column as it should be stored, history not included.
#[derive(Debug, Clone)]
pub struct BulkWorkOrder {
    pub kind: String,
    pub workflow: &'static str,
    pub state: State,
    pub priority: Priority,
    pub urgency: Urgency,
    pub customer_id: Option<i64>,
    pub phone_key: Option<String>,
    pub subject: String,
    pub category: Option<Category>,
    pub service_area: Option<String>,
    pub department_id: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deadlines: Deadlines,
    pub met: Met,
    /// Deadlines already breached and reported (as a running center would have).
    pub escalated: Vec<DeadlineKind>,
    pub closed_at: Option<Timestamp>,
    pub reopen_count: i64,
    /// Who opened it (a staff number); none: the loading actor.
    pub created_by: Option<String>,
}

const BULK_COLUMNS: [&str; 29] = [
    "id",
    "number",
    "kind",
    "workflow",
    "state",
    "is_open",
    "reopen_count",
    "priority",
    "urgency",
    "customer_id",
    "phone_key",
    "subject",
    "category",
    "service_area",
    "department_id",
    "created_by",
    "created_at",
    "updated_at",
    "first_response_due",
    "progress_due",
    "resolution_due",
    "first_response_at",
    "progress_notice_at",
    "resolved_at",
    "closed_at",
    "escalated",
    "next_check_at",
    "inbox_due",
    "version",
];

impl Store {
    /// Inserts orders in bulk with consecutive ids after the largest existing one,
    /// numbered like orders opened one by one. One transaction; no history rows.
    pub async fn insert_work_orders_bulk(
        &self,
        actor: &Actor,
        rows: &[BulkWorkOrder],
        tz: &TimeZone,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        const CHUNK: usize = 500;
        let mut tx = self.begin_write().await?;
        let mut next_id: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM work_orders")
                .fetch_one(&mut *tx)
                .await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO work_orders ({}) VALUES {}",
                BULK_COLUMNS.join(", "),
                crate::customers::values_placeholders(
                    self.backend(),
                    chunk.len(),
                    BULK_COLUMNS.len()
                )
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let mut docs = Vec::with_capacity(chunk.len());
            for r in chunk {
                let id = next_id;
                next_id += 1;
                let date = r.created_at.to_zoned(tz.clone()).date();
                let number = format!("GD{}{id:07}", date.strftime("%Y%m%d"));
                docs.push(crate::search::NewDoc {
                    doc_id: id,
                    title: format!("{number} {}", r.subject),
                    body: String::new(),
                    hidden: r.phone_key.clone().unwrap_or_default(),
                    meta: crate::search::DocMeta {
                        state: Some(r.state.code()),
                        department_id: r.department_id,
                        customer_id: r.customer_id,
                        at: Some(ms(r.created_at)),
                    },
                });
                let view = WorkOrder {
                    id,
                    number: String::new(),
                    kind: r.kind.clone(),
                    workflow: r.workflow.to_owned(),
                    state: r.state,
                    reopen_count: r.reopen_count,
                    priority: r.priority,
                    urgency: r.urgency,
                    customer_id: r.customer_id,
                    contact_id: None,
                    phone_key: None,
                    subject: String::new(),
                    description: None,
                    category: None,
                    service_area: None,
                    department_id: r.department_id,
                    assignee_id: None,
                    complaint_cause: None,
                    complained_staff_id: None,
                    created_by: String::new(),
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    deadlines: r.deadlines,
                    met: r.met,
                    escalated: r.escalated.clone(),
                    closed_at: r.closed_at,
                    last_reply: None,
                    last_reply_at: None,
                    version: 1,
                };
                let (next_check, inbox_due) = watch(&view);
                q = q
                    .bind(id)
                    .bind(number)
                    .bind(r.kind.clone())
                    .bind(r.workflow)
                    .bind(r.state.code())
                    .bind(i64::from(!workorder::is_final(r.state)))
                    .bind(r.reopen_count)
                    .bind(i64::from(r.priority.level()))
                    .bind(r.urgency.code())
                    .bind(r.customer_id)
                    .bind(r.phone_key.clone())
                    .bind(r.subject.clone())
                    .bind(r.category.map(|c| c.code()))
                    .bind(r.service_area.clone())
                    .bind(r.department_id)
                    .bind(r.created_by.clone().unwrap_or_else(|| actor.label()))
                    .bind(ms(r.created_at))
                    .bind(ms(r.updated_at))
                    .bind(r.deadlines.first_response.map(ms))
                    .bind(r.deadlines.progress_notice.map(ms))
                    .bind(r.deadlines.resolution.map(ms))
                    .bind(r.met.first_response.map(ms))
                    .bind(r.met.progress_notice.map(ms))
                    .bind(r.met.resolution.map(ms))
                    .bind(r.closed_at.map(ms))
                    .bind(escalated_text(&r.escalated))
                    .bind(next_check)
                    .bind(inbox_due)
                    .bind(1i64);
            }
            q.execute(&mut *tx).await?;
            crate::search::index_documents_bulk(
                &mut tx,
                self.backend(),
                crate::indexing::WORK_ORDER,
                &docs,
                now,
            )
            .await?;
        }
        let mut opened: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
        for r in rows.iter().filter(|r| !workorder::is_final(r.state)) {
            *opened.entry(r.department_id.unwrap_or(0)).or_default() += 1;
        }
        for (department, n) in opened {
            adjust_open(&mut tx, department, n).await?;
        }
        let mut by_state: std::collections::BTreeMap<(i64, &str), i64> =
            std::collections::BTreeMap::new();
        for r in rows {
            *by_state
                .entry((r.department_id.unwrap_or(0), r.state.code()))
                .or_default() += 1;
        }
        for ((department, state), n) in by_state {
            sqlx::query(
                "INSERT INTO work_order_state_counts (department_id, state, n) VALUES ($1, $2, $3) \
                 ON CONFLICT (department_id, state) DO UPDATE SET n = work_order_state_counts.n + excluded.n",
            )
            .bind(department)
            .bind(state)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        if self.backend() == Backend::Postgres {
            // Explicit ids do not advance the identity sequence.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('work_orders', 'id'), (SELECT MAX(id) FROM work_orders))",
            )
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "work_order.bulk_insert",
                object_type: "work_order",
                object_id: "*".into(),
                detail: json!({ "rows": rows.len() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// Customers for bulk work orders: (id, first phone key, service area, tier) of
    /// those among `ids` that exist.
    pub async fn customer_facts(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, Option<String>, Option<String>, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = crate::customers::numbered_list(1, ids.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.id, c.service_area, c.tier, (SELECT p.phone_key FROM customer_phones p WHERE p.customer_id = c.id \
             ORDER BY p.position LIMIT 1) AS phone_key FROM customers c WHERE c.id IN ({list})"
        )));
        for id in ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("phone_key")?,
                    r.try_get("service_area")?,
                    r.try_get("tier")?,
                ))
            })
            .collect()
    }

    /// The smallest and largest customer id.
    pub async fn customer_id_range(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query("SELECT MIN(id) AS lo, MAX(id) AS hi FROM customers")
            .fetch_one(&self.pool)
            .await?;
        let (lo, hi): (Option<i64>, Option<i64>) = (row.try_get("lo")?, row.try_get("hi")?);
        Ok(lo.zip(hi))
    }
}

impl Store {
    /// Forgets rate-limit windows that ended before `before`.
    pub async fn purge_rate_limits(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(ms(before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Open work orders in all, from the running counts.
    pub async fn count_open_work_orders(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(open_orders), 0) AS BIGINT) FROM work_order_open_counts",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Departments whose running count of open orders differs from a real count:
    /// (department, counted, recorded). Empty when the counts are right.
    pub async fn open_count_drift(&self) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(a.department_id, b.department_id) AS d, COALESCE(a.n, 0) AS counted, \
             COALESCE(b.open_orders, 0) AS recorded FROM \
             (SELECT COALESCE(department_id, 0) AS department_id, COUNT(*) AS n FROM work_orders WHERE is_open = 1 \
              GROUP BY COALESCE(department_id, 0)) a \
             FULL OUTER JOIN work_order_open_counts b ON a.department_id = b.department_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut drift = Vec::new();
        for r in &rows {
            let (d, counted, recorded): (i64, i64, i64) = (
                r.try_get("d")?,
                r.try_get("counted")?,
                r.try_get("recorded")?,
            );
            if counted != recorded {
                drift.push((d, counted, recorded));
            }
        }
        Ok(drift)
    }
}
