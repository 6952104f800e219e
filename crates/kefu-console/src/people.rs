//! People as the console names them: "张敏（KF1001）", never an id or a bare staff
//! number; the system's own actors (the deadline sweep, the telephony bridge) in
//! words.

use std::collections::HashMap;

use kefu_i18n::Catalog;
use kefu_server::AppState;

/// "张敏（KF1001）".
pub(crate) fn person(name: &str, staff_no: &str) -> String {
    format!("{name}（{staff_no}）")
}

/// The staff member with `id` among `staff` as people name them; someone no
/// longer listed (or no one) as "a removed account".
pub(crate) fn staff_name(
    t: &Catalog,
    staff: &[kefu_store::staff::StaffMember],
    id: Option<i64>,
) -> String {
    id.and_then(|id| staff.iter().find(|m| m.id.0 == id))
        .map_or_else(
            || t.s("actor.someone").to_owned(),
            |m| person(&m.name, &m.staff_no),
        )
}

/// Actors by the label records carry (a staff number, or `system:<what>`).
pub(crate) struct Names(HashMap<String, String>);

impl Names {
    /// Looks up the staff numbers among `labels` (each once). The labels are
    /// collected first, so no borrowing iterator lives across the lookups.
    pub(crate) async fn of(state: &AppState, labels: Vec<String>) -> Names {
        let mut names = HashMap::new();
        for label in labels {
            if label.starts_with("system:") || names.contains_key(&label) {
                continue;
            }
            match state.store.staff_by_number(&label).await {
                Ok(Some(m)) => {
                    let name = person(&m.name, &m.staff_no);
                    names.insert(label, name);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "staff name unreadable"),
            }
        }
        Names(names)
    }

    /// The actor in words: the person's name and number, the system's part by
    /// name, else "someone" (an account since removed).
    pub(crate) fn say(&self, t: &Catalog, label: &str) -> String {
        if let Some(name) = self.0.get(label) {
            return name.clone();
        }
        match label.strip_prefix("system:") {
            Some(what) => {
                let key = format!("actor.{}", what.replace('-', "_"));
                if t.has(&key) {
                    t.s(&key).to_owned()
                } else {
                    t.s("actor.system").to_owned()
                }
            }
            None => t.s("actor.someone").to_owned(),
        }
    }
}
