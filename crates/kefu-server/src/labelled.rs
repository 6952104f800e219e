//! Tables labelled in the caller's language for the CSV/XLSX downloads the API
//! serves (the 回访报告表, the target list), shared with the console's pages.

use jiff::tz::TimeZone;
use kefu_domain::campaign::Purpose;
use kefu_domain::survey::{Satisfaction, percent};
use kefu_i18n::Catalog;
use kefu_store::campaign_reports::{CampaignReport, TargetOutcome};

pub fn purpose_label(t: &Catalog, code: &str) -> String {
    match Purpose::parse(code) {
        Some(p) => t.s(&format!("purpose.{}", p.code())).to_owned(),
        None => code.to_owned(),
    }
}

pub fn status_label(t: &Catalog, code: &str) -> String {
    t.s(&format!("target_status.{code}")).to_owned()
}

pub fn result_label(t: &Catalog, code: &str) -> String {
    t.s(&format!("attempt_result.{code}")).to_owned()
}

pub fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

pub fn avg(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
}

/// The report as one table: section, item, count, share or value.
pub fn report_table(t: &Catalog, r: &CampaignReport) -> (Vec<String>, Vec<Vec<String>>) {
    let head = [
        "report.section",
        "report.item",
        "report.count",
        "report.value",
    ]
    .iter()
    .map(|k| t.s(k).to_owned())
    .collect();
    let mut rows = Vec::new();
    let mut row = |section: &str, item: String, count: String, value: String| {
        rows.push(vec![t.s(section).to_owned(), item, count, value]);
    };
    let targets = u64::try_from(r.targets).unwrap_or(0);
    row(
        "report.overview",
        t.s("report.targets").into(),
        r.targets.to_string(),
        String::new(),
    );
    row(
        "report.overview",
        t.s("report.called").into(),
        r.called.to_string(),
        pct(percent(u64::try_from(r.called).unwrap_or(0), targets)),
    );
    row(
        "report.overview",
        t.s("report.reached").into(),
        r.reached.to_string(),
        pct(r.reach_rate),
    );
    row(
        "report.overview",
        t.s("report.completion").into(),
        String::new(),
        pct(r.completion_rate),
    );
    row(
        "report.overview",
        t.s("report.attempts").into(),
        r.attempts.to_string(),
        String::new(),
    );
    row(
        "report.overview",
        t.s("report.over_planned").into(),
        r.over_planned.to_string(),
        pct(percent(
            u64::try_from(r.over_planned).unwrap_or(0),
            u64::try_from(r.attempts).unwrap_or(0),
        )),
    );
    for (status, n) in &r.by_status {
        row(
            "report.by_status",
            status_label(t, status),
            n.to_string(),
            pct(percent(u64::try_from(*n).unwrap_or(0), targets)),
        );
    }
    for (result, n) in &r.by_result {
        row(
            "report.by_result",
            result_label(t, result),
            n.to_string(),
            pct(percent(
                u64::try_from(*n).unwrap_or(0),
                u64::try_from(r.attempts).unwrap_or(0),
            )),
        );
    }
    satisfaction_rows(t, &r.satisfaction, &mut |item, count, value| {
        row("report.satisfaction", item, count, value)
    });
    for q in &r.questions {
        let item = |extra: &str| format!("{} {}{extra}", q.id, q.text);
        row(
            "report.questions",
            item(""),
            q.answered.to_string(),
            String::new(),
        );
        if let Some(scale) = &q.scale {
            satisfaction_rows(t, scale, &mut |i, count, value| {
                row("report.questions", item(&format!(" · {i}")), count, value)
            });
        }
        for (option, n) in &q.options {
            row(
                "report.questions",
                item(&format!(" · {option}")),
                n.to_string(),
                pct(percent(*n, q.answered)),
            );
        }
        for text in &q.texts {
            row("report.questions", item(""), String::new(), text.clone());
        }
    }
    for a in &r.agents {
        let who = a.name.clone().unwrap_or_else(|| "—".into());
        row(
            "report.agents",
            format!("{who} · {}", t.s("report.attempts")),
            a.attempts.to_string(),
            String::new(),
        );
        row(
            "report.agents",
            format!("{who} · {}", t.s("report.reached")),
            a.reached.to_string(),
            pct(percent(
                u64::try_from(a.reached).unwrap_or(0),
                u64::try_from(a.attempts).unwrap_or(0),
            )),
        );
        row(
            "report.agents",
            format!("{who} · {}", t.s("report.average_seconds")),
            String::new(),
            a.average_seconds
                .map(|s| format!("{s:.0}"))
                .unwrap_or_default(),
        );
        row(
            "report.agents",
            format!("{who} · {}", t.s("report.satisfaction_average")),
            a.satisfaction.total().to_string(),
            avg(a.satisfaction.average()),
        );
    }
    for n in &r.notes {
        row(
            "report.notes",
            format!(
                "#{} {} · {}",
                n.position,
                n.customer_name.clone().unwrap_or_default(),
                n.agent_name.clone().unwrap_or_default()
            ),
            n.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
            n.notes.clone(),
        );
    }
    (head, rows)
}

fn satisfaction_rows(t: &Catalog, s: &Satisfaction, row: &mut dyn FnMut(String, String, String)) {
    for (i, n) in s.counts.iter().enumerate() {
        row(
            t.f("report.score", &[("n", &(i + 1).to_string())]),
            n.to_string(),
            pct(percent(*n, s.total())),
        );
    }
    row(
        t.s("report.satisfaction_average").into(),
        s.total().to_string(),
        avg(s.average()),
    );
}

pub fn outcome_headers(t: &Catalog) -> Vec<String> {
    [
        "targets.position",
        "targets.customer_code",
        "targets.customer_name",
        "targets.number",
        "targets.status",
        "targets.attempts",
        "targets.last_result",
        "targets.satisfaction",
        "targets.completed_at",
        "targets.notes",
    ]
    .iter()
    .map(|k| t.s(k).to_owned())
    .collect()
}

pub fn outcome_row(t: &Catalog, o: TargetOutcome, full: bool, tz: &TimeZone) -> Vec<String> {
    vec![
        o.position.to_string(),
        o.customer_code.unwrap_or_default(),
        o.customer_name.unwrap_or_default(),
        crate::routes::contacts::shown_number(o.phone_key.as_deref(), full).unwrap_or_default(),
        status_label(t, &o.status),
        o.attempts.to_string(),
        o.last_result
            .as_deref()
            .map(|r| result_label(t, r))
            .unwrap_or_default(),
        o.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
        o.completed_at
            .map(|at| crate::local_time(tz, at))
            .unwrap_or_default(),
        o.last_notes.unwrap_or_default(),
    ]
}
