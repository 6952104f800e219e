//! The console in real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! on both backends: each role signs in and lands on its page; a ringing call pops
//! the customer at the agent's desk; the agent records a complaint and opens a work
//! order from it; the department handler works it; the manager reviews it and sees
//! the dashboard; the customer's status page shows the new state. Screenshots of the
//! main pages go to `target/console-screenshots/<backend>/`.
#![allow(clippy::unwrap_used)]

mod browser;
#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use axum::http::StatusCode;
use browser::*;
use common::TestApp;
use fantoccini::Locator;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::json;

backend_tests!(walkthrough_in_chromium);

async fn walkthrough_in_chromium(db: &TestDb) {
    let app = TestApp::new(db).await;
    let backend = db.store.backend().as_str();
    // A VIP customer and a routing rule sending everything to the app's department.
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "KH0001", "name": "王燕", "kind": "个人", "assets": "35万",
                    "phones": [{ "label": "手机", "number": "139 0531 2468" }],
                    "address": "济南市历下区和平路8号", "service_area": "历下区",
                    "tags": ["独居老人"], "behaviour_type": "冲动型" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let (status, _) = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/routing-rules",
            Some(app.token(Role::Admin)),
            Some(json!({ "rules": [{ "department_id": app.department.0 }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The same app state (and live-event hub) over a real socket for the browser.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = kefu_console::app(app.state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, served).await });
    let Some((_driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(backend);

    // Each role lands on its page and is offered only what it may do.
    c.goto(&format!("{base}/console/login")).await.unwrap();
    wait_for(&c, "#login-form").await;
    shot(&c, &dir, "01-login").await;
    sign_in(&c, &base, Role::Admin).await;
    assert!(
        !nav_links(&c)
            .await
            .iter()
            .any(|l| l.contains("dashboard") || l.contains("desk"))
    );
    sign_in(&c, &base, Role::Handler).await;
    assert!(
        nav_links(&c)
            .await
            .iter()
            .any(|l| l.ends_with("/console/inbox"))
    );
    assert!(!nav_links(&c).await.iter().any(|l| l.contains("dashboard")));
    c.goto(&format!("{base}/console/dashboard")).await.unwrap();
    wait_text(&c, "main", "无权").await;
    sign_in(&c, &base, Role::Manager).await;
    assert!(nav_links(&c).await.iter().any(|l| l.contains("dashboard")));

    // The agent signs in at a seat; a call rings there and the customer pops.
    sign_in(&c, &base, Role::Agent).await;
    assert!(!nav_links(&c).await.iter().any(|l| l.contains("dashboard")));
    let ext = wait_for(&c, "#extension").await;
    ext.clear().await.unwrap();
    ext.send_keys("8001").await.unwrap();
    c.find(Locator::Css("#seat-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#seat-state", "8001").await;
    // Give the page's event stream a moment to connect before the call rings.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = app.state.clock.now().to_string();
    let (status, rang) = app
        .post(
            "/api/v1/telephony/events",
            Role::Agent,
            json!({ "call_id": "cti-1", "type": "ringing", "at": now, "caller": "+86 139-0531-2468", "extension": "8001" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rang}");
    wait_text(&c, ".card .name", "王燕").await;
    wait_text(&c, ".card .tier", "VIP").await;
    // The opening phrase for the moment comes from the phrasebook.
    wait_text(&c, "#greeting", "号为您服务").await;
    // The card shows the tags and the behaviour type with its hint, and links to
    // the customer's page.
    wait_text(&c, ".card .tags", "独居老人").await;
    wait_text(&c, ".card .behaviour", "冲动型").await;
    wait_text(&c, ".card .behaviour-hint", "先安抚").await;
    let href = c
        .find(Locator::Css(".card a.name"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(href, format!("/console/customers/{}", customer["id"]));
    shot(&c, &dir, "02-desk-screen-pop").await;

    // While on the call the agent looks the question up in the knowledge base.
    let (status, article) = app
        .post(
            "/api/v1/knowledge/articles",
            Role::Manager,
            json!({ "title": "燃气费账单异常偏高的核查", "body": "先核对抄表读数与表上读数是否一致，再检查是否跨入第二档气价。",
                    "category": "账单", "tags": ["账单"], "status": "published" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{article}");
    c.find(Locator::Css("#kb-q"))
        .await
        .unwrap()
        .send_keys("账单 偏高")
        .await
        .unwrap();
    c.find(Locator::Css("#kb-search button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#kb-hits", "燃气费账单异常偏高的核查").await;
    wait_text(&c, "#kb-hits mark", "账单").await;

    // Record the complaint call and open a work order from it.
    c.find(Locator::Css("#category"))
        .await
        .unwrap()
        .select_by_value("complaint")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=what]"))
        .await
        .unwrap()
        .send_keys("燃气费账单异常偏高")
        .await
        .unwrap();
    c.find(Locator::Css("#summary"))
        .await
        .unwrap()
        .send_keys("客户投诉本月燃气费异常偏高，已安抚")
        .await
        .unwrap();
    c.find(Locator::Css("#save-record"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#toast", "已保存").await;
    // The subject suggested from the summary is replaced by what the agent types.
    let subject = wait_for(&c, "#order-subject").await;
    assert_eq!(
        subject.prop("value").await.unwrap().as_deref(),
        Some("客户投诉本月燃气费异常偏高，已安抚")
    );
    subject.click().await.unwrap();
    subject.send_keys("燃气费异常偏高").await.unwrap();
    assert_eq!(
        subject.prop("value").await.unwrap().as_deref(),
        Some("燃气费异常偏高")
    );
    assert_eq!(
        c.find(Locator::Css("#order-kind"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("complaint")
    );
    // A complaint takes its cause and whom it is about at the desk.
    select_label(&c, "#order-cause", "产品缺陷").await;
    assert!(
        wait_for(&c, "#order-complained")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    c.find(Locator::Css("#open-order"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = wait_for(&c, "#created-order").await;
    let created = link.text().await.unwrap();
    let number = created
        .split(|ch: char| !ch.is_ascii_alphanumeric())
        .find(|w| w.starts_with("GD"))
        .unwrap()
        .to_owned();
    shot(&c, &dir, "03-desk-recorded").await;
    let (_, opened) = app.get("/api/v1/work-orders?limit=5", Role::Manager).await;
    let opened = opened["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["number"] == number.as_str())
        .unwrap()
        .clone();
    let (_, opened) = app
        .get(
            &format!("/api/v1/work-orders/{}", opened["id"]),
            Role::Manager,
        )
        .await;
    assert_eq!(opened["complaint_cause"], "product_defect");
    assert_eq!(opened["subject"], "燃气费异常偏高");
    link.click().await.unwrap();
    wait_text(&c, "#order-state", "已派单").await;
    shot(&c, &dir, "04-work-order").await;

    // The department handler finds it in the inbox and works it.
    sign_in(&c, &base, Role::Handler).await;
    wait_text(&c, "table.orders", &number).await;
    shot(&c, &dir, "05-inbox").await;
    c.find(Locator::LinkText(&number))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_command(&c, "accept", None).await;
    wait_text(&c, "#order-state", "处理中").await;
    click_command(&c, "record_result", Some("阶梯气价跨档，已逐月说明")).await;
    wait_text(&c, "#order-state", "已出结果").await;
    // Only the manager reviews: no approve button for the handler.
    assert!(
        c.find(Locator::Css("button[data-command=approve]"))
            .await
            .is_err()
    );

    // The manager sees the dashboard and approves the result.
    sign_in(&c, &base, Role::Manager).await;
    let charts = c.find_all(Locator::Css("figure.chart svg")).await.unwrap();
    assert!(charts.len() >= 8, "{} charts", charts.len());
    wait_text(&c, "#rendered", "毫秒").await;
    shot(&c, &dir, "06-dashboard").await;
    // English is one click away, and back.
    c.find(Locator::Css("a.lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "main h1", "Dashboard").await;
    wait_text(&c, ".top nav", "Work orders").await;
    shot(&c, &dir, "06b-dashboard-en").await;
    c.find(Locator::Css("a.lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "main h1", "经理看板").await;
    c.goto(&format!("{base}/console/work-orders?state=result_recorded"))
        .await
        .unwrap();
    c.find(Locator::LinkText(&number))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_command(&c, "approve", None).await;
    wait_text(&c, "#order-state", "待回访").await;
    shot(&c, &dir, "07-reviewed").await;
    c.goto(&format!("{base}/console/work-orders"))
        .await
        .unwrap();
    wait_for(&c, "table.orders").await;
    shot(&c, &dir, "08-work-orders").await;
    c.goto(&format!("{base}/console/customers?q=王"))
        .await
        .unwrap();
    wait_text(&c, "main", "王燕").await;
    shot(&c, &dir, "09-customers").await;

    // The customer checks on a phone-sized screen while the callback is due.
    c.delete_all_cookies().await.unwrap();
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/status?number={number}&phone4=2468"))
        .await
        .unwrap();
    wait_text(&c, "#status-result", "待回访").await;
    shot(&c, &dir, "10-status-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // Next morning the agent makes the satisfaction callback from the call screen:
    // the timer runs, the answer closes the complaint.
    *app.clock.0.lock().unwrap() = "2026-09-22T02:00:00Z".parse().unwrap();
    sign_in(&c, &base, Role::Agent).await;
    c.goto(&format!("{base}/console/campaigns")).await.unwrap();
    c.find(Locator::LinkText("开始外呼"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "#next-call").await.click().await.unwrap();
    wait_text(&c, "#target-customer", "王燕").await;
    wait_text(&c, "#call-timer", "0:01").await;
    c.find(Locator::Css("#attempt-satisfaction option[value='5']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#attempt-notes"))
        .await
        .unwrap()
        .send_keys("客户对处理结果满意")
        .await
        .unwrap();
    shot(&c, &dir, "11-call-screen").await;
    c.find(Locator::Css("button.result[value=reached]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#call-status", "已记录").await;
    c.goto(&format!("{base}/console/work-orders?state=closed"))
        .await
        .unwrap();
    wait_text(&c, "main", &number).await;
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/campaigns")).await.unwrap();
    c.find(Locator::LinkText("投诉满意度回访"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "#chart-satisfaction svg").await;
    wait_text(&c, "main", "客户对处理结果满意").await;
    shot(&c, &dir, "12-campaign-report").await;

    // A gas leak on 和平路: the manager starts notifying from the board; an agent
    // calls the customer from the incident's call screen; the board counts her.
    let (status, incident) = app
        .post(
            "/api/v1/incidents",
            Role::Manager,
            json!({ "incident": { "kind": "燃气泄漏", "severity": "major", "title": "和平路中压管线泄漏",
                    "areas": ["历下区"], "starts_at": "2026-09-22T09:30:00+08:00",
                    "instructions": "请关闭燃气总阀，开窗通风，勿动明火。" },
                    "affected": { "address_contains": "和平路" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let incident_id = incident["incident"]["id"].as_i64().unwrap();
    c.goto(&format!("{base}/console/incidents")).await.unwrap();
    c.find(Locator::LinkText("和平路中压管线泄漏"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, ".incident-command[value=start_notifying]")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&c, "#incident-status", "通知中").await;
    sign_in(&c, &base, Role::Agent).await;
    c.goto(&format!("{base}/console/incidents/{incident_id}"))
        .await
        .unwrap();
    wait_for(&c, "#call-screen").await.click().await.unwrap();
    wait_for(&c, "#next-notice").await.click().await.unwrap();
    wait_text(&c, "#notice-customer", "王燕").await;
    wait_text(&c, "#notice-script", "请关闭燃气总阀").await;
    shot(&c, &dir, "13-incident-call").await;
    c.find(Locator::Css("#notice-form button.result[value=reached]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#notice-status", "已记录").await;
    wait_for(&c, "#next-notice").await.click().await.unwrap();
    wait_text(&c, "#notice-status", "没有待拨打的客户").await;
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/incidents/{incident_id}"))
        .await
        .unwrap();
    wait_text(&c, "#figure-notified", "1").await;
    shot(&c, &dir, "14-incident-board").await;

    // The complaint call ends and its transcript arrives: it is inspected; the
    // manager reads the result with the words marked and overrides one item.
    let later =
        |secs: i64| (app.state.clock.now() + jiff::SignedDuration::from_secs(secs)).to_string();
    for (id, kind, secs) in [("cti-1-a", "answered", 5), ("cti-1-h", "hung_up", 60)] {
        let mut body =
            json!({ "call_id": "cti-1", "event_id": id, "type": kind, "at": later(secs) });
        if kind == "hung_up" {
            body["hung_up_by"] = json!("agent");
        }
        let (status, r) = app
            .post("/api/v1/telephony/events", Role::Agent, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
    }
    let contact_id = rang["contact_id"].as_i64().unwrap();
    let srt = "1\n00:00:00,000 --> 00:00:03,000\n客服：喂，你好。\n\n\
               2\n00:00:03,500 --> 00:00:08,000\n客户：我家燃气费账单异常偏高。\n\n\
               3\n00:00:08,500 --> 00:00:16,000\n客服：我帮您登记投诉，感谢您的来电，再见！\n";
    let (status, inspected) = app
        .post(
            &format!("/api/v1/contacts/{contact_id}/transcript"),
            Role::Agent,
            json!({ "format": "srt", "text": srt }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inspected}");
    let inspection_id = inspected["inspection"]["id"].as_i64().unwrap();
    c.goto(&format!("{base}/console/inspections"))
        .await
        .unwrap();
    // The queue names the agent, never a call's or an inspection's id.
    let queue = wait_text(&c, "table.inspections", "测试（KF1001）").await;
    assert!(!queue.contains(&format!("#{inspection_id}")), "{queue}");
    click(
        &c,
        &format!("tr[data-id='{inspection_id}'] a[href='/console/inspections/{inspection_id}']"),
    )
    .await;
    wait_text(&c, ".transcript mark", "喂").await;
    let row = wait_for(&c, "tr.item[data-rule=customer_hangs_up_first]").await;
    row.find(Locator::Css(".review-verdict option[value=override]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    row.find(Locator::Css(".review-points"))
        .await
        .unwrap()
        .send_keys("0")
        .await
        .unwrap();
    row.find(Locator::Css(".review-comment"))
        .await
        .unwrap()
        .send_keys("客户要求先挂机")
        .await
        .unwrap();
    shot(&c, &dir, "15-inspection").await;
    c.find(Locator::Css("#review-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "main", "客户要求先挂机").await;
    let automatic = inspected["inspection"]["result"]["score"].as_u64().unwrap();
    wait_text(&c, "#final-score", &(automatic + 5).to_string()).await;

    // The quality manager adds a forbidden expression and switches a rule off in
    // the phrasebook editor; each save is a new version.
    c.goto(&format!("{base}/console/phrasebook")).await.unwrap();
    wait_text(&c, "#phrasebook", "版本 1").await;
    c.find(Locator::Css("#forbidden-add"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let added = c
        .find(Locator::Css("#forbidden-rows tr:last-child"))
        .await
        .unwrap();
    for (field, text) in [
        (".f-id", "mei_ban_fa"),
        (".f-expression", "没办法"),
        (".f-alternative", "我来帮您想想其他办法"),
        (".f-allow", "不是没办法、没办法的事"),
    ] {
        added
            .find(Locator::Css(field))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    c.find(Locator::Css("#phrasebook-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#phrasebook", "版本 2").await;
    let (_, book) = app.get("/api/v1/phrasebook", Role::Manager).await;
    let new = book["edition"]["forbidden"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "mei_ban_fa")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (new["text"].as_str(), new["allow"][1].as_str()),
        (Some("没办法"), Some("没办法的事")),
        "{new}"
    );
    c.find(Locator::Css("tr[data-rule=speaking_rate] .rule-enabled"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shot(&c, &dir, "16-phrasebook").await;
    c.find(Locator::Css("#rules-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#inspection-rules", "版本 2").await;
    let (_, rules) = app.get("/api/v1/inspection-rules", Role::Manager).await;
    assert_eq!(
        rules["rules"]["rules"]["speaking_rate"]["enabled"], false,
        "{rules}"
    );
    assert_eq!(rules["rules"]["answer_within_secs"], 15, "{rules}");

    // The manager writes a knowledge article in the editor, then corrects it: the
    // second save is version 2, compared with the first in the history.
    c.goto(&format!("{base}/console/knowledge")).await.unwrap();
    click(&c, "#article-new").await;
    let form = wait_for(&c, "#article-form").await;
    for (field, text) in [
        ("title", "壁挂炉冬季防冻须知"),
        ("category", "安全用气"),
        ("tags", "防冻，壁挂炉"),
        (
            "body",
            "气温低于零度时，壁挂炉不要断电断气，防冻功能才能启动。",
        ),
    ] {
        type_in(&form, &format!("[name={field}]"), text).await;
    }
    click_in(&form, "[name=status] option[value=published]").await;
    click_in(&form, "button[type=submit]").await;
    wait_text(&c, ".article-body", "防冻功能才能启动").await;
    click(&c, "#article-edit").await;
    let form = wait_for(&c, "#article-form").await;
    type_in(&form, "[name=body]", "\n外出多日时请排空管道里的水。").await;
    type_in(&form, "[name=note]", "补充外出排水").await;
    shot(&c, &dir, "17-article-editor").await;
    click_in(&form, "button[type=submit]").await;
    wait_text(&c, ".article-body", "排空管道").await;
    wait_text(&c, "table.versions", "补充外出排水").await;
    click(&c, "a.compare").await;
    wait_text(&c, "main", "外出多日时请排空管道里的水").await;
    // The list has the article at its second version.
    let (_, list) = app.get("/api/v1/knowledge/articles", Role::Manager).await;
    let saved = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "壁挂炉冬季防冻须知")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (saved["version"].as_i64(), saved["category"].as_str()),
        (Some(2), Some("安全用气")),
        "{list}"
    );

    // The center's dictionary: a synonym group saved in the console applies to
    // searches at once.
    c.goto(&format!("{base}/console/knowledge/dictionary"))
        .await
        .unwrap();
    let form = wait_for(&c, "#dictionary-form").await;
    type_in(&form, "[name=synonyms]", "壁挂炉 采暖炉").await;
    click_in(&form, "button[type=submit]").await;
    wait_text(&c, "#dictionary-editor", "版本 2").await;
    c.goto(&format!("{base}/console/knowledge?q=采暖炉"))
        .await
        .unwrap();
    wait_text(&c, "ol.hits", "壁挂炉冬季防冻须知").await;
    eprintln!("screenshots: {}", dir.canonicalize().unwrap().display());
    c.close().await.unwrap();
    server.abort();
}
