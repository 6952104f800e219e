//! Escalations as the deadline sweep made them over the demo's last week: the real
//! sweep run hour by hour, so each late order is escalated in the hour after its
//! deadline passed; the manager has acknowledged the older ones with a note.

use jiff::{SignedDuration, Timestamp};
use kefu_domain::audit::Actor;

use crate::{Store, StoreError};

/// What the demo manager wrote when acknowledging, in turn.
const NOTES: &[&str] = &[
    "已电话催办维修班组，承诺客户今天下班前上门。",
    "已与抄表收费部确认，退费审批今天完成，已告知客户。",
    "客户不在家，改约明天上午，已记录。",
    "配件到货延误，已向客户致歉并说明新的完成时间。",
    "已转由班长跟进，明早九点前回复客户。",
];

/// How many older escalations the demo manager has acknowledged at most.
const ACKNOWLEDGED_AT_MOST: usize = 300;

/// Runs the sweep hourly over the week before `now` (then at `now`), and has the
/// manager acknowledge escalations older than two days. Returns how many were made.
/// Run again, it makes none: each breach is escalated once.
pub async fn seed_escalations(store: &Store, now: Timestamp) -> Result<usize, StoreError> {
    const BATCH: i64 = 500;
    let mut made = Vec::new();
    let mut at = now
        .checked_sub(SignedDuration::from_hours(7 * 24))
        .unwrap_or(now);
    loop {
        loop {
            let (n, escalations) = store.escalate_due(at, BATCH).await?;
            made.extend(escalations);
            if (n as i64) < BATCH {
                break;
            }
        }
        if at >= now {
            break;
        }
        at = at
            .checked_add(SignedDuration::from_hours(1))
            .unwrap_or(now)
            .min(now);
    }
    let Some(manager) = store.staff_by_number("manager").await? else {
        return Ok(made.len());
    };
    let actor = Actor::Staff {
        id: manager.id,
        staff_no: manager.staff_no,
    };
    let old = now
        .checked_sub(SignedDuration::from_hours(48))
        .unwrap_or(now);
    // The most recent of the older ones (a large dataset escalates tens of
    // thousands; a manager's desk shows the last few hundred handled).
    let older: Vec<_> = made.iter().filter(|e| e.escalated_at < old).collect();
    let skip = older.len().saturating_sub(ACKNOWLEDGED_AT_MOST);
    for (i, e) in older.into_iter().skip(skip).enumerate() {
        // Seen within a few hours of the escalation.
        let seen = e
            .escalated_at
            .checked_add(SignedDuration::from_mins(40 + 37 * (i as i64 % 7)))
            .unwrap_or(e.escalated_at);
        store
            .acknowledge_escalation(&actor, e.id, Some(NOTES[i % NOTES.len()]), seen)
            .await?;
    }
    Ok(made.len())
}
