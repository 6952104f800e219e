//! Quality inspection in the console (S7): the queue, and one inspection with the
//! transcript highlighted at each deduction, the items with their evidence and the
//! reviewer's form.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::inspection::{RULES, Verdict};
use kefu_domain::transcript::Speaker;
use kefu_store::inspections::InspectionFilter;
use serde::Deserialize;

use super::pages::local;
use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;

struct QueueRow {
    id: i64,
    agent: String,
    score: u32,
    passed: bool,
    deductions: usize,
    reviewed: bool,
    at: String,
}

#[derive(Template)]
#[template(path = "inspections.html")]
struct QueuePage {
    chrome: Chrome,
    t: &'static Catalog,
    rows: Vec<QueueRow>,
    failed_only: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct QueueQuery {
    show: Option<String>,
}

/// `/console/inspections`: failed and not yet reviewed first (or all).
pub(crate) async fn queue(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::InspectionRead) {
        return r;
    }
    let t = viewer.t;
    // Reviewers work the queue of failed, unreviewed calls; agents see all their
    // own calls' results.
    let reviewer = viewer.may(Permission::InspectionReview);
    let failed_only = match q.show.as_deref() {
        Some("all") => false,
        Some(_) => true,
        None => reviewer,
    };
    let filter = InspectionFilter {
        agent_id: (!reviewer).then_some(viewer.principal.staff.id.0),
        passed: failed_only.then_some(false),
        reviewed: failed_only.then_some(false),
        limit: 100,
        ..InspectionFilter::default()
    };
    let rows = match state.store.list_inspections(&filter).await {
        Ok(r) => r,
        Err(e) => return viewer.failure(e),
    };
    let staff = crate::active_staff(&state).await;
    let agent = |id: Option<i64>| crate::people::staff_name(t, &staff, id);
    render(&QueuePage {
        chrome: viewer.chrome("inspections", t.s("inspection.title")),
        t,
        failed_only,
        rows: rows
            .into_iter()
            .map(|i| QueueRow {
                id: i.id,
                agent: agent(i.agent_id),
                score: i.result.score,
                passed: i.result.passed,
                deductions: i.result.deductions().count(),
                reviewed: i.reviewed,
                at: local(&state, i.created_at),
            })
            .collect(),
    })
}

/// A piece of a turn's text, marked where a deduction points.
struct Segment {
    text: String,
    mark: Option<String>,
}

struct TurnRow {
    index: usize,
    agent: bool,
    at: String,
    segments: Vec<Segment>,
    flagged: bool,
    /// Rules whose evidence is the whole turn.
    why: String,
}

struct EvidenceRow {
    turn: String,
    text: String,
    suggestion: String,
}

struct ItemRow {
    rule: &'static str,
    label: String,
    verdict: &'static str,
    verdict_label: String,
    points: u32,
    note: String,
    evidence: Vec<EvidenceRow>,
    reviewable: bool,
}

#[derive(Template)]
#[template(path = "inspection.html")]
struct DetailPage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    /// For inspecting the call again (never shown).
    contact_id: i64,
    /// The call has a recording to play.
    recording: bool,
    agent: String,
    agent_id: Option<i64>,
    at: String,
    may_record_violation: bool,
    score: u32,
    final_score: u32,
    passed: bool,
    rate: String,
    items: Vec<ItemRow>,
    turns: Vec<TurnRow>,
    reviews: Vec<(String, String, String, u32, String)>,
    may_review: bool,
}

fn clock(ms: u64) -> String {
    format!("{:02}:{:02}", ms / 60_000, ms / 1000 % 60)
}

/// Splits `text` at the marked character ranges.
fn segments(text: &str, marks: &[(usize, usize, String)]) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    let mut marks: Vec<&(usize, usize, String)> = marks.iter().collect();
    marks.sort_by_key(|m| m.0);
    for (s, e, why) in marks {
        let (s, e) = ((*s).max(at).min(chars.len()), (*e).min(chars.len()));
        if s >= e {
            continue;
        }
        if s > at {
            out.push(Segment {
                text: chars[at..s].iter().collect(),
                mark: None,
            });
        }
        out.push(Segment {
            text: chars[s..e].iter().collect(),
            mark: Some(why.clone()),
        });
        at = e;
    }
    if at < chars.len() {
        out.push(Segment {
            text: chars[at..].iter().collect(),
            mark: None,
        });
    }
    out
}

/// `/console/inspections/{id}`.
pub(crate) async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::InspectionRead) {
        return r;
    }
    let t = viewer.t;
    let reviewer = viewer.may(Permission::InspectionReview);
    let inspection = match state.store.get_inspection(id).await {
        // Agents see their own calls' inspections only.
        Ok(i) if reviewer || i.agent_id == Some(viewer.principal.staff.id.0) => i,
        Ok(_) | Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let (reviews, transcript) = match (
        state.store.inspection_reviews(id).await,
        state.store.transcript(inspection.contact_id).await,
    ) {
        (Ok(r), Ok(tr)) => (r, tr),
        (Err(e), _) | (_, Err(e)) => return viewer.failure(e),
    };
    let result = &inspection.result;
    let rule_label = |rule: &str| t.s(&format!("inspection.rule_{rule}")).to_owned();
    let items = result
        .items
        .iter()
        .filter_map(|item| {
            let rule = RULES.iter().find(|r| **r == item.rule)?;
            let verdict = match item.verdict {
                Verdict::Pass => "pass",
                Verdict::Deduct => "deduct",
                Verdict::Skipped => "skipped",
            };
            Some(ItemRow {
                rule,
                label: rule_label(rule),
                verdict,
                verdict_label: t.s(&format!("inspection.verdict_{verdict}")).to_owned(),
                points: item.points,
                note: if item.reason.is_empty() {
                    String::new()
                } else {
                    let args: Vec<(&str, &str)> = item
                        .args
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    t.f(&format!("inspection.reason_{}", item.reason), &args)
                },
                evidence: item
                    .evidence
                    .iter()
                    .map(|e| EvidenceRow {
                        turn: e
                            .turn
                            .map(|i| t.f("inspection.turn_n", &[("n", (i + 1).to_string())]))
                            .unwrap_or_default(),
                        text: match e.span {
                            Some((s, end)) => e.text.chars().skip(s).take(end - s).collect(),
                            None => e.text.clone(),
                        },
                        suggestion: e.suggestion.clone().unwrap_or_default(),
                    })
                    .collect(),
                reviewable: item.verdict != Verdict::Skipped,
            })
        })
        .collect();
    // Marks per turn where the evidence names the characters; evidence about a
    // whole turn flags the turn with the rule.
    let mut marks: std::collections::HashMap<usize, Vec<(usize, usize, String)>> =
        std::collections::HashMap::new();
    let mut flags: std::collections::HashMap<usize, Vec<String>> = std::collections::HashMap::new();
    for item in result.deductions() {
        for e in &item.evidence {
            let Some(turn) = e.turn else { continue };
            let why = match &e.suggestion {
                Some(instead) => format!("{} → {instead}", rule_label(&item.rule)),
                None => rule_label(&item.rule),
            };
            match e.span {
                Some((s, end)) => marks.entry(turn).or_default().push((s, end, why)),
                None => flags.entry(turn).or_default().push(why),
            }
        }
    }
    let turns = transcript
        .map(|tr| {
            tr.turns
                .iter()
                .enumerate()
                .map(|(i, turn)| TurnRow {
                    index: i + 1,
                    agent: turn.speaker == Speaker::Agent,
                    at: clock(turn.start_ms),
                    segments: segments(&turn.text, marks.get(&i).map_or(&[], Vec::as_slice)),
                    flagged: marks.contains_key(&i) || flags.contains_key(&i),
                    why: flags.get(&i).map(|f| f.join("；")).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let staff = crate::active_staff(&state).await;
    let agent = crate::people::staff_name(t, &staff, inspection.agent_id);
    let at = local(&state, inspection.created_at);
    render(&DetailPage {
        chrome: viewer.chrome(
            "inspections",
            &t.f(
                "inspection.detail_title",
                &[("agent", agent.as_str()), ("at", at.as_str())],
            ),
        ),
        t,
        id,
        contact_id: inspection.contact_id,
        recording: state
            .store
            .has_recording(inspection.contact_id)
            .await
            .unwrap_or(false),
        agent,
        agent_id: inspection.agent_id,
        at,
        may_record_violation: !result.passed && viewer.may(Permission::ViolationManage),
        score: result.score,
        final_score: kefu_store::inspections::final_score(result, &reviews),
        passed: result.passed,
        rate: result.agent_rate.map(|r| r.to_string()).unwrap_or_default(),
        items,
        turns,
        reviews: reviews
            .iter()
            .map(|r| {
                (
                    local(&state, r.at),
                    r.reviewer.clone(),
                    rule_label(&r.rule),
                    r.points,
                    r.comment.clone().unwrap_or_default(),
                )
            })
            .collect(),
        may_review: reviewer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_split_the_text_by_characters() {
        let s = segments(
            "喂，你好，有什么事？",
            &[(0, 1, "a".into()), (6, 8, "b".into())],
        );
        let parts: Vec<(&str, bool)> = s
            .iter()
            .map(|g| (g.text.as_str(), g.mark.is_some()))
            .collect();
        assert_eq!(
            parts,
            vec![
                ("喂", true),
                ("，你好，有", false),
                ("什么", true),
                ("事？", false)
            ]
        );
        // Overlapping and out-of-range marks never panic.
        let s = segments("您好", &[(0, 5, "x".into()), (1, 2, "y".into())]);
        assert_eq!(s.len(), 1);
    }
}
