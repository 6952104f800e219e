//! Setting a center up from the browser, in real headless Chromium on both
//! backends: the administrator makes a department and an agent, who signs in with
//! the one-time password, is sent to set their own and then works at the desk; the
//! account is locked and unlocked, renamed, disabled and enabled; an integration
//! account gets a token; a holiday added to the calendar moves the
//! deadline preview; a GBK file with bad rows is imported through the page and the
//! rejected rows downloaded; a manager's change to a customer is refused, field by
//! field and then for a change someone else made first; the audit chain verifies,
//! and the trail filters by action and shows reads only when asked.
//! Screenshots go to `target/console-screenshots/<backend>/`.
#![allow(clippy::unwrap_used)]

mod browser;
#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;

use axum::http::{Method, StatusCode};
use browser::*;
use common::TestApp;
use fantoccini::Locator;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::json;

backend_tests!(a_center_is_set_up_in_the_browser);

async fn a_center_is_set_up_in_the_browser(db: &TestDb) {
    let app = TestApp::new(db).await;
    let backend = db.store.backend().as_str();
    let (base, server) = serve(&app).await;
    let Some((driver, c)) = driver().await else {
        server.abort();
        return;
    };
    let dir = shots(backend);

    // The administrator makes a department…
    sign_in(&c, &base, Role::Admin).await;
    c.goto(&format!("{base}/console/admin/departments"))
        .await
        .unwrap();
    fill(&c, "#new-department-code", "KF2").await;
    fill(&c, "#new-department-name", "客服二部").await;
    click(&c, "#new-department button[type=submit]").await;
    wait_text(&c, "#department-list", "客服二部").await;
    // …and refused input is said at the field, in Chinese.
    fill(&c, "#new-department-code", "客服 2").await;
    fill(&c, "#new-department-name", "又一个").await;
    click(&c, "#new-department button[type=submit]").await;
    wait_text(&c, "#new-department .field-error", "只能用英文字母").await;
    shot(&c, &dir, "20-admin-departments").await;

    // …and an agent in it, whose one-time password is shown once.
    c.goto(&format!("{base}/console/admin/staff"))
        .await
        .unwrap();
    fill(&c, "#new-staff-no", "KF2001").await;
    fill(&c, "#new-staff-name", "张敏").await;
    select_label(&c, "#new-staff-role", "客服代表").await;
    select_label(&c, "#new-staff-department", "客服二部").await;
    click(&c, "#new-staff button[type=submit]").await;
    let one_time = shown_once(&c, "#one-time-password", "").await;
    assert!(one_time.len() >= 10, "{one_time}");
    shot(&c, &dir, "21-admin-staff-created").await;
    // An integration account for the PBX bridge, without a password.
    fill(&c, "#new-staff-no", "PBX01").await;
    fill(&c, "#new-staff-name", "交换机对接").await;
    select_label(&c, "#new-staff-role", "客服代表").await;
    click(&c, "#new-staff input[name=integration]").await;
    click(&c, "#new-staff button[type=submit]").await;
    wait_text(&c, "#new-staff-done", "系统对接账号").await;
    // Its token is made on the tokens page, shown once, and works at once.
    c.goto(&format!("{base}/console/admin/tokens"))
        .await
        .unwrap();
    select_label(&c, "#token-staff", "交换机对接（PBX01） · 系统对接").await;
    fill(&c, "#token-name", "交换机").await;
    click(&c, "#new-token button[type=submit]").await;
    let secret = shown_once(&c, "#token-secret", "kefu_").await;
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(&secret), None)
        .await;
    assert_eq!(
        (status, me["staff_no"].as_str()),
        (StatusCode::OK, Some("PBX01"))
    );
    shot(&c, &dir, "22-admin-token").await;

    // The agent signs in with the one-time password and is sent to set their own;
    // every other page sends them back there until they have.
    sign_in_as(&c, &base, "KF2001", &one_time).await;
    wait_path(&c, "/console/password").await;
    c.goto(&format!("{base}/console/customers")).await.unwrap();
    wait_path(&c, "/console/password").await;
    wait_text(&c, ".policy", "不能包含您的工号").await;
    fill(&c, "#current_password", &one_time).await;
    fill(&c, "#new_password", "KF2001-abcdef").await;
    fill(&c, "#confirm_password", "KF2001-abcdef").await;
    click(&c, "#password-form button[type=submit]").await;
    wait_text(&c, "#password-form .field-error", "不能包含工号").await;
    shot(&c, &dir, "23-password-policy").await;
    fill(&c, "#new_password", "Gas-leak-2026").await;
    fill(&c, "#confirm_password", "Gas-leak-2026").await;
    click(&c, "#password-form button[type=submit]").await;
    wait_path(&c, "/console/desk").await;
    wait_for(&c, "#seat-form").await;
    // The new password signs in from now on; the one-time one no longer does.
    sign_in_as(&c, &base, "KF2001", "Gas-leak-2026").await;
    wait_path(&c, "/console/desk").await;
    sign_in_as(&c, &base, "KF2001", &one_time).await;
    wait_text(&c, "#login-error", "工号或密码错误").await;
    // Five failures lock the account: the page says until when, and whom to ask.
    for _ in 0..3 {
        sign_in_as(&c, &base, "KF2001", "not-my-password-1").await;
        wait_text(&c, "#login-error", "错误").await;
    }
    sign_in_as(&c, &base, "KF2001", "not-my-password-1").await;
    let locked = wait_text(&c, "#login-error", "锁定至").await;
    assert!(locked.contains("管理员"), "{locked}");
    shot(&c, &dir, "23b-locked").await;
    // The administrator unlocks it from the account's page.
    sign_in(&c, &base, Role::Admin).await;
    c.goto(&format!("{base}/console/admin/staff?q=KF2001"))
        .await
        .unwrap();
    wait_text(&c, "#staff-list", "已锁定至").await;
    c.find(Locator::LinkText("KF2001"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "#unlock-staff").await;
    wait_text(&c, "#member-status", "正常").await;
    wait_text(&c, ".changes", "解除锁定").await;
    sign_in_as(&c, &base, "KF2001", "Gas-leak-2026").await;
    wait_path(&c, "/console/desk").await;
    // The administrator corrects the name, then disables the account: it can no
    // longer sign in (told the same as a wrong password); enabled, it can again.
    sign_in(&c, &base, Role::Admin).await;
    c.goto(&format!("{base}/console/admin/staff?q=KF2001"))
        .await
        .unwrap();
    c.find(Locator::LinkText("KF2001"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&c, "#member-name", "张敏敏").await;
    click(&c, "#member-form button[type=submit]").await;
    wait_text(&c, "main h1", "张敏敏").await;
    click(&c, "#disable-staff").await;
    accept_confirm(&c).await;
    wait_text(&c, "#member-status", "已停用").await;
    let member = c.current_url().await.unwrap();
    sign_in_as(&c, &base, "KF2001", "Gas-leak-2026").await;
    wait_text(&c, "#login-error", "工号或密码错误").await;
    sign_in(&c, &base, Role::Admin).await;
    c.goto(member.as_str()).await.unwrap();
    click(&c, "#enable-staff").await;
    wait_text(&c, "#member-status", "正常").await;
    sign_in_as(&c, &base, "KF2001", "Gas-leak-2026").await;
    wait_path(&c, "/console/desk").await;

    // The calendar moves deadlines: a holiday on the next working day moves the
    // preview of the business-time policy.
    sign_in(&c, &base, Role::Admin).await;
    c.goto(&format!("{base}/console/admin/sla")).await.unwrap();
    let before = text_of(&c, "#sla-policies tbody tr td.preview").await;
    assert!(before.contains("2026-09-22"), "{before}");
    c.goto(&format!("{base}/console/admin/calendar?year=2026"))
        .await
        .unwrap();
    shot(&c, &dir, "24-admin-calendar").await;
    // A date listed both ways is refused, the date named at its row.
    click(&c, "#add-workday").await;
    fill(
        &c,
        "#workdays tbody tr:last-child input[data-name=date]",
        "2026-10-02",
    )
    .await;
    click(&c, "#calendar-form button[type=submit]").await;
    wait_text(
        &c,
        "#workdays .field-error",
        "2026-10-02 同时被设为假日和调休上班日",
    )
    .await;
    c.find(Locator::Css("#workdays tbody tr:last-child .remove-row"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "#add-holiday").await;
    fill(
        &c,
        "#holidays tbody tr:last-child input[data-name=date]",
        "2026-09-22",
    )
    .await;
    fill(
        &c,
        "#holidays tbody tr:last-child input[data-name=name]",
        "检修停工",
    )
    .await;
    click(&c, "#calendar-form button[type=submit]").await;
    wait_text(&c, "main", "第 1 版").await;
    let marked = c
        .find(Locator::Css("#year-view td.holiday[title=检修停工]"))
        .await
        .unwrap();
    assert_eq!(marked.text().await.unwrap(), "22");
    c.goto(&format!("{base}/console/admin/sla")).await.unwrap();
    let after = text_of(&c, "#sla-policies tbody tr td.preview").await;
    assert!(
        after.contains("2026-09-23") && !after.contains("2026-09-22"),
        "{after}"
    );
    shot(&c, &dir, "25-admin-sla-preview").await;

    // A GBK file with a bad row is imported through the page: the preview first
    // (encoding and columns), then the report, then the rejected rows to correct.
    let text = "客户编号,姓名,手机号码,地址,备注\r\n\
                C1,王燕,139 0531 2468,济南市历下区和平路8号,\r\n\
                C2,,13900001111,济南市历下区和平路9号,没有姓名\r\n\
                C3,李强,139-abc,济南市市中区,号码不对\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("customers-gbk.csv");
    std::fs::write(&file, &gbk).unwrap();
    c.goto(&format!("{base}/console/customers/import"))
        .await
        .unwrap();
    wait_for(&c, "#import-input")
        .await
        .send_keys(&file.canonicalize().unwrap().display().to_string())
        .await
        .unwrap();
    click(&c, "#import-preview").await;
    wait_text(&c, "#import-detected", "GB18030").await;
    wait_text(&c, "#import-columns", "手机号码").await;
    let mobile = c
        .find(Locator::Css("select.import-field[data-header=手机号码]"))
        .await
        .unwrap();
    assert_eq!(
        mobile.prop("value").await.unwrap().as_deref(),
        Some("mobile")
    );
    shot(&c, &dir, "26-import-preview").await;
    click(&c, "#import-run").await;
    accept_confirm(&c).await;
    wait_text(&c, "#report-inserted", "1").await;
    assert_eq!(text_of(&c, "#report-rejected").await, "2");
    let errors = text_of(&c, "#import-errors").await;
    assert!(
        errors.contains("必填") && errors.contains("不是电话号码的一部分"),
        "{errors}"
    );
    shot(&c, &dir, "27-import-report").await;
    click(&c, "#download-rejected").await;
    let rejected = std::fs::read(downloaded(driver.downloads.path()).await).unwrap();
    let rejected = String::from_utf8(rejected).unwrap();
    assert!(
        rejected.starts_with("\u{feff}行号,客户编号,姓名,手机号码") && rejected.contains("原因"),
        "{rejected}"
    );
    assert!(rejected.contains("C2,,13900001111") && rejected.contains("C3,李强,139-abc"));
    assert!(!rejected.contains("C1,"), "{rejected}");

    // A manager changes a customer: every refused field is told at its place at
    // once; then a change someone made meanwhile is explained.
    let (_, found) = app.get("/api/v1/customers?limit=50", Role::Manager).await;
    let id = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "C1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/customers/{id}/edit"))
        .await
        .unwrap();
    fill(&c, "#c-name", " ").await;
    fill(&c, "#c-email", "wang@").await;
    fill(
        &c,
        "#phones tbody tr:first-child input[data-name=number]",
        "139",
    )
    .await;
    click(&c, "#customer-form button[type=submit]").await;
    wait_text(&c, "#customer-form", "有 3 位数字").await;
    let notes = c
        .find_all(Locator::Css("#customer-form .field-error"))
        .await
        .unwrap();
    let mut said = Vec::new();
    for n in &notes {
        said.push(n.text().await.unwrap());
    }
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(said.iter().any(|s| s == "必填"), "{said:?}");
    assert!(
        said.iter().any(|s| s.contains("不是有效的电子邮箱")),
        "{said:?}"
    );
    assert!(
        !said.iter().any(|s| s.is_ascii()),
        "English reached a person: {said:?}"
    );
    shot(&c, &dir, "28-customer-errors").await;
    fill(&c, "#c-name", "王燕").await;
    fill(&c, "#c-email", "wangyan@example.com").await;
    fill(
        &c,
        "#phones tbody tr:first-child input[data-name=number]",
        "139 0531 2468",
    )
    .await;
    // Meanwhile an agent changes the same customer.
    let (_, current) = app
        .get(&format!("/api/v1/customers/{id}"), Role::Agent)
        .await;
    let (status, changed) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(app.token(Role::Agent)),
            Some(json!({ "version": current["version"],
                "customer": { "code": "C1", "name": "王燕", "phones": [{ "label": "mobile", "number": "139 0531 2468" }],
                              "notes": "客户来电更新了地址" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    click(&c, "#customer-form button[type=submit]").await;
    wait_text(&c, "#customer-form .form-error", "别人已修改了这条记录").await;
    shot(&c, &dir, "29-customer-conflict").await;
    c.refresh().await.unwrap();
    fill(&c, "#c-email", "wangyan@example.com").await;
    click(&c, "#customer-form button[type=submit]").await;
    wait_path(&c, &format!("/console/customers/{id}")).await;
    wait_text(&c, ".facts", "wangyan@example.com").await;
    wait_text(&c, ".profile", "客户来电更新了地址").await;
    shot(&c, &dir, "30-customer-profile").await;

    // The administrator verifies the audit chain.
    sign_in(&c, &base, Role::Admin).await;
    c.goto(&format!("{base}/console/admin/audit"))
        .await
        .unwrap();
    click(&c, "#verify-chain").await;
    wait_text(&c, "#verify-result", "审计链完整").await;
    wait_text(&c, "#audit-list", "修改客户").await;
    shot(&c, &dir, "31-admin-audit").await;
    // Filtered by action: only the unlocking is listed.
    select_label(&c, "select[name=action]", "解除锁定").await;
    click(&c, "form.filters button[type=submit]").await;
    wait_text(&c, "#audit-list", "解除锁定").await;
    let listed = text_of(&c, "#audit-list").await;
    assert!(!listed.contains("修改客户"), "{listed}");
    // Reads are listed when asked for: the manager opened the customer.
    c.goto(&format!(
        "{base}/console/admin/audit?object_type=customer&object_id={id}&reads=1"
    ))
    .await
    .unwrap();
    let listed = wait_text(&c, "#audit-list", "查看客户").await;
    assert!(listed.contains("修改客户"), "{listed}");
    c.goto(&format!(
        "{base}/console/admin/audit?object_type=customer&object_id={id}"
    ))
    .await
    .unwrap();
    let listed = wait_text(&c, "#audit-list", "修改客户").await;
    assert!(!listed.contains("查看客户"), "{listed}");
    c.close().await.unwrap();
    server.abort();
}
