//! The knowledge base over HTTP, on both backends: articles written, published and
//! versioned, compared; search over them (segmented Chinese, partial numbers,
//! highlighted snippets, drafts hidden from agents, the index following every
//! save); bad input refused and nothing changed.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, urlencode};
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    articles_are_written_versioned_and_compared,
    search_finds_what_the_caller_may_read,
    search_spans_orders_contacts_and_customers_within_each_role,
    the_dictionary_changes_segmentation_and_synonyms,
);

fn article(title: &str, body: &str, status: &str) -> Value {
    json!({ "title": title, "body": body, "category": "故障处理", "tags": ["燃气表"], "status": status })
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, a) = app
        .post("/api/v1/knowledge/articles", Role::Manager, body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    a
}

async fn put(app: &TestApp, id: &Value, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/api/v1/knowledge/articles/{id}"),
        Some(app.token(Role::Manager)),
        Some(body),
    )
    .await
}

async fn articles_are_written_versioned_and_compared(db: &TestDb) {
    let app = TestApp::new(db).await;
    // Wrong articles are refused, naming the field; nothing is stored.
    let audit = app.audit_rows().await;
    for (bad, field) in [
        (article("", "正文", "draft"), "title"),
        (article("标题", " \n ", "draft"), "body"),
        (article("标题", "正文", "live"), "status"),
        (
            json!({ "title": "标题", "body": "正文", "category": "", "status": "draft" }),
            "category",
        ),
        (
            json!({ "title": "标题", "body": "正文", "category": "类", "tags": ["a，b"], "status": "draft" }),
            "tags[0]",
        ),
        (
            json!({ "title": "标题", "body": "正文", "category": "类", "status": "draft", "expected_version": 1 }),
            "expected_version",
        ),
        (
            json!({ "title": "标题", "body": "正文", "category": "类", "status": "draft", "colour": 1 }),
            "colour",
        ),
    ] {
        let (status, e) = app
            .post("/api/v1/knowledge/articles", Role::Manager, bad.clone())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let (status, _) = app
        .post(
            "/api/v1/knowledge/articles",
            Role::Agent,
            article("标题", "正文", "draft"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_rows().await, audit);

    let tariff = create(
        &app,
        json!({ "title": "居民阶梯气价", "body": "一、第一档每立方米2.80元。\n二、第二档每立方米3.36元。\n三、第三档每立方米4.20元。",
                "category": "价格政策", "tags": ["气价", "阶梯"], "status": "published", "note": "首次发布" }),
    )
    .await;
    assert_eq!(
        (tariff["version"].as_i64(), tariff["status"].as_str()),
        (Some(1), Some("published"))
    );
    let draft = create(&app, article("新版燃气表说明", "尚未定稿。", "草稿")).await;
    assert_eq!(draft["status"], "draft");

    // Agents and handlers read published articles only; editors all.
    for role in [Role::Agent, Role::Handler] {
        let (status, list) = app.get("/api/v1/knowledge/articles", role).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["total"], 1, "{role:?}: {list}");
        let (status, _) = app
            .get(&format!("/api/v1/knowledge/articles/{}", draft["id"]), role)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .get("/api/v1/knowledge/articles?status=draft", role)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, _) = app.get("/api/v1/knowledge/articles", Role::Admin).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = app
        .get("/api/v1/knowledge/articles?status=draft", Role::Manager)
        .await;
    assert_eq!(list["items"][0]["id"], draft["id"]);
    let (_, list) = app
        .get("/api/v1/knowledge/articles?tag=气价", Role::Agent)
        .await;
    assert_eq!(list["items"][0]["id"], tariff["id"]);
    let (_, list) = app
        .get("/api/v1/knowledge/articles?tag=%25", Role::Manager)
        .await;
    assert_eq!(list["total"], 0, "% is not a wildcard: {list}");
    let (_, cats) = app.get("/api/v1/knowledge/categories", Role::Agent).await;
    assert_eq!(cats, json!([{ "category": "价格政策", "articles": 1 }]));

    // Changes: the version it was made on is required and checked; a save that
    // changes nothing is refused; each save is a version.
    let mut change = json!({ "title": "居民阶梯气价", "body": "一、第一档每立方米3.00元。\n二、第二档每立方米3.36元。\n三、第三档每立方米4.20元。\n四、低保户免收第一档费用。",
                             "category": "价格政策", "tags": ["气价", "阶梯"], "status": "published", "note": "调价" });
    let (status, e) = put(&app, &tariff["id"], change.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    change["expected_version"] = json!(7);
    let (status, e) = put(&app, &tariff["id"], change.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    change["expected_version"] = json!(1);
    let (status, saved) = put(&app, &tariff["id"], change.clone()).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    change["expected_version"] = json!(2);
    let (status, e) = put(&app, &tariff["id"], change.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("nothing changed"), "{e}");
    let (status, _) = put(&app, &json!(999_999), change.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, versions) = app
        .get(
            &format!("/api/v1/knowledge/articles/{}/versions", tariff["id"]),
            Role::Manager,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{versions}");
    assert_eq!(
        versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_i64().unwrap(), v["note"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![(2, "调价"), (1, "首次发布")]
    );
    let diff_path = format!("/api/v1/knowledge/articles/{}/diff?from=1", tariff["id"]);
    let (status, diff) = app.get(&diff_path, Role::Manager).await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let lines: Vec<(String, String)> = diff["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h.as_array().unwrap().iter())
        .map(|l| {
            let text: String = l["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["text"].as_str().unwrap())
                .collect();
            (l["tag"].as_str().unwrap().to_owned(), text)
        })
        .collect();
    assert!(
        lines.contains(&("delete".into(), "一、第一档每立方米2.80元。".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("insert".into(), "四、低保户免收第一档费用。".into())),
        "{lines:?}"
    );
    for (bad, expected) in [
        ("?from=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("?from=1&to=3", StatusCode::UNPROCESSABLE_ENTITY),
        ("?from=1&context=51", StatusCode::UNPROCESSABLE_ENTITY),
        ("?to=1", StatusCode::BAD_REQUEST),
        ("?from=one", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = app
            .get(
                &format!("/api/v1/knowledge/articles/{}/diff{bad}", tariff["id"]),
                Role::Manager,
            )
            .await;
        assert_eq!(status, expected, "{bad}");
    }
    let (status, _) = app.get(&diff_path, Role::Agent).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The console shows the history with a comparison per version (editors).
    let page = |path: String, role: Role| {
        let app = &app;
        async move {
            let req = axum::http::Request::builder()
                .uri(&path)
                .header("authorization", format!("Bearer {}", app.token(role)))
                .body(axum::body::Body::empty())
                .unwrap();
            let (status, _, html) = app.send(req).await;
            (status, String::from_utf8(html).unwrap())
        }
    };
    let (status, html) = page(
        format!("/console/knowledge/{}", tariff["id"]),
        Role::Manager,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!(
            "/console/knowledge/{}/diff?from=1&amp;to=2",
            tariff["id"]
        )),
        "{html}"
    );
    let (status, html) = page(
        format!("/console/knowledge/{}/diff?from=1&to=2", tariff["id"]),
        Role::Manager,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "<del>2</del>",
        "<ins>3</ins>",
        "<li class=\"insert\">+ 四、低保户免收第一档费用。</li>",
        "二、第二档每立方米3.36元。",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    let (status, _) = page(
        format!("/console/knowledge/{}/diff?from=1&to=9", tariff["id"]),
        Role::Manager,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(
        format!("/console/knowledge/{}/diff?from=1&to=2", tariff["id"]),
        Role::Agent,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn search_hits(app: &TestApp, role: Role, q: &str) -> Vec<Value> {
    let (status, hits) = app
        .get(&format!("/api/v1/search?q={}", urlencode(q)), role)
        .await;
    assert_eq!(status, StatusCode::OK, "{q}: {hits}");
    hits.as_array().unwrap().clone()
}

async fn search_finds_what_the_caller_may_read(db: &TestDb) {
    let app = TestApp::new(db).await;
    let leak = create(
        &app,
        json!({ "title": "燃气泄漏应急处置", "body": "客户反映家中有燃气味时，请其立即关闭表前阀门，开窗通风，不要开关电器，到室外拨打抢修电话96777。\n抢修人员30分钟内到达。",
                "category": "应急处置", "tags": ["漏气", "抢修"], "status": "published" }),
    )
    .await;
    let meter = create(
        &app,
        json!({ "title": "燃气表显示E3故障", "body": "E3表示表内电池电量低，请客户更换两节5号电池；更换后仍显示E3的，登记报修，要求24小时内上门维修。",
                "category": "故障处理", "tags": ["燃气表"], "status": "published" }),
    )
    .await;
    let draft = create(
        &app,
        json!({ "title": "新版智能燃气表使用说明", "body": "智能燃气表支持手机充值，抢修电话96777。",
                "category": "产品知识", "tags": [], "status": "draft" }),
    )
    .await;
    let ids = |hits: &[Value]| hits.iter().map(|h| h["id"].clone()).collect::<Vec<_>>();
    // Words, with the hit marked in the snippet.
    let hits = search_hits(&app, Role::Agent, "阀门").await;
    assert_eq!(ids(&hits), vec![leak["id"].clone()]);
    let marked: Vec<&str> = hits[0]["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["mark"] == true)
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(marked, vec!["阀门"]);
    // Tags are searchable; mixed Chinese, codes and numbers; title hits rank first.
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "漏气").await),
        vec![leak["id"].clone()]
    );
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "燃气表 E3 故障").await),
        vec![meter["id"].clone()]
    );
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "维修").await),
        vec![meter["id"].clone()]
    );
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "777").await),
        vec![leak["id"].clone()]
    );
    // Agents do not find drafts; editors do.
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "96777").await),
        vec![leak["id"].clone()]
    );
    let mut editor = ids(&search_hits(&app, Role::Manager, "96777").await);
    editor.sort_by_key(|v| v.as_i64());
    assert_eq!(editor, vec![leak["id"].clone(), draft["id"].clone()]);
    let (_, drafts) = app
        .get("/api/v1/search?q=96777&state=draft", Role::Manager)
        .await;
    assert_eq!(ids(drafts.as_array().unwrap()), vec![draft["id"].clone()]);
    // The index follows every save: publishing the draft makes it findable, its
    // old words are gone after a rewrite.
    let (status, _) = put(
        &app,
        &draft["id"],
        json!({ "title": "新版智能燃气表使用说明", "body": "智能燃气表支持微信充值。",
                "category": "产品知识", "tags": [], "status": "published", "expected_version": 1 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "微信充值").await),
        vec![draft["id"].clone()]
    );
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "96777").await),
        vec![leak["id"].clone()]
    );
    // Dates: today's articles, none before.
    let today = app
        .state
        .clock
        .now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date();
    let (_, dated) = app
        .get(
            &format!("/api/v1/search?q=燃气&from={today}&to={today}"),
            Role::Agent,
        )
        .await;
    assert_eq!(dated.as_array().unwrap().len(), 3, "{dated}");
    let (_, none) = app
        .get("/api/v1/search?q=燃气&to=2000-01-01", Role::Agent)
        .await;
    assert_eq!(none, json!([]));

    // Bad queries: a clear error, or sensible results; never a server error.
    let (long, long_zh) = ("a".repeat(10_000), "燃".repeat(2_000));
    for (q, refused) in [
        ("", true),
        ("   ", true),
        ("？！。，、", true),
        ("\"*-:()", true),
        (long.as_str(), true),
        (long_zh.as_str(), true),
        ("\"燃气\"", false),
        ("燃气 -泄漏", false),
        ("燃气*", false),
        ("NEAR(燃气 泄漏)", false),
        ("燃气 OR 泄漏", false),
        ("' & ! | <->", true),
        ("'; DROP TABLE kb_articles; --", false),
        ("\\", true),
    ] {
        let (status, body) = app
            .get(&format!("/api/v1/search?q={}", urlencode(q)), Role::Agent)
            .await;
        let expected = if refused {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "{q}: {body}");
    }
    for (bad, expected) in [
        ("/api/v1/search", StatusCode::BAD_REQUEST),
        ("/api/v1/search?q=燃气&sort=new", StatusCode::BAD_REQUEST),
        ("/api/v1/search?q=燃气&limit=many", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = app.get(bad, Role::Agent).await;
        assert_eq!(status, expected, "{bad}: {body}");
    }
    for bad in [
        "/api/v1/search?q=燃气&limit=0",
        "/api/v1/search?q=燃气&limit=51",
        "/api/v1/search?q=燃气&kind=invoice",
        "/api/v1/search?q=燃气&from=2026-13-01",
        "/api/v1/search?q=燃气&from=2026-03-02&to=2026-03-01",
    ] {
        let (status, body) = app.get(bad, Role::Agent).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (_, still) = app.get("/api/v1/knowledge/articles", Role::Agent).await;
    assert_eq!(still["total"], 3, "the injection attempt changed nothing");

    // The console: search with the words marked; an article; drafts hidden from
    // agents, the history shown to editors.
    let archived = create(
        &app,
        json!({ "title": "旧版缴费方式", "body": "营业厅现金缴费。", "category": "业务办理", "tags": [], "status": "archived" }),
    )
    .await;
    for (role, page, status, needles, absent) in [
        (
            Role::Agent,
            format!("/console/knowledge?q={}", urlencode("关闭阀门")),
            StatusCode::OK,
            vec![
                format!("/console/knowledge/{}", leak["id"]),
                "<mark>阀门</mark>".to_owned(),
                "应急处置".to_owned(),
            ],
            vec!["旧版缴费方式".to_owned()],
        ),
        (
            Role::Agent,
            format!("/console/knowledge?q={}", urlencode("？？")),
            StatusCode::OK,
            vec!["请输入200字以内的关键词".to_owned()],
            vec![],
        ),
        (
            Role::Agent,
            format!("/console/knowledge/{}", meter["id"]),
            StatusCode::OK,
            vec!["要求24小时内上门维修".to_owned()],
            vec!["修改记录".to_owned()],
        ),
        (
            Role::Agent,
            format!("/console/knowledge/{}", archived["id"]),
            StatusCode::NOT_FOUND,
            vec![],
            vec![],
        ),
        (
            Role::Manager,
            format!("/console/knowledge/{}", draft["id"]),
            StatusCode::OK,
            vec!["修改记录".to_owned(), "版本 2".to_owned()],
            vec![],
        ),
        (
            Role::Manager,
            "/console/knowledge".to_owned(),
            StatusCode::OK,
            vec!["旧版缴费方式".to_owned(), "已归档".to_owned()],
            vec![],
        ),
        (
            Role::Admin,
            "/console/knowledge".to_owned(),
            StatusCode::FORBIDDEN,
            vec![],
            vec![],
        ),
    ] {
        let req = axum::http::Request::builder()
            .uri(&page)
            .header("authorization", format!("Bearer {}", app.token(role)))
            .body(axum::body::Body::empty())
            .unwrap();
        let (got, _, html) = app.send(req).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(got, status, "{role:?} {page}");
        for n in needles {
            assert!(html.contains(&n), "{role:?} {page}: {n}");
        }
        for n in absent {
            assert!(!html.contains(&n), "{role:?} {page}: not {n}");
        }
    }
}

async fn search_spans_orders_contacts_and_customers_within_each_role(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "KH0001", "name": "王秀英", "kind": "个人",
                    "phones": [{ "label": "手机", "number": "138-1234-5678" }],
                    "address": "济南市历下区经十路100号", "notes": "家中有老人，上门前先电话联系" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "repair", "subject": "热水器打不着火", "customer_id": customer["id"],
                    "department_id": app.department,
                    "description": "客户反映燃气热水器点火后立即熄灭，已持续两天。" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let (status, contact) = app
        .post(
            "/api/v1/contacts",
            Role::Agent,
            json!({ "customer_id": customer["id"], "direction": "inbound", "channel": "phone",
                    "category": "consultation", "summary": "咨询阶梯气价的计算方法" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let kinds = |hits: &[Value]| {
        let mut k: Vec<String> = hits
            .iter()
            .map(|h| h["kind"].as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k
    };
    // The agent finds the order by its words, its number, the customer's number.
    let hits = search_hits(&app, Role::Agent, "热水器 熄灭").await;
    assert_eq!(kinds(&hits), vec!["work_order"], "{hits:?}");
    assert_eq!(hits[0]["id"], order["id"]);
    let number = order["number"].as_str().unwrap();
    let hits = search_hits(&app, Role::Agent, number).await;
    assert_eq!(kinds(&hits), vec!["work_order"], "{hits:?}");
    let hits = search_hits(&app, Role::Agent, "5678").await;
    assert_eq!(kinds(&hits), vec!["customer", "work_order"], "{hits:?}");
    // Numbers are found but never shown in a snippet.
    for h in &hits {
        assert!(!h.to_string().contains("5678"), "{h}");
    }
    let hits = search_hits(&app, Role::Agent, "阶梯气价").await;
    assert_eq!(kinds(&hits), vec!["contact"], "{hits:?}");
    let hits = search_hits(&app, Role::Agent, "老人").await;
    assert_eq!(kinds(&hits), vec!["customer"], "{hits:?}");
    assert_eq!(hits[0]["title"], "王秀英");
    // The desk's question: this customer's past orders matching the words.
    let (_, past) = app
        .get(
            &format!(
                "/api/v1/search?q={}&kind=work_order&customer_id={}",
                urlencode("热水器"),
                customer["id"]
            ),
            Role::Agent,
        )
        .await;
    assert_eq!(past.as_array().unwrap().len(), 1, "{past}");
    let (_, none) = app
        .get(
            &format!(
                "/api/v1/search?q={}&kind=work_order&customer_id=999999",
                urlencode("热水器")
            ),
            Role::Agent,
        )
        .await;
    assert_eq!(none, json!([]));
    // Found customer data is a read of customer data: audited.
    let audit = app.audit_rows().await;
    search_hits(&app, Role::Agent, "老人").await;
    assert_eq!(app.audit_rows().await, audit + 1);
    search_hits(&app, Role::Agent, "热水器").await;
    assert_eq!(
        app.audit_rows().await,
        audit + 1,
        "orders alone are not customer reads"
    );
    // A handler finds the orders of their own department only, and no customers.
    let hits = search_hits(&app, Role::Handler, "热水器").await;
    let mine = hits
        .iter()
        .all(|h| h["department_id"] == json!(app.department));
    assert!(mine, "{hits:?}");
    let (status, _) = app
        .get(
            &format!("/api/v1/search?q={}&kind=customer", urlencode("老人")),
            Role::Handler,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(search_hits(&app, Role::Handler, "老人").await.is_empty());
    // A change of the order is searchable at once.
    let (status, _) = app
        .post(
            &format!("/api/v1/work-orders/{}/notes", order["id"]),
            Role::Agent,
            json!({ "visibility": "internal", "body": "已更换点火针，试机正常" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let hits = search_hits(&app, Role::Agent, "点火针").await;
    assert_eq!(kinds(&hits), vec!["work_order"], "{hits:?}");
}

/// The search dictionary is the process's (one center per server process); the
/// backends' variants of the test below run in one process under `cargo test`, so
/// they take turns and leave the shipped dictionary behind.
static DICTIONARY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn the_dictionary_changes_segmentation_and_synonyms(db: &TestDb) {
    let _turn = DICTIONARY.lock().await;
    kefu_store::search::set_dictionary(&[], &[]);
    let app = TestApp::new(db).await;
    let card = create(
        &app,
        json!({ "title": "IC卡丢失补办", "body": "IC卡丢失请持身份证到营业厅补办，补卡工本费20元。",
                "category": "业务办理", "tags": [], "status": "published" }),
    )
    .await;
    let bats = create(
        &app,
        json!({ "title": "球拍缺货说明", "body": "店里的乒乓球拍卖完了，预计下周到货。",
                "category": "售后", "tags": [], "status": "published" }),
    )
    .await;
    let ids = |hits: &[Value]| hits.iter().map(|h| h["id"].clone()).collect::<Vec<_>>();
    // Before: 燃气卡 is not a word for IC卡; the general dictionary reads 乒乓球 拍卖
    // (an auction) in 乒乓球拍卖完了 (the bats are sold out).
    assert!(search_hits(&app, Role::Agent, "燃气卡").await.is_empty());
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "拍卖").await),
        vec![bats["id"].clone()]
    );
    // Wrong dictionaries are refused by entry; agents may not edit it.
    let put = |role: Role, body: Value| {
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                "/api/v1/search/dictionary",
                Some(app.token(role)),
                Some(body),
            )
            .await
        }
    };
    for (bad, field) in [
        (json!({ "words": ["拍"] }), "words[0]"),
        (json!({ "synonyms": [["燃气卡"]] }), "synonyms[0]"),
        (
            json!({ "synonyms": [["燃气卡", "IC 卡"]] }),
            "synonyms[0][1]",
        ),
        (json!({ "colour": [] }), "colour"),
    ] {
        let (status, e) = put(Role::Admin, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let (status, _) = put(Role::Agent, json!({ "words": ["乒乓球拍"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, d) = put(
        Role::Admin,
        json!({ "words": ["乒乓球拍"], "synonyms": [["燃气卡", "IC卡"]] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["version"], 2);
    let (_, got) = app.get("/api/v1/search/dictionary", Role::Manager).await;
    assert_eq!(got["synonyms"], json!([["燃气卡", "IC卡"]]));
    // Synonyms apply at once; new words once the stored text is re-indexed.
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "燃气卡").await),
        vec![card["id"].clone()]
    );
    let done = db
        .store
        .reindex("article", 1, app.state.clock.now(), |_| {})
        .await
        .unwrap();
    assert_eq!(done, 2);
    assert!(search_hits(&app, Role::Agent, "拍卖").await.is_empty());
    assert_eq!(
        ids(&search_hits(&app, Role::Agent, "乒乓球拍").await),
        vec![bats["id"].clone()]
    );
    let err = db
        .store
        .reindex("invoice", 10, app.state.clock.now(), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invoice"), "{err}");
    kefu_store::search::set_dictionary(&[], &[]);
}
