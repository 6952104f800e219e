//! Follow-up campaigns over HTTP, on both backends: validation, reproducible target
//! lists, calling windows at the queue, 16 agents pulling at once, attempts.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, code};
use jiff::{SignedDuration, Timestamp};
use kefu_domain::Role;
use kefu_domain::audit::Actor;
use kefu_domain::staff::{PersonName, StaffNo};
use kefu_store::backend_tests;
use kefu_store::staff::NewStaff;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    a_dialled_call_is_the_attempts_record,
    campaigns_are_validated_and_lists_reproducible,
    sixteen_agents_never_share_a_target,
    attempts_follow_the_windows_and_the_limits,
    complaint_callbacks_close_or_reopen_the_complaint,
    the_report_counts_what_was_recorded,
    targets_wait_for_their_preferred_times,
    campaign_calls_are_inspected_against_the_window_and_the_plan,
    managers_preview_pause_resume_and_close_campaigns,
);

/// Local Shanghai time as an instant.
fn local(s: &str) -> Timestamp {
    s.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

async fn app_with_customers(db: &TestDb, n: u64) -> TestApp {
    let app = TestApp::new(db).await;
    *app.clock.0.lock().unwrap() = local("2026-03-03T10:00");
    let now = app.state.clock.now();
    kefu_store::demo::generate_customers(&db.store, n, 7, app.state.today(), now, |_| {})
        .await
        .unwrap();
    app
}

fn campaign(selection: Value, max_attempts: u32) -> Value {
    json!({
        "campaign": {
            "name": "燃气安全回访", "purpose": "满意度调查", "script": "您好，这里是燃气客服中心，耽误您三分钟……",
            "questionnaire": [
                { "id": "q1", "text": "您对上门安检服务是否满意？", "kind": "scale" },
                { "id": "q2", "text": "您更愿意通过哪种方式缴费？", "kind": "choice", "options": ["营业厅", "网上", "银行代扣"] }
            ],
            "starts_at": "2026-03-01T08:00:00+08:00", "ends_at": "2026-03-31T22:00:00+08:00",
            "max_attempts": max_attempts, "retry_minutes": 120
        },
        "selection": selection
    })
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, c) = app.post("/api/v1/campaigns", Role::Manager, body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

async fn targets(app: &TestApp, id: i64) -> Vec<Value> {
    let (_, t) = app
        .get(
            &format!("/api/v1/campaigns/{id}/targets?limit=500"),
            Role::Manager,
        )
        .await;
    t.as_array().unwrap().clone()
}

async fn campaigns_are_validated_and_lists_reproducible(db: &TestDb) {
    let app = app_with_customers(db, 60).await;
    let a = create(
        &app,
        campaign(json!({ "mode": "random", "n": 12, "seed": 42 }), 3),
    )
    .await;
    let b = create(
        &app,
        campaign(json!({ "mode": "random", "n": 12, "seed": 42 }), 3),
    )
    .await;
    assert_eq!(
        (a["n_targets"].as_i64(), a["seed"].as_i64()),
        (Some(12), Some(42))
    );
    let ids = |t: Vec<Value>| {
        t.iter()
            .map(|x| x["customer_id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let list_a = ids(targets(&app, a["id"].as_i64().unwrap()).await);
    assert_eq!(list_a, ids(targets(&app, b["id"].as_i64().unwrap()).await));
    let c = create(
        &app,
        campaign(json!({ "mode": "random", "n": 12, "seed": 43 }), 3),
    )
    .await;
    assert_ne!(list_a, ids(targets(&app, c["id"].as_i64().unwrap()).await));
    // Segment filters combine with the mode; everyone matching "all" is listed.
    let vip = create(
        &app,
        campaign(json!({ "mode": "all", "segment": { "tier": "vip" } }), 3),
    )
    .await;
    let (_, all_vip) = app
        .get("/api/v1/customers?tier=vip&limit=500", Role::Manager)
        .await;
    assert_eq!(vip["n_targets"], all_vip["total"]);
    let audit = app.audit_rows().await;
    let (_, before) = app.get("/api/v1/campaigns", Role::Manager).await;
    for (body, field) in [
        (
            {
                let mut c = campaign(json!({ "mode": "all" }), 3);
                c["campaign"]["ends_at"] = json!("2026-02-01T08:00:00+08:00");
                c
            },
            "ends_at",
        ),
        (campaign(json!({ "mode": "all" }), 0), "max_attempts"),
        (
            {
                let mut c = campaign(json!({ "mode": "all" }), 3);
                c["campaign"]["questionnaire"] = json!([]);
                c
            },
            "questionnaire",
        ),
        (
            campaign(
                json!({ "mode": "all", "segment": { "tier": "nobody-has-this" } }),
                3,
            ),
            "selection",
        ),
        (campaign(json!({ "mode": "random" }), 3), "selection.n"),
        (campaign(json!({ "mode": "lottery" }), 3), "selection.mode"),
    ] {
        let (status, answer) = app.post("/api/v1/campaigns", Role::Manager, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let (_, after) = app.get("/api/v1/campaigns", Role::Manager).await;
    assert_eq!(before, after);
    assert_eq!(app.audit_rows().await, audit);
    let (status, _) = app
        .post(
            "/api/v1/campaigns",
            Role::Agent,
            campaign(json!({ "mode": "all" }), 3),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn sixteen_agents_never_share_a_target(db: &TestDb) {
    let app = app_with_customers(db, 80).await;
    let now = app.state.clock.now();
    let mut tokens = Vec::new();
    for i in 0..16 {
        let member = db
            .store
            .create_staff(
                &Actor::System("test".into()),
                &NewStaff {
                    staff_no: StaffNo::parse(&format!("HF{i:02}")).unwrap(),
                    name: PersonName::parse("回访员").unwrap(),
                    role: Role::Agent,
                    department_id: Some(app.department),
                    password_hash: "x".into(),
                    must_change_password: false,
                    signs_in: true,
                },
                now,
            )
            .await
            .unwrap();
        let secret = kefu_server::auth::new_secret(kefu_server::auth::TOKEN_PREFIX);
        db.store
            .create_api_token(
                &Actor::System("test".into()),
                member.id,
                "t",
                &kefu_server::auth::secret_hash(&secret),
                now,
            )
            .await
            .unwrap();
        tokens.push(secret);
    }
    let c = create(&app, campaign(json!({ "mode": "all" }), 3)).await;
    let path = format!("/api/v1/campaigns/{}/next", c["id"]);
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for token in tokens.clone() {
        let (app, path) = (app.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let (status, t) = app.call(Method::POST, &path, Some(&token), None).await;
            assert_eq!(status, StatusCode::OK, "{t}");
            t["id"].as_i64().unwrap()
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    let mut distinct = got.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        16,
        "two agents got the same target: {got:?}"
    );
    // Asking again gives each agent the target they already hold.
    for (token, id) in tokens.iter().zip(&got) {
        let (_, again) = app.call(Method::POST, &path, Some(token), None).await;
        assert_eq!(again["id"].as_i64(), Some(*id));
    }
}

async fn attempts_follow_the_windows_and_the_limits(db: &TestDb) {
    let app = app_with_customers(db, 5).await;
    let c = create(&app, campaign(json!({ "mode": "all" }), 2)).await;
    let next = format!("/api/v1/campaigns/{}/next", c["id"]);
    // 07:30 on a Tuesday: nobody may be called.
    *app.clock.0.lock().unwrap() = local("2026-03-03T07:30");
    let (status, _) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Before the campaign runs: refused with a reason.
    *app.clock.0.lock().unwrap() = local("2026-02-27T10:00");
    let (status, body) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    *app.clock.0.lock().unwrap() = local("2026-03-03T10:00");
    let (status, first) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let attempt = |id: &Value| format!("/api/v1/campaign-targets/{id}/attempts");
    // Someone else may not record on it.
    let (status, _) = app
        .post(
            &attempt(&first["id"]),
            Role::Manager,
            json!({ "result": "no_answer" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, t) = app
        .post(
            &attempt(&first["id"]),
            Role::Agent,
            json!({ "result": "no_answer" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        (t["status"].as_str(), t["attempts"].as_i64()),
        (Some("pending"), Some(1))
    );
    // It waits for the retry spacing: the agent gets someone else now.
    let (_, second) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_ne!(second["id"], first["id"]);
    // Bad answers are refused and change nothing.
    for bad in [
        json!({ "result": "reached", "answers": [{ "question": "q1", "value": 9 }] }),
        json!({ "result": "reached", "answers": [{ "question": "q2", "value": ["短信"] }] }),
        json!({ "result": "no_answer", "satisfaction": 4 }),
        json!({ "result": "call_back_later" }),
        json!({ "result": "teleported" }),
    ] {
        let (status, body) = app
            .post(&attempt(&second["id"]), Role::Agent, bad.clone())
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {status} {body}"
        );
    }
    let (status, done) = app
        .post(
            &attempt(&second["id"]),
            Role::Agent,
            json!({ "result": "reached", "satisfaction": 5, "notes": "客户对安检很满意",
                    "answers": [{ "question": "q1", "value": 5 }, { "question": "q2", "value": ["网上"] }],
                    "duration_seconds": 170 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["status"].as_str(), done["satisfaction"].as_i64()),
        (Some("completed"), Some(5))
    );
    // The attempt is a contact in the customer's history.
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?customer_id={}", done["customer_id"]),
            Role::Manager,
        )
        .await;
    assert!(
        contacts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purpose"] == "follow_up")
    );
    // After the spacing (and the lunch break) the first target comes back; a second
    // no-answer ends it.
    app.advance(SignedDuration::from_hours(4));
    let mut seen_first = false;
    for _ in 0..6 {
        let (status, t) = app
            .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
            .await;
        if status == StatusCode::NO_CONTENT {
            break;
        }
        let (_, after) = app
            .post(&attempt(&t["id"]), Role::Agent, json!({ "result": "busy" }))
            .await;
        if t["id"] == first["id"] {
            assert_eq!(after["status"], "unreachable");
            seen_first = true;
        }
    }
    assert!(seen_first);
}

async fn complaint_callbacks_close_or_reopen_the_complaint(db: &TestDb) {
    let app = app_with_customers(db, 3).await;
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/routing-rules",
            Some(app.token(Role::Admin)),
            Some(json!({ "rules": [{ "department_id": app.department.0 }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, customers) = app.get("/api/v1/customers?limit=1", Role::Manager).await;
    let customer_id = customers["items"][0]["id"].as_i64().unwrap();
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "complaint", "subject": "抄表数据有误", "customer_id": customer_id }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().unwrap();
    let step = |role: Role, body: Value| {
        let app = &app;
        async move {
            let (status, o) = app
                .post(
                    &format!("/api/v1/work-orders/{id}/transitions"),
                    role,
                    body.clone(),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}: {o}");
            o
        }
    };
    step(Role::Handler, json!({ "command": "accept" })).await;
    step(
        Role::Handler,
        json!({ "command": "record_result", "note": "已重新抄表" }),
    )
    .await;
    step(Role::Manager, json!({ "command": "approve" })).await;
    // The approved complaint waits in the standing callback campaign.
    let (_, list) = app.get("/api/v1/campaigns", Role::Agent).await;
    let standing = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "投诉满意度回访")
        .unwrap()
        .clone();
    let next = format!("/api/v1/campaigns/{}/next", standing["id"]);
    let call = |satisfaction: u8, notes: &'static str| {
        let (app, next) = (&app, next.clone());
        async move {
            let (status, target) = app
                .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{target}");
            let (status, done) = app
                .post(
                    &format!("/api/v1/campaign-targets/{}/attempts", target["id"]),
                    Role::Agent,
                    json!({ "result": "reached", "satisfaction": satisfaction, "notes": notes }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{done}");
            assert_eq!(done["status"], "completed");
        }
    };
    // Not satisfied: back to the department, counted.
    call(2, "客户认为抄表仍有误").await;
    let (_, o) = app
        .get(&format!("/api/v1/work-orders/{id}"), Role::Manager)
        .await;
    assert_eq!(
        (o["state"].as_str(), o["reopen_count"].as_i64()),
        (Some("in_progress"), Some(1))
    );
    step(
        Role::Handler,
        json!({ "command": "record_result", "note": "上门核对表数并更正账单" }),
    )
    .await;
    step(Role::Manager, json!({ "command": "approve" })).await;
    // Satisfied: the complaint file is archived.
    call(5, "客户满意").await;
    let (_, o) = app
        .get(&format!("/api/v1/work-orders/{id}"), Role::Manager)
        .await;
    assert_eq!(o["state"], "closed");
    // Each callback is one contact with the customer.
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?customer_id={customer_id}"),
            Role::Manager,
        )
        .await;
    let purposes: Vec<&str> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purpose"].as_str())
        .collect();
    assert_eq!(
        purposes
            .iter()
            .filter(|p| **p == "satisfaction_callback")
            .count(),
        2
    );
    assert_eq!(purposes.iter().filter(|p| **p == "follow_up").count(), 0);
    // Nothing is left in the queue.
    let (status, _) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn raw_get(app: &TestApp, path: &str, role: Role) -> (StatusCode, String, Vec<u8>) {
    let req = axum::http::Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", app.token(role)))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers, body) = app.send(req).await;
    let mime = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, mime, body)
}

async fn the_report_counts_what_was_recorded(db: &TestDb) {
    let app = app_with_customers(db, 6).await;
    let c = create(&app, campaign(json!({ "mode": "all" }), 3)).await;
    let id = c["id"].as_i64().unwrap();
    let next = format!("/api/v1/campaigns/{id}/next");
    let attempt = |t: &Value| format!("/api/v1/campaign-targets/{}/attempts", t["id"]);
    let take = async || {
        let (status, t) = app
            .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        t
    };
    let records = [
        json!({ "result": "reached", "satisfaction": 5, "notes": "对安检很满意", "duration_seconds": 150,
                "answers": [{ "question": "q1", "value": 5 }, { "question": "q2", "value": ["网上"] }] }),
        json!({ "result": "reached", "satisfaction": 2, "notes": "等待时间太长", "duration_seconds": 400,
                "answers": [{ "question": "q1", "value": 2 }, { "question": "q2", "value": ["营业厅"] }] }),
        json!({ "result": "no_answer", "duration_seconds": 30 }),
        json!({ "result": "wrong_number" }),
    ];
    let mut taken = Vec::new();
    for r in records {
        let t = take().await;
        let (status, body) = app.post(&attempt(&t), Role::Agent, r).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        taken.push(t);
    }
    // A customer who asks not to be called leaves every campaign at once.
    let untouched = targets(&app, id)
        .await
        .into_iter()
        .find(|t| t["attempts"] == 0 && !taken.iter().any(|x| x["id"] == t["id"]))
        .unwrap();
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{}/do-not-call", untouched["customer_id"]),
            Some(app.token(Role::Agent)),
            Some(json!({ "do_not_call": true })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, r) = app
        .get(&format!("/api/v1/campaigns/{id}/report"), Role::Manager)
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["targets"].as_i64(),
            r["called"].as_i64(),
            r["reached"].as_i64(),
            r["attempts"].as_i64()
        ),
        (Some(6), Some(4), Some(2), Some(4))
    );
    assert_eq!(r["reach_rate"].as_f64(), Some(50.0));
    assert_eq!(
        r["by_status"],
        json!([
            ["pending", 2],
            ["completed", 2],
            ["unreachable", 0],
            ["closed", 2]
        ])
    );
    assert_eq!(r["satisfaction"]["counts"], json!([0, 1, 0, 0, 1]));
    assert_eq!(r["satisfaction_average"].as_f64(), Some(3.5));
    assert_eq!(r["over_planned"].as_i64(), Some(1));
    assert_eq!(r["questions"][0]["scale"]["counts"], json!([0, 1, 0, 0, 1]));
    assert_eq!(
        r["questions"][1]["options"],
        json!([["营业厅", 1], ["网上", 1], ["银行代扣", 0]])
    );
    let agents = r["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(
        (
            agents[0]["attempts"].as_i64(),
            agents[0]["reached"].as_i64(),
            agents[0]["talk_seconds"].as_i64()
        ),
        (Some(4), Some(2), Some(580))
    );
    let notes: Vec<&str> = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["notes"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["等待时间太长", "对安检很满意"]);

    // The report and the target list as files.
    let (status, mime, csv) = raw_get(
        &app,
        &format!("/api/v1/campaigns/{id}/report/export?format=csv"),
        Role::Manager,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(mime.starts_with("text/csv"));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.contains("总体,回访对象,6,"), "{text}");
    assert!(text.contains("满意度分布,平均满意度,2,3.50"), "{text}");
    let (status, _, xlsx) = raw_get(
        &app,
        &format!("/api/v1/campaigns/{id}/report/export?format=xlsx"),
        Role::Agent,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(xlsx.starts_with(b"PK"));
    let (status, _, list) = raw_get(
        &app,
        &format!("/api/v1/campaigns/{id}/targets/export?format=csv"),
        Role::Agent,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let list = String::from_utf8(list[3..].to_vec()).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 7, "{list}");
    assert!(lines[0].starts_with("序号,客户编号,客户名称,电话,状态"));
    assert_eq!(lines.iter().filter(|l| l.contains(",已完成,")).count(), 2);
    assert!(lines.iter().any(|l| l.contains("勿扰登记")), "{list}");
    // Agents call from it: every target has its number.
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.split(',').nth(3).is_some_and(|n| !n.is_empty())),
        "{list}"
    );
    for (bad, expected) in [
        (
            format!("/api/v1/campaigns/{id}/targets/export?format=pdf"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/v1/campaigns/{id}/report/export"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, _, _) = raw_get(&app, &bad, Role::Manager).await;
        assert_eq!(status, expected, "{bad}");
    }
    let (status, _) = app
        .get("/api/v1/campaigns/999999/report", Role::Manager)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Handlers have no part in campaigns.
    let (status, _, _) = raw_get(
        &app,
        &format!("/api/v1/campaigns/{id}/report/export?format=csv"),
        Role::Handler,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The dashboard's chart files go through the same download path.
    let (status, mime, csv) =
        raw_get(&app, "/console/dashboard/satisfaction.csv", Role::Manager).await;
    assert_eq!(status, StatusCode::OK);
    assert!(mime.starts_with("text/csv") && csv.starts_with(b"\xEF\xBB\xBF"));
    let (status, _, _) = raw_get(&app, "/console/dashboard/satisfaction.pdf", Role::Manager).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The console pages: the report with its charts, the call screen with the timer.
    for (page, needle) in [
        (format!("/console/campaigns/{id}"), "回访报告表"),
        (format!("/console/campaigns/{id}/call"), "call-timer"),
        ("/console/campaigns".to_owned(), "燃气安全回访"),
    ] {
        let (status, _, html) = raw_get(&app, &page, Role::Agent).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(html.contains(needle), "{page}");
    }
}

/// Next-call defers a target the windows refuse to the time they next allow, and
/// hands it out then: over one day every customer is called inside their own
/// preferred times.
async fn targets_wait_for_their_preferred_times(db: &TestDb) {
    let app = app_with_customers(db, 60).await;
    let c = create(&app, campaign(json!({ "mode": "all" }), 3)).await;
    let next = format!("/api/v1/campaigns/{}/next", c["id"]);
    let mut called_at: Vec<(i64, &str)> = Vec::new();
    for at in ["2026-03-03T10:00", "2026-03-03T15:00", "2026-03-03T19:00"] {
        *app.clock.0.lock().unwrap() = local(at);
        loop {
            let (status, t) = app
                .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
                .await;
            if status == StatusCode::NO_CONTENT {
                break;
            }
            assert_eq!(status, StatusCode::OK, "{t}");
            let (status, _) = app
                .post(
                    &format!("/api/v1/campaign-targets/{}/attempts", t["id"]),
                    Role::Agent,
                    json!({ "result": "reached", "satisfaction": 4 }),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            called_at.push((t["customer_id"].as_i64().unwrap(), at));
        }
    }
    assert_eq!(called_at.len(), 60, "everyone is called within the day");
    let mut by_time = std::collections::BTreeMap::new();
    for (customer, at) in &called_at {
        let (_, card) = app
            .get(&format!("/api/v1/customers/{customer}"), Role::Manager)
            .await;
        let preferred = card["preferred_contact_time"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let hour = &at[11..13];
        let fits = match preferred.as_str() {
            "" => hour == "10",
            p => match hour {
                "10" => p.contains("09:00-11:30"),
                "15" => p.contains("14:00-17:00") && !p.contains("09:00-11:30"),
                _ => p == "18:30-20:30",
            },
        };
        assert!(fits, "customer {customer} ({preferred}) called at {at}");
        *by_time.entry(hour.to_owned()).or_insert(0) += 1;
    }
    // The sample has customers of each kind of window.
    assert_eq!(by_time.len(), 3, "{by_time:?}");
}

/// The agent's side of a short outbound satisfaction call, as SRT.
const OUTBOUND_SRT: &str = "1\n00:00:00,000 --> 00:00:06,000\n客服：上午好，我是燃气客服中心1001号客服代表，请问您是王女士吗？\n\n\
2\n00:00:06,500 --> 00:00:08,000\n客户：是我。\n\n\
3\n00:00:08,500 --> 00:00:15,000\n客服：耽误您三分钟，想了解一下您对上门安检服务是否满意？\n\n\
4\n00:00:15,500 --> 00:00:17,000\n客户：挺满意的。\n\n\
5\n00:00:17,500 --> 00:00:24,000\n客服：好的，感谢您的接听，祝您生活愉快，再见！\n";

/// The inspection of the campaign call the attempt recorded on `customer`.
async fn inspect_attempt(app: &TestApp, customer: &Value) -> Value {
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?customer_id={customer}"),
            Role::Manager,
        )
        .await;
    let contact = contacts["items"][0]["id"].as_i64().unwrap();
    let (status, r) = app
        .post(
            &format!("/api/v1/contacts/{contact}/transcript"),
            Role::Agent,
            json!({ "format": "srt", "text": OUTBOUND_SRT }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    r["inspection"]["result"].clone()
}

fn item<'a>(result: &'a Value, rule: &str) -> &'a Value {
    result["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == rule)
        .unwrap()
}

async fn campaign_calls_are_inspected_against_the_window_and_the_plan(db: &TestDb) {
    let app = app_with_customers(db, 4).await;
    let c = create(&app, campaign(json!({ "mode": "all" }), 2)).await;
    let next = format!("/api/v1/campaigns/{}/next", c["id"]);
    let attempt = |t: &Value| format!("/api/v1/campaign-targets/{}/attempts", t["id"]);
    // 10:00, a three-minute call: inside the window and the planned length.
    let (status, first) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    app.advance(SignedDuration::from_mins(3));
    let (status, t) = app
        .post(
            &attempt(&first),
            Role::Agent,
            json!({ "result": "reached", "satisfaction": 5, "duration_seconds": 175,
                    "answers": [{ "question": "q1", "value": 5 }, { "question": "q2", "value": ["网上"] }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let result = inspect_attempt(&app, &first["customer_id"]).await;
    assert_eq!(
        item(&result, "calling_window")["verdict"],
        "pass",
        "{result}"
    );
    assert_eq!(
        item(&result, "planned_length")["verdict"],
        "pass",
        "{result}"
    );

    // Taken at 11:26, but the call starts at 11:30, in the lunch break, and runs
    // five minutes against a plan of three.
    *app.clock.0.lock().unwrap() = local("2026-03-03T11:26");
    let (status, second) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    *app.clock.0.lock().unwrap() = local("2026-03-03T11:35");
    let (status, t) = app
        .post(
            &attempt(&second),
            Role::Agent,
            json!({ "result": "reached", "satisfaction": 4, "duration_seconds": 300,
                    "answers": [{ "question": "q1", "value": 4 }, { "question": "q2", "value": ["营业厅"] }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let result = inspect_attempt(&app, &second["customer_id"]).await;
    let window = item(&result, "calling_window");
    assert_eq!(window["verdict"], "deduct", "{result}");
    assert_eq!(window["reason"], "calling_window_rest_time");
    assert_eq!(window["args"]["local_time"], "11:30");
    let planned = item(&result, "planned_length");
    assert_eq!(planned["verdict"], "deduct", "{result}");
    assert_eq!(
        (
            planned["args"]["secs"].as_str(),
            planned["args"]["planned"].as_str()
        ),
        (Some("300"), Some("180"))
    );
}

async fn managers_preview_pause_resume_and_close_campaigns(db: &TestDb) {
    let app = app_with_customers(db, 60).await;
    // The count before freezing: the segment's size, and a sample's size.
    let (status, all) = app
        .post(
            "/api/v1/campaigns/selection-preview",
            Role::Manager,
            json!({ "selection": { "mode": "all", "segment": { "tier": "vip" } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let (_, vip) = app
        .get("/api/v1/customers?tier=vip&limit=500", Role::Manager)
        .await;
    assert_eq!(all["matched"], vip["total"]);
    assert_eq!(all["selected"], vip["total"]);
    let (_, sample) = app
        .post(
            "/api/v1/campaigns/selection-preview",
            Role::Manager,
            json!({ "selection": { "mode": "random", "n": 5 } }),
        )
        .await;
    assert_eq!(sample["matched"], 60);
    assert_eq!(sample["selected"], 5);
    // Nothing was created by counting.
    let (_, campaigns) = app.get("/api/v1/campaigns", Role::Manager).await;
    assert_eq!(campaigns.as_array().unwrap().len(), 0);
    // A script's variables are checked when the campaign is saved.
    let mut bad = campaign(json!({ "mode": "all" }), 3);
    bad["campaign"]["script"] = json!("{name}您好，我是{工号}号客服");
    let (status, refused) = app.post("/api/v1/campaigns", Role::Manager, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "script");
    assert_eq!(
        refused["error"]["details"]["reason"],
        "template_unknown_variable"
    );
    let mut good = campaign(json!({ "mode": "random", "n": 5, "seed": 1 }), 3);
    good["campaign"]["script"] = json!("{name}您好，我是{center}{agent}号客服");
    let c = create(&app, good).await;
    assert_eq!(c["status"], "active");
    assert_eq!(c["standing"], false);
    let id = c["id"].as_i64().unwrap();
    let next = format!("/api/v1/campaigns/{id}/next");
    let command = |cmd: &str| json!({ "command": cmd });
    let path = format!("/api/v1/campaigns/{id}/commands");
    let (status, paused) = app.post(&path, Role::Manager, command("pause")).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["status"], "paused");
    // Paused: no calls; pausing again is refused with the reason in figures.
    let (status, body) = app.post(&next, Role::Agent, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["details"]["reason"], "campaign_not_active");
    let (status, body) = app.post(&path, Role::Manager, command("pause")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"]["details"]["reason"],
        "campaign_command_refused"
    );
    // Agents may not steer a campaign.
    let (status, _) = app.post(&path, Role::Agent, command("resume")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, resumed) = app.post(&path, Role::Manager, command("resume")).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    let (status, body) = app.post(&next, Role::Agent, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Closing is final.
    let (_, closed) = app.post(&path, Role::Manager, command("close")).await;
    assert_eq!(closed["status"], "closed");
    let (status, _) = app.post(&path, Role::Manager, command("resume")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.post(&next, Role::Agent, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = app.post(&path, Role::Manager, command("restart")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Click-to-dial on a target the agent holds: the request goes out with the
/// target's number (never shown to the agent), the PBX's call comes back tied to
/// it, and the attempt is recorded on that call instead of a new record.
async fn a_dialled_call_is_the_attempts_record(db: &TestDb) {
    let app = app_with_customers(db, 3).await;
    let c = create(&app, campaign(json!({ "mode": "all" }), 2)).await;
    let next = format!("/api/v1/campaigns/{}/next", c["id"]);
    let (status, target) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{target}");
    let ask = json!({ "purpose": "campaign_target", "ref_id": target["id"] });
    // Without a seat there is nothing to ring first.
    let (status, body) = app
        .post("/api/v1/telephony/dials", Role::Agent, ask.clone())
        .await;
    assert_eq!(
        (status, body["error"]["details"]["reason"].as_str()),
        (StatusCode::CONFLICT, Some("seat_required")),
        "{body}"
    );
    app.call(
        Method::PUT,
        "/api/v1/me/seat",
        Some(app.token(Role::Agent)),
        Some(json!({ "extension": "8001" })),
    )
    .await;
    // Someone who does not hold the target may not dial it.
    app.call(
        Method::PUT,
        "/api/v1/me/seat",
        Some(app.token(Role::Manager)),
        Some(json!({ "extension": "8009" })),
    )
    .await;
    let (status, _) = app
        .post("/api/v1/telephony/dials", Role::Manager, ask.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, dial) = app.post("/api/v1/telephony/dials", Role::Agent, ask).await;
    assert_eq!(status, StatusCode::CREATED, "{dial}");
    // A bridge takes it, with the number in full.
    let (status, claimed) = app
        .post(
            "/api/v1/telephony/dials/claim",
            Role::Admin,
            json!({ "bridge": "fs1" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let order = &claimed["requests"][0];
    assert_eq!(
        (order["id"].clone(), order["extension"].as_str()),
        (dial["id"].clone(), Some("8001"))
    );
    let number = order["number"].as_str().unwrap().to_owned();
    assert!(number.len() >= 7, "{order}");
    // Taken once only.
    let (_, again) = app
        .post(
            "/api/v1/telephony/dials/claim",
            Role::Admin,
            json!({ "bridge": "fs2" }),
        )
        .await;
    assert_eq!(again["requests"], json!([]));
    // The PBX's call, carrying the request.
    let now = app.state.clock.now();
    for (kind, secs) in [("ringing", 40), ("answered", 30)] {
        let (status, r) = app
            .post(
                "/api/v1/telephony/events",
                Role::Admin,
                json!({ "call_id": "fs1:dial-1", "type": kind, "direction": "outbound", "callee": number,
                        "extension": "8001", "dial_id": dial["id"].to_string(),
                        "at": (now - jiff::SignedDuration::from_secs(secs)).to_string() }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
    }
    let (_, d) = app
        .get(
            &format!("/api/v1/telephony/dials/{}", dial["id"]),
            Role::Agent,
        )
        .await;
    assert_eq!(d["status"], "connected", "{d}");
    let contact = d["contact_id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/campaign-targets/{}/attempts", target["id"]),
            Role::Agent,
            json!({ "result": "reached", "satisfaction": 5, "answers": [] }),
        )
        .await;
    assert!(status.is_success());
    // The attempt's record is the dialled call, now a follow-up with its summary.
    let (_, call) = app
        .get(&format!("/api/v1/contacts/{contact}"), Role::Manager)
        .await;
    assert_eq!(call["purpose"], "follow_up", "{call}");
    assert!(
        call["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("燃气安全回访"),
        "{call}"
    );
    assert_eq!(call["customer_id"], target["customer_id"], "{call}");
    let (_, d) = app
        .get(
            &format!("/api/v1/telephony/dials/{}", dial["id"]),
            Role::Agent,
        )
        .await;
    assert_eq!(d["status"], "recorded");
}
