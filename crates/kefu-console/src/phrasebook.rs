//! The service standard in the console (S7): the phrasebook in force — greetings,
//! the phrase for each moment, the words inspection looks for, the forbidden
//! expressions with their alternatives — and the inspection rules. Agents read it;
//! quality managers edit it, each save a new version (checked whole by the API).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::inspection::RULES;
use kefu_domain::phrasebook::{CATEGORIES, GREETINGS, MARKERS, SITUATIONS};
use serde_json::Value;

use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;

/// Thresholds of the rules, as the form shows them.
const THRESHOLDS: [&str; 11] = [
    "answer_within_secs",
    "hold_apology_after_secs",
    "silence_secs",
    "rate_min",
    "rate_max",
    "rate_tolerance",
    "rate_min_turn_secs",
    "read_back_min_digits",
    "planned_secs",
    "planned_tolerance_secs",
    "pass_score",
];

struct Line {
    key: &'static str,
    label: String,
    value: String,
}

struct ForbiddenRow {
    id: String,
    pattern: bool,
    expression: String,
    category: String,
    alternative: String,
    allow: String,
}

struct RuleRow {
    rule: &'static str,
    label: String,
    enabled: bool,
    points: u64,
}

#[derive(Template)]
#[template(path = "phrasebook.html")]
struct PhrasebookPage {
    chrome: Chrome,
    t: &'static Catalog,
    may_edit: bool,
    version: u32,
    greetings: Vec<Line>,
    phrases: Vec<Line>,
    markers: Vec<Line>,
    forbidden: Vec<ForbiddenRow>,
    categories: Vec<(&'static str, String)>,
    rules_version: i64,
    rules: Vec<RuleRow>,
    thresholds: Vec<Line>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Words of a list, as the form edits them: separated by 、.
fn words(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join("、"))
        .unwrap_or_default()
}

fn lines(
    t: &Catalog,
    section: &Value,
    keys: &[&'static str],
    label: &str,
    list: bool,
) -> Vec<Line> {
    keys.iter()
        .map(|k| Line {
            key: k,
            label: t.s(&format!("phrasebook.{label}_{k}")).to_owned(),
            value: if list {
                words(&section[*k])
            } else {
                text(&section[*k])
            },
        })
        .collect()
}

/// `/console/phrasebook`.
pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::PhrasebookRead) {
        return r;
    }
    let t = viewer.t;
    let (book, (rules_version, rules)) =
        match tokio::try_join!(state.store.phrasebook(), state.store.inspection_rules()) {
            Ok(both) => both,
            Err(e) => return viewer.failure(e),
        };
    let edition = book.to_json();
    let rules_json = serde_json::to_value(&rules).unwrap_or(Value::Null);
    let forbidden = edition["forbidden"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|f| ForbiddenRow {
                    id: text(&f["id"]),
                    pattern: f["pattern"].is_string(),
                    expression: if f["pattern"].is_string() {
                        text(&f["pattern"])
                    } else {
                        text(&f["text"])
                    },
                    category: text(&f["category"]),
                    alternative: text(&f["alternative"]),
                    allow: words(&f["allow"]),
                })
                .collect()
        })
        .unwrap_or_default();
    render(&PhrasebookPage {
        chrome: viewer.chrome("phrasebook", t.s("phrasebook.title")),
        t,
        may_edit: viewer.may(Permission::PhrasebookManage),
        version: book.version,
        greetings: lines(t, &edition["greetings"], &GREETINGS, "part", false),
        phrases: lines(t, &edition["phrases"], &SITUATIONS, "situation", false),
        markers: lines(t, &edition["markers"], &MARKERS, "marker", true),
        forbidden,
        categories: CATEGORIES
            .iter()
            .map(|c| (*c, t.s(&format!("phrasebook.category_{c}")).to_owned()))
            .collect(),
        rules_version,
        rules: RULES
            .iter()
            .map(|r| RuleRow {
                rule: r,
                label: t.s(&format!("inspection.rule_{r}")).to_owned(),
                enabled: rules_json["rules"][*r]["enabled"].as_bool().unwrap_or(true),
                points: rules_json["rules"][*r]["points"].as_u64().unwrap_or(0),
            })
            .collect(),
        thresholds: lines(t, &rules_json, &THRESHOLDS, "threshold", false),
    })
}
