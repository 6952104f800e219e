//! A day at the center in real headless Chromium, on both backends.
//!
//! The manager: an order opened
//! directly for a customer found by name (every wrong field said at its input,
//! complaint fields only for complaints), its deadline missed and escalated by the
//! sweep, the escalation acknowledged with a note from the dashboard's link, the
//! history in words (people by name and number, the sweep as itself), and an
//! order cancelled only after confirming with a reason.
//!
//! The repair handler: the order page shows what a visit needs (the customer's
//! name, address, area and number in full, the call's 5W2H; the read audited),
//! and after a transfer the page says where the order went.
//!
//! The agent: the desk's promised callbacks with the customer's name, the promise
//! and the time left, red once overdue; 回拨 opens the customer's pop for the
//! outbound call; 已回电 with the outcome takes it off the list.
//!
//! The manager's 回访: a campaign set up in the browser — a script whose unknown
//! variable is refused at the field, a questionnaire of labelled questions, a
//! random sample with the live count before the list is frozen — then paused,
//! resumed and closed (closing confirmed) on its page.
//!
//! The manager's gas leak: recorded in the browser over an area picked from the
//! archive's areas and narrowed to a street, previewed (who is affected, with and
//! without contact; the SMS as a customer reads it) before it can be recorded; the
//! board says that no SMS gateway is configured and what waits for it; notifying
//! started, the incident resolved and closed, each irreversible step confirmed.
//!
//! The manager's assessment: a violation recorded from a complaint about an agent,
//! a penalty outside the range refused at its field; the list names the agent and
//! its tables have headers.
//!
//! The complaint chain: the manager's review shows the department's result and
//! the history; the satisfaction callback takes a 1–5 score and the customer's
//! words, and by the rule sends the complaint back (2) or closes it (5), the score
//! kept for the reports.
//!
//! The unknown caller: the pop offers to create a customer with the number or to
//! find the customer and link the number to their record; linked, the card shows.
#![allow(clippy::unwrap_used)]

mod browser;
#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;

use axum::http::Method;
use axum::http::StatusCode;
use browser::*;
use common::TestApp;
use fantoccini::Locator;
use jiff::SignedDuration;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::json;

/// One routing rule: every order goes to the test app's department.
async fn route_everything_to_the_department(app: &TestApp) {
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/routing-rules",
            Some(app.token(Role::Admin)),
            Some(json!({ "rules": [{ "department_id": app.department.0 }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

backend_tests!(
    manager_opens_escalates_and_cancels_in_chromium,
    handler_sees_the_visit_and_where_a_transfer_went,
    agent_calls_back_as_promised,
    manager_sets_up_a_campaign_and_steers_it,
    manager_runs_a_gas_leak_from_recording_to_closing,
    manager_records_a_violation_from_a_complaint,
    the_complaint_chain_end_to_end,
    an_unknown_caller_is_linked_from_the_pop
);

async fn manager_opens_escalates_and_cancels_in_chromium(db: &TestDb) {
    let app = TestApp::new(db).await;
    let backend = db.store.backend().as_str();
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Manager,
            json!({ "code": "KH0001", "name": "王燕", "kind": "个人",
                    "phones": [{ "label": "手机", "number": "139 0531 2468" }],
                    "address": "济南市历下区和平路8号", "service_area": "历下区" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    route_everything_to_the_department(&app).await;
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(backend);
    sign_in(&c, &base, Role::Manager).await;

    // A new order from the list: the customer found by name.
    c.goto(&format!("{base}/console/work-orders"))
        .await
        .unwrap();
    click(&c, "#new-order-link").await;
    wait_path(&c, "/console/work-orders/new").await;
    fill(&c, "#find-customer input[name=q]", "王燕").await;
    click(&c, "#find-customer button[type=submit]").await;
    wait_text(&c, "#new-order fieldset", "王燕（KH0001").await;
    // Only complaints ask for the cause and the person complained about.
    assert!(
        !wait_for(&c, "#order-cause")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    select_label(&c, "#order-kind", "投诉").await;
    assert!(
        wait_for(&c, "#order-cause")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    select_label(&c, "#order-kind", "报修").await;
    fill(&c, "#order-number", "12").await;
    // No subject and a number that is no number: both said at their inputs.
    click(&c, "#new-order button[type=submit]").await;
    let subject_error = wait_text(&c, "#order-subject + .field-error", "").await;
    assert!(!subject_error.is_empty());
    let number_error = text_of(&c, "#order-number + .field-error").await;
    assert!(!number_error.is_empty());
    for said in [&subject_error, &number_error] {
        assert!(!said.is_ascii(), "said in English: {said}");
    }
    shot(&c, &dir, "40-new-order-errors").await;
    // The subject's error stays until the subject is changed.
    fill(&c, "#order-number", "").await;
    assert!(
        c.find(Locator::Css("#order-subject + .field-error"))
            .await
            .is_ok()
    );
    fill(&c, "#order-subject", "燃气表不走字").await;
    fill(
        &c,
        "#order-description",
        "客户反映近三天表不计数，灶具使用正常。",
    )
    .await;
    click(&c, "#new-order button[type=submit]").await;
    wait_text(&c, ".order-detail h1", "燃气表不走字").await;
    let order_path = c.current_url().await.unwrap().path().to_owned();
    let order_id: i64 = order_path.rsplit('/').next().unwrap().parse().unwrap();
    wait_text(&c, ".order-detail", "王燕").await;
    // The history names the manager, not a staff number alone.
    wait_text(&c, ".history", "测试（MGR01）").await;
    wait_text(&c, ".history", "新建工单").await;

    // Two days later the deadlines have passed; the sweep escalates the order.
    app.advance(SignedDuration::from_hours(49));
    let made = kefu_server::jobs::sweep_deadlines(&app.state)
        .await
        .unwrap();
    assert!(made.iter().any(|e| e.work_order_id == order_id));
    // (Two days on, the session has expired: a new sign-in lands on the dashboard.)
    sign_in(&c, &base, Role::Manager).await;
    click(&c, "main a[href='/console/escalations']").await;
    wait_path(&c, "/console/escalations").await;
    let row = format!("#escalation-list tr[data-id='{}']", made[0].id);
    let listed = wait_text(&c, &row, "燃气表不走字").await;
    assert!(listed.contains("小时"), "how late, in words: {listed}");
    shot(&c, &dir, "41-escalations").await;
    let form = wait_for(&c, &format!("{row} form")).await;
    type_in(&form, "input[name=note]", "已催办维修班组，今晚上门").await;
    click_in(&form, "button[type=submit]").await;
    // Open only by default: once acknowledged it leaves the list…
    for _ in 0..100 {
        if c.find(Locator::Css(&row)).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(c.find(Locator::Css(&row)).await.is_err());
    // …and shows among the acknowledged ones, with who and what.
    c.goto(&format!("{base}/console/escalations?all=1"))
        .await
        .unwrap();
    wait_text(&c, &row, "已催办维修班组，今晚上门").await;
    wait_text(&c, &row, "测试（MGR01）").await;
    // The order's history says which deadline the sweep escalated, in words.
    c.goto(&format!("{base}{order_path}")).await.unwrap();
    let history = wait_text(&c, ".history", "系统（超时督办）").await;
    assert!(!history.contains("system:"), "{history}");
    assert!(!history.contains("deadline-sweep"), "{history}");

    // 撤销 asks first and needs a reason; refusing to confirm changes nothing.
    click_command(&c, "cancel", None).await;
    wait_for(&c, "#confirm-dialog[open]").await;
    click(&c, "#confirm-cancel").await;
    let (_, o) = app
        .get(&format!("/api/v1/work-orders/{order_id}"), Role::Manager)
        .await;
    assert_ne!(o["state"], "cancelled");
    click_command(&c, "cancel", None).await;
    wait_for(&c, "#confirm-dialog[open]").await;
    click(&c, "#confirm-ok").await;
    // Without a reason the dialog stays open and says so.
    wait_for(&c, "#confirm-reason + .field-error").await;
    shot(&c, &dir, "42-cancel-needs-reason").await;
    type_in(
        &wait_for(&c, "#confirm-dialog").await,
        "#confirm-reason",
        "客户已自行联系厂家处理",
    )
    .await;
    click(&c, "#confirm-ok").await;
    wait_text(&c, "#order-state", "撤销").await;
    wait_text(&c, ".history", "客户已自行联系厂家处理").await;
    server.abort();
}

async fn handler_sees_the_visit_and_where_a_transfer_went(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "KH0002", "name": "李秀英", "kind": "个人",
                    "phones": [{ "label": "手机", "number": "13905312469" }],
                    "address": "济南市市中区经四路21号3单元", "service_area": "市中区" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let (status, other) = app
        .post(
            "/api/v1/departments",
            Role::Admin,
            json!({ "code": "ENG", "name": "管网工程部" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    route_everything_to_the_department(&app).await;
    // A call recorded with its 5W2H; the repair order opened from it.
    let now = app.state.clock.now();
    let (status, rang) = app
        .post(
            "/api/v1/telephony/events",
            Role::Agent,
            json!({ "call_id": "v-1", "type": "ringing", "at": now.to_string(), "caller": "13905312469" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rang}");
    let contact_id = rang["contact_id"].as_i64().unwrap();
    let (_, contact) = app
        .get(&format!("/api/v1/contacts/{contact_id}"), Role::Agent)
        .await;
    let (status, recorded) = app
        .call(
            Method::PUT,
            &format!("/api/v1/contacts/{contact_id}/record"),
            Some(app.token(Role::Agent)),
            Some(json!({ "version": contact["version"], "category": "报修",
                "five_w2h": { "what": "厨房燃气表不走字", "where": "厨房灶台下方", "when": "三天前起" },
                "summary": "表不计数，需上门检查" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{recorded}");
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "repair", "subject": "燃气表不走字", "contact_id": contact_id }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().unwrap();
    // Through the API too: the handler gets the visit with the number in full.
    let (status, seen) = app
        .get(&format!("/api/v1/work-orders/{id}"), Role::Handler)
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["visit"]["customer_name"], "李秀英");
    assert_eq!(seen["visit"]["number"], "139 0531 2469");
    assert_eq!(seen["visit"]["five_w2h"]["what"], "厨房燃气表不走字");

    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(db.store.backend().as_str());
    sign_in(&c, &base, Role::Handler).await;
    c.goto(&format!("{base}/console/work-orders/{id}"))
        .await
        .unwrap();
    let visit = wait_text(&c, "#order-visit", "李秀英").await;
    for needed in [
        "济南市市中区经四路21号3单元",
        "市中区",
        "139 0531 2469",
        "厨房燃气表不走字",
        "厨房灶台下方",
        "三天前起",
    ] {
        assert!(visit.contains(needed), "{needed} missing from {visit}");
    }
    // Handlers do not browse the archive: the name is not a link.
    assert!(c.find(Locator::Css("#order-visit a")).await.is_err());
    shot(&c, &dir, "43-handler-visit").await;
    // The handler's reading of the customer is in the audit trail.
    let reads = db
        .store
        .audit_records(
            &kefu_store::audit::AuditQuery {
                filter: kefu_store::audit::AuditFilter {
                    action: Some("customer.read".into()),
                    ..Default::default()
                },
                reads: true,
                before: None,
            },
            100,
        )
        .await
        .unwrap();
    assert!(
        reads.iter().any(|r| r.actor == "WX2001"),
        "no audited read by the handler"
    );

    // Transferred to another department: the page says where it went.
    select_label(&c, "#action-department", "管网工程部").await;
    click_command(&c, "transfer", Some("管线在墙内，需工程部开挖")).await;
    let said = wait_text(&c, "#transferred", "管网工程部").await;
    assert!(!said.contains("没有找到"));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let page = text_of(&c, "main").await;
    assert!(!page.contains("没有找到"), "{page}");
    let (_, moved) = app
        .get(&format!("/api/v1/work-orders/{id}"), Role::Manager)
        .await;
    assert_eq!(moved["department_id"], other["id"]);
    server.abort();
}

async fn agent_calls_back_as_promised(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "KH0003", "name": "赵桂兰", "kind": "个人",
                    "phones": [{ "label": "手机", "number": "13905312470" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    // A call answered with a promise to call back within the 30-minute rule.
    let (status, contact) = app
        .post(
            "/api/v1/contacts",
            Role::Agent,
            json!({ "direction": "inbound", "number": "13905312470", "customer_id": customer["id"],
                    "category": "咨询", "summary": "询问阶梯气价，核实后回电告知",
                    "outcome": { "type": "callback" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(db.store.backend().as_str());
    sign_in(&c, &base, Role::Agent).await;
    let listed = wait_text(&c, "#callbacks li.callback", "赵桂兰").await;
    assert!(listed.contains("询问阶梯气价，核实后回电告知"), "{listed}");
    wait_text(&c, "#callbacks .countdown", "剩余").await;
    assert!(c.find(Locator::Css("#callbacks li.overdue")).await.is_err());
    // Past the promised time (a new sign-in after the clock moved), it is red.
    app.advance(SignedDuration::from_mins(31));
    sign_in(&c, &base, Role::Agent).await;
    wait_for(&c, "#callbacks li.callback.overdue").await;
    wait_text(&c, "#callbacks .countdown", "超时").await;
    shot(&c, &dir, "44-desk-callbacks").await;
    // 回拨: the outbound call's pop shows the customer.
    click(&c, "#callbacks .call-back").await;
    wait_text(&c, "#pop .card .name", "赵桂兰").await;
    // Done, with what came of it.
    let item = wait_for(&c, "#callbacks li.callback").await;
    type_in(&item, "input[name=note]", "已告知第二档气价及起算时间").await;
    click_in(&item, "form button[type=submit]").await;
    for _ in 0..100 {
        if c.find(Locator::Css("#callbacks li.callback"))
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        c.find(Locator::Css("#callbacks li.callback"))
            .await
            .is_err()
    );
    let (_, done) = app.get("/api/v1/callbacks?status=done", Role::Agent).await;
    assert_eq!(done[0]["done_note"], "已告知第二档气价及起算时间");
    server.abort();
}

async fn manager_sets_up_a_campaign_and_steers_it(db: &TestDb) {
    let app = TestApp::new(db).await;
    let now = app.state.clock.now();
    kefu_store::demo::generate_customers(&db.store, 40, 7, app.state.today(), now, |_| {})
        .await
        .unwrap();
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(db.store.backend().as_str());
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/campaigns")).await.unwrap();
    click(&c, "#new-campaign-link").await;
    wait_path(&c, "/console/campaigns/new").await;
    // The live count: everyone, then a sample of 5.
    wait_text(&c, "#selection-count", "40").await;
    click(&c, "input[name='selection.mode'][value=random]").await;
    fill(&c, "#selection-n", "5").await;
    fill(&c, "#selection-seed", "20261208").await;
    wait_text(&c, "#selection-count", "名单将包含 5 人").await;
    // A VIP segment counts what the archive holds.
    let (_, vip) = app
        .get("/api/v1/customers?tier=vip&limit=500", Role::Manager)
        .await;
    select_label(&c, "select[name='selection.segment.tier']", "VIP").await;
    wait_text(
        &c,
        "#selection-count",
        &format!("符合条件 {} 人", vip["total"]),
    )
    .await;
    select_label(&c, "select[name='selection.segment.tier']", "全部").await;
    wait_text(&c, "#selection-count", "符合条件 40 人").await;
    fill(&c, "#campaign-name", "冬季安检回访").await;
    fill(&c, "#campaign-script", "{name}您好，我是{工号}号客服").await;
    // A second question: one choice among options written one per line.
    click(&c, "#add-question").await;
    let rows = c
        .find_all(Locator::Css("#questions tbody tr"))
        .await
        .unwrap();
    let second = &rows[1];
    second
        .find(Locator::Css("select"))
        .await
        .unwrap()
        .select_by_label("单选")
        .await
        .unwrap();
    type_in(second, "input[data-name=text]", "您更愿意哪种方式缴费？").await;
    type_in(second, "textarea", "营业厅\n网上\n银行代扣").await;
    shot(&c, &dir, "45-new-campaign").await;
    click(&c, "#create-campaign").await;
    // The unknown variable is said at the script, in words.
    let said = wait_text(&c, "#campaign-script + .field-error", "工号").await;
    assert!(said.contains("不认识"), "{said}");
    fill(
        &c,
        "#campaign-script",
        "{name}您好，我是{center}{agent}号客服",
    )
    .await;
    click(&c, "#create-campaign").await;
    let status = wait_text(&c, "#campaign-status", "进行中").await;
    assert!(!status.is_empty());
    let id: i64 = c
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (_, campaign) = app
        .get(&format!("/api/v1/campaigns/{id}"), Role::Manager)
        .await;
    assert_eq!(campaign["n_targets"], 5);
    assert_eq!(campaign["seed"], 20261208);
    assert_eq!(campaign["questionnaire"][1]["options"][2], "银行代扣");
    assert_eq!(campaign["questionnaire"][1]["id"], "q2");
    // Paused, resumed, then closed after confirming.
    click(&c, "button.campaign-command[value=pause]").await;
    wait_text(&c, "#campaign-status", "已暂停").await;
    click(&c, "button.campaign-command[value=resume]").await;
    wait_text(&c, "#campaign-status", "进行中").await;
    click(&c, "button.campaign-command[value=close]").await;
    accept_confirm(&c).await;
    wait_text(&c, "#campaign-status", "已结束").await;
    assert!(
        c.find(Locator::Css("button.campaign-command"))
            .await
            .is_err()
    );
    server.abort();
}

async fn manager_runs_a_gas_leak_from_recording_to_closing(db: &TestDb) {
    let app = TestApp::new(db).await;
    for (code, address, area, number) in [
        ("G1", "和平路1号", "历下区", Some("13905310001")),
        ("G2", "和平路2号", "历下区", None),
        ("G3", "泉城路3号", "历下区", Some("13905310003")),
        ("G4", "经四路4号", "市中区", Some("13905310004")),
    ] {
        let phones = number.map_or(json!([]), |n| json!([{ "label": "手机", "number": n }]));
        let (status, body) = app
            .post(
                "/api/v1/customers",
                Role::Manager,
                json!({ "code": code, "name": format!("客户{code}"), "phones": phones,
                        "address": address, "service_area": area }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(db.store.backend().as_str());
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/incidents")).await.unwrap();
    click(&c, "#new-incident-link").await;
    wait_path(&c, "/console/incidents/new").await;
    // The archive's areas with their customers.
    wait_text(&c, "fieldset[data-field='incident.areas']", "历下区").await;
    wait_text(&c, "fieldset[data-field='incident.areas']", "市中区").await;
    click(&c, "input[name='incident.areas'][value='历下区']").await;
    fill(&c, "#affected-address", "和平路").await;
    // Without a title and instructions the preview says what is missing.
    click(&c, "#preview-incident").await;
    wait_for(&c, "#incident-title + .field-error").await;
    wait_for(&c, "#incident-instructions + .field-error").await;
    assert!(
        c.find(Locator::Css("#record-incident"))
            .await
            .unwrap()
            .attr("disabled")
            .await
            .unwrap()
            .is_some()
    );
    fill(&c, "#incident-title", "和平路中压管线泄漏").await;
    fill(
        &c,
        "#incident-instructions",
        "请关闭燃气总阀，开窗通风，勿动明火和电器开关。",
    )
    .await;
    click(&c, "#preview-incident").await;
    let counts = wait_text(&c, "#preview-counts", "受影响 2 户").await;
    assert!(counts.contains("有联系方式 1 户"), "{counts}");
    assert!(counts.contains("无联系方式 1 户"), "{counts}");
    let sms = text_of(&c, "#preview-sms").await;
    assert!(sms.contains("张先生您好：历下区发生燃气泄漏"), "{sms}");
    assert!(!sms.contains('{'), "{sms}");
    shot(&c, &dir, "46-new-incident-preview").await;
    click(&c, "#record-incident").await;
    accept_confirm(&c).await;
    wait_text(&c, "#incident-status", "已登记").await;
    // No SMS gateway here: the board says so, with what waits.
    let gateway = wait_text(&c, "#gateway-sms", "未配置").await;
    assert!(gateway.contains("[notices.sms]"), "{gateway}");
    click(&c, "button.incident-command[value=start_notifying]").await;
    wait_text(&c, "#incident-status", "通知中").await;
    click(&c, "button.incident-command[value=resolve]").await;
    accept_confirm(&c).await;
    wait_text(&c, "#incident-status", "已处置").await;
    click(&c, "button.incident-command[value=close]").await;
    accept_confirm(&c).await;
    wait_text(&c, "#incident-status", "已关闭").await;
    let history = text_of(&c, "table.events").await;
    assert!(history.contains("测试（MGR01）"), "{history}");
    shot(&c, &dir, "47-incident-closed").await;
    server.abort();
}

async fn manager_records_a_violation_from_a_complaint(db: &TestDb) {
    let app = TestApp::new(db).await;
    route_everything_to_the_department(&app).await;
    let agent = app
        .state
        .store
        .staff_by_number("KF1001")
        .await
        .unwrap()
        .unwrap();
    let (status, complaint) = app
        .post(
            "/api/v1/work-orders",
            Role::Manager,
            json!({ "kind": "complaint", "subject": "客服态度生硬", "complaint_cause": "attitude",
                    "complained_staff_id": agent.id.0 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{complaint}");
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(db.store.backend().as_str());
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/assessment")).await.unwrap();
    // Every table of the page has headers.
    for table in c.find_all(Locator::Css("main table")).await.unwrap() {
        assert!(table.find(Locator::Css("thead th")).await.is_ok());
    }
    click(&c, "#new-violation-link").await;
    wait_path(&c, "/console/violations/new").await;
    select_label(&c, "#violation-agent", "测试（KF1001）").await;
    click(&c, "input[name=source][value=complaint]").await;
    let option = wait_text(&c, "#violation-complaint", "客服态度生硬").await;
    assert!(option.contains("被投诉：测试（KF1001）"), "{option}");
    select_label(
        &c,
        "#violation-complaint",
        option
            .lines()
            .find(|l| l.contains("客服态度生硬"))
            .unwrap()
            .trim(),
    )
    .await;
    fill(
        &c,
        "#violation-description",
        "通话中语气生硬，未使用规范用语",
    )
    .await;
    fill(&c, "#violation-penalty", "800").await;
    click(&c, "#new-violation button[type=submit]").await;
    let said = wait_text(&c, "#violation-penalty + .field-error", "500").await;
    assert!(!said.is_ascii(), "{said}");
    fill(&c, "#violation-penalty", "200").await;
    click(&c, "#new-violation button[type=submit]").await;
    wait_path(&c, "/console/assessment").await;
    let listed = wait_text(&c, "table.violations", "通话中语气生硬").await;
    assert!(listed.contains("测试（KF1001）"), "{listed}");
    assert!(!listed.contains("#"), "{listed}");
    shot(&c, &dir, "48-violation-recorded").await;
    let (_, list) = app.get("/api/v1/violations", Role::Manager).await;
    assert_eq!(list[0]["source"], "complaint");
    assert_eq!(list[0]["work_order_id"], complaint["id"]);
    server.abort();
}

async fn the_complaint_chain_end_to_end(db: &TestDb) {
    let app = TestApp::new(db).await;
    route_everything_to_the_department(&app).await;
    let (_, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "KH0009", "name": "孙建国",
                    "phones": [{ "label": "手机", "number": "13905319999" }] }),
        )
        .await;
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "complaint", "subject": "维修人员迟到两小时", "customer_id": customer["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().unwrap();
    let path = format!("/api/v1/work-orders/{id}/transitions");
    let handle = |accept: bool, result: &'static str| {
        let app = &app;
        let path = path.clone();
        async move {
            let mut steps = Vec::new();
            if accept {
                steps.push(json!({ "command": "accept" }));
            }
            steps.push(
                json!({ "command": "record_result", "note": result, "complaint_cause": "efficiency" }),
            );
            for body in steps {
                let (status, answer) = app.post(&path, Role::Handler, body).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
            }
        }
    };
    handle(true, "已向客户道歉，调整维修班组排班").await;
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(db.store.backend().as_str());
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/work-orders/{id}"))
        .await
        .unwrap();
    // The review shows the department's result, by whom, with the cause.
    let result = wait_text(&c, "#department-result", "已向客户道歉，调整维修班组排班").await;
    assert!(result.contains("测试（WX2001）"), "{result}");
    assert!(result.contains("办事效率"), "{result}");
    wait_text(&c, ".history", "登记处理结果").await;
    shot(&c, &dir, "49-complaint-review").await;
    click_command(&c, "approve", None).await;
    wait_text(&c, "#order-state", "待回访").await;
    // The callback: 2 points without the customer's words is refused at the field.
    click(&c, "#callback-form input[name=satisfaction][value='2']").await;
    click(&c, "#callback-form button[type=submit]").await;
    wait_for(&c, "#callback-answer + .field-error").await;
    fill(&c, "#callback-answer", "客户认为道歉不够，要求减免上门费").await;
    click(&c, "#callback-form button[type=submit]").await;
    wait_text(&c, "#order-state", "处理中").await;
    wait_text(&c, ".history", "客户认为道歉不够").await;
    // Handled again; this time 5 points close it.
    handle(false, "已减免上门费并再次致歉").await;
    c.refresh().await.unwrap();
    click_command(&c, "approve", None).await;
    wait_text(&c, "#order-state", "待回访").await;
    click(&c, "#callback-form input[name=satisfaction][value='5']").await;
    fill(&c, "#callback-answer", "满意").await;
    click(&c, "#callback-form button[type=submit]").await;
    wait_text(&c, "#order-state", "已办结").await;
    // The scores are kept on the standing campaign's targets.
    let (_, campaigns) = app.get("/api/v1/campaigns", Role::Manager).await;
    let standing = campaigns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["standing"] == true)
        .unwrap();
    let (_, targets) = app
        .get(
            &format!("/api/v1/campaigns/{}/targets", standing["id"]),
            Role::Manager,
        )
        .await;
    let scores: Vec<i64> = targets
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["satisfaction"].as_i64())
        .collect();
    assert_eq!(scores, [2, 5]);
    // Through the API, a score against the rule is refused.
    let (status, refused) = app
        .post(
            &path,
            Role::Manager,
            json!({ "command": "reopen", "note": "再查", "satisfaction": 4 }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    server.abort();
}

async fn an_unknown_caller_is_linked_from_the_pop(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "KH0077", "name": "周立",
                    "phones": [{ "label": "手机", "number": "13905310070" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let (base, server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    sign_in(&c, &base, Role::Agent).await;
    fill(&c, "#extension", "8002").await;
    click(&c, "#seat-form button[type=submit]").await;
    wait_text(&c, "#seat-state", "8002").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let now = app.state.clock.now().to_string();
    let (status, rang) = app
        .post(
            "/api/v1/telephony/events",
            Role::Agent,
            json!({ "call_id": "u-1", "type": "ringing", "at": now, "caller": "139-0531-0077", "extension": "8002" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rang}");
    wait_for(&c, "#unknown-caller").await;
    let create = c
        .find(Locator::Css("#new-customer-from-call"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(create, "/console/customers/new?phone=13905310077");
    fill(&c, "#link-q", "周立").await;
    click(&c, "#link-customer button[type=submit]").await;
    wait_for(&c, "#link-hits .link-to").await;
    click(&c, "#link-hits .link-to").await;
    wait_text(&c, ".card .name", "周立").await;
    shot(
        &c,
        &shots(db.store.backend().as_str()),
        "50-unknown-caller-linked",
    )
    .await;
    let (_, linked) = app
        .get(
            &format!("/api/v1/customers/{}", customer["id"]),
            Role::Agent,
        )
        .await;
    let numbers: Vec<&str> = linked["phones"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["number"].as_str())
        .collect();
    assert_eq!(numbers.len(), 2, "{linked}");
    // The same number again is refused at its field.
    let (status, refused) = app
        .post(
            &format!("/api/v1/customers/{}/phones", customer["id"]),
            Role::Agent,
            json!({ "number": "13905310077" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "number");
    server.abort();
}
