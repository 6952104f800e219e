//! The customer archive over HTTP, on both backends: masking and read-audit per role,
//! screen-pop lookup, validation, segments, tier rules and their recomputation job.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestApp, code, staff_no, urlencode};
use kefu_domain::Role;
use kefu_server::ServerConfig;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    each_role_sees_what_it_may_and_every_read_is_audited,
    lookup_accepts_every_format_and_refuses_non_numbers,
    invalid_profiles_list_every_bad_field_and_create_nothing,
    updates_need_the_current_version,
    segments_filter_and_page,
    new_tier_rules_recompute_all_customers_in_a_job,
    timeline_and_tier_history,
);

fn zhang() -> Value {
    json!({
        "code": "KH0001",
        "name": "张三",
        "kind": "个人",
        "phones": [
            { "label": "手机", "number": "138-1234-5678" },
            { "label": "电话", "number": "(0531)8888-6666 转 12" }
        ],
        "email": "zhang@example.com",
        "address": "济南市历下区经十路100号",
        "service_area": "历下区",
        "assets": "25万",
        "tags": ["老客户"],
        "behaviour_type": "困惑型"
    })
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.post("/api/v1/customers", Role::Agent, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn each_role_sees_what_it_may_and_every_read_is_audited(db: &TestDb) {
    let app = TestApp::new(db).await;
    let created = create(&app, zhang()).await;
    assert_eq!(created["tier"], "key");
    assert_eq!(created["tier_name"], "重点维护");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/customers/{id}");

    let (_, agent) = app.get(&path, Role::Agent).await;
    assert_eq!(agent["phones"][0]["number"], "138 1234 5678");
    assert_eq!(agent["phones"][0]["dial"], "13812345678");
    assert_eq!(agent["phones"][1]["number"], "0531-88886666 转 12");
    assert_eq!(agent["email"], "zhang@example.com");
    assert_eq!(agent["assets"], Value::Null);
    assert_eq!(agent["masked"], json!(["assets"]));

    let (_, manager) = app.get(&path, Role::Manager).await;
    assert_eq!(manager["assets"], "250000.00");
    assert_eq!(manager["phones"][0]["number"], "138 1234 5678");
    assert_eq!(manager["masked"], json!([]));

    let (_, admin) = app.get(&path, Role::Admin).await;
    assert_eq!(admin["phones"][0]["number"], "138****5678");
    assert_eq!(admin["phones"][1]["number"], "0531-****6666");
    assert!(admin["phones"][0].get("dial").is_none());
    assert_eq!(admin["email"], "z***@example.com");
    assert_eq!(admin["assets"], Value::Null);
    assert_eq!(admin["masked"], json!(["phones", "email", "assets"]));
    assert!(!admin.to_string().contains("13812345678"));

    let (status, body) = app.get(&path, Role::Handler).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "auth.forbidden")
    );

    let (_, audit) = app
        .get(
            &format!("/api/v1/audit?action=customer.read&object_id={id}"),
            Role::Manager,
        )
        .await;
    let readers: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"].as_str().unwrap())
        .collect();
    assert_eq!(
        readers,
        vec![
            staff_no(Role::Admin),
            staff_no(Role::Manager),
            staff_no(Role::Agent)
        ]
    );
}

async fn lookup_accepts_every_format_and_refuses_non_numbers(db: &TestDb) {
    let app = TestApp::with_config(
        db,
        ServerConfig {
            area_code: Some("0531".into()),
            ..ServerConfig::default()
        },
    )
    .await;
    let created = create(&app, zhang()).await;
    let mut beijing = zhang();
    beijing["code"] = json!("BJ1");
    beijing["phones"] = json!([{ "label": "电话", "number": "010-12345678 转 8001" }, { "label": "手机", "number": "400-810-8888" }]);
    let beijing = create(&app, beijing).await;
    // (written form, expected customer): 24 formats on every backend.
    let cases: &[(&str, &Value)] = &[
        ("13812345678", &created),
        ("138 1234 5678", &created),
        ("138-1234-5678", &created),
        ("+86 138 1234 5678", &created),
        ("+86-138-1234-5678", &created),
        ("+8613812345678", &created),
        ("0086 138 1234 5678", &created),
        ("0086-138-1234-5678", &created),
        ("8613812345678", &created),
        ("１３８１２３４５６７８", &created),
        ("＋８６ １３８ １２３４ ５６７８", &created),
        ("(+86)138.1234.5678", &created),
        ("0531 8888 6666", &created),
        ("(0531)88886666", &created),
        ("（0531）8888-6666", &created),
        ("0531-88886666-12", &created),
        ("+86 531 8888 6666", &created),
        ("88886666", &created),
        ("8888-6666", &created),
        ("010-12345678", &beijing),
        ("(010) 1234 5678", &beijing),
        ("+86 10 1234 5678", &beijing),
        ("010-12345678 ext. 8001", &beijing),
        ("4008108888", &beijing),
    ];
    for (written, expected) in cases {
        let (status, found) = app
            .get(
                &format!("/api/v1/customers/lookup?phone={}", urlencode(written)),
                Role::Agent,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{written}: {found}");
        assert_eq!(
            found["matches"].as_array().unwrap().len(),
            1,
            "{written}: {found}"
        );
        assert_eq!(found["matches"][0]["id"], expected["id"], "{written}");
    }
    let (_, found) = app
        .get("/api/v1/customers/lookup?phone=13900000000", Role::Agent)
        .await;
    assert_eq!(found["matches"], json!([]));
    let (_, masked) = app
        .get("/api/v1/customers/lookup?phone=13812345678", Role::Admin)
        .await;
    assert_eq!(masked["number"], "138****5678");
    assert_eq!(masked["matches"][0]["phones"][0]["number"], "138****5678");
    let invalid = [
        "abc",
        "12345678901",
        "+1 212 555 0100",
        "+852 2345 6789",
        "138-1234-567",
        "0131-88886666",
        "0531-0888666",
        "010-1234567",
        "0531-88886666 转 abc",
        "123",
        "",
        "电话13812345678",
    ];
    for bad in invalid {
        let (status, body) = app
            .get(
                &format!("/api/v1/customers/lookup?phone={}", urlencode(bad)),
                Role::Agent,
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field"),
            "{bad}: {body}"
        );
    }
    let (status, _) = app.get("/api/v1/customers/lookup", Role::Agent).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn invalid_profiles_list_every_bad_field_and_create_nothing(db: &TestDb) {
    let app = TestApp::new(db).await;
    let before = app.audit_rows().await;
    let mut bad = zhang();
    bad["phones"][0]["number"] = json!("138-1234-567");
    bad["assets"] = json!("12.345");
    bad["birth_date"] = json!("2999-01-01");
    bad["name"] = json!("");
    let (status, body) = app.post("/api/v1/customers", Role::Agent, bad).await;
    assert_eq!(
        (status, code(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.invalid_customer"
        )
    );
    let fields: Vec<&str> = body["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "phones[0]", "birth_date", "assets"]);
    let mut unknown = zhang();
    unknown["salary"] = json!(1);
    let (status, body) = app.post("/api/v1/customers", Role::Agent, unknown).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "request.invalid_body")
    );
    assert_eq!(app.audit_rows().await, before);
    let (_, page) = app.get("/api/v1/customers", Role::Manager).await;
    assert_eq!(page["total"], 0);
    // A duplicate code is a conflict.
    create(&app, zhang()).await;
    let (status, body) = app.post("/api/v1/customers", Role::Agent, zhang()).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
}

async fn updates_need_the_current_version(db: &TestDb) {
    let app = TestApp::new(db).await;
    let created = create(&app, zhang()).await;
    let path = format!("/api/v1/customers/{}", created["id"]);
    let mut changed = zhang();
    changed["assets"] = json!("35万");
    let body = json!({ "version": created["version"], "customer": changed });
    let (status, updated) = app
        .call(
            Method::PUT,
            &path,
            Some(app.token(Role::Agent)),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["tier"], "vip");
    let (status, conflict) = app
        .call(Method::PUT, &path, Some(app.token(Role::Agent)), Some(body))
        .await;
    assert_eq!(
        (status, code(&conflict)),
        (StatusCode::CONFLICT, "conflict")
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}?version=1"),
            Some(app.token(Role::Manager)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}?version={}", updated["version"]),
            Some(app.token(Role::Manager)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&path, Role::Manager).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn segments_filter_and_page(db: &TestDb) {
    let app = TestApp::new(db).await;
    for (code, area, assets, tags) in [
        ("K1", "历下区", "5万", "老客户"),
        ("K2", "历下区", "50万", "老客户"),
        ("K3", "市中区", "50万", ""),
    ] {
        let mut body = zhang();
        body["code"] = json!(code);
        body["phones"] = json!([]);
        body["service_area"] = json!(area);
        body["assets"] = json!(assets);
        body["tags"] = if tags.is_empty() {
            json!([])
        } else {
            json!([tags])
        };
        create(&app, body).await;
    }
    let codes = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (_, page) = app
        .get(
            &format!(
                "/api/v1/customers?tier=vip&service_area={}",
                urlencode("历下区")
            ),
            Role::Agent,
        )
        .await;
    assert_eq!(codes(&page), ["K2"]);
    let (_, page) = app
        .get(
            &format!("/api/v1/customers?tags={}", urlencode("老客户")),
            Role::Agent,
        )
        .await;
    assert_eq!(codes(&page), ["K1", "K2"]);
    let (_, page) = app
        .get("/api/v1/customers?limit=2&offset=1", Role::Agent)
        .await;
    assert_eq!(
        (page["total"].as_i64(), codes(&page)),
        (Some(3), vec!["K2".to_owned(), "K3".to_owned()])
    );
    let (status, body) = app.get("/api/v1/customers?gender=robot", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (status, _) = app
        .get(
            "/api/v1/customers?age_band=65_plus&liquidity=high&kind=person",
            Role::Agent,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn new_tier_rules_recompute_all_customers_in_a_job(db: &TestDb) {
    let app = TestApp::new(db).await;
    for (code, assets) in [("K1", "5000"), ("K2", "15万"), ("K3", "100万")] {
        let mut body = zhang();
        body["code"] = json!(code);
        body["phones"] = json!([]);
        body["assets"] = json!(assets);
        create(&app, body).await;
    }
    let (_, rules) = app.get("/api/v1/tier-rules", Role::Manager).await;
    assert_eq!(rules["version"], 0);
    assert_eq!(rules["tiers"][1]["min_assets"], "100000.00");
    let new_rules = json!({ "version": 0, "tiers": [
        { "code": "basic", "name": "普通", "min_assets": "0" },
        { "code": "gold", "name": "金卡", "min_assets": "1万", "priority_boost": 1, "followup_days": 90 }
    ]});
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/tier-rules",
            Some(app.token(Role::Manager)),
            Some(new_rules.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, changed) = app
        .call(
            Method::PUT,
            "/api/v1/tier-rules",
            Some(app.token(Role::Admin)),
            Some(new_rules.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{changed}");
    assert_eq!(changed["job"]["total"], 3);
    let job_path = format!("/api/v1/jobs/{}", changed["job"]["id"]);
    let mut job = Value::Null;
    for _ in 0..200 {
        (_, job) = app.get(&job_path, Role::Manager).await;
        if job["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (
            job["status"].as_str(),
            job["done"].as_i64(),
            job["changed"].as_i64()
        ),
        (Some("succeeded"), Some(3), Some(3))
    );
    let (_, page) = app.get("/api/v1/customers?tier=gold", Role::Agent).await;
    assert_eq!(page["total"], 2);
    let (status, stale) = app
        .call(
            Method::PUT,
            "/api/v1/tier-rules",
            Some(app.token(Role::Admin)),
            Some(new_rules),
        )
        .await;
    assert_eq!((status, code(&stale)), (StatusCode::CONFLICT, "conflict"));
    let bad = json!({ "version": 1, "tiers": [{ "code": "x", "name": "x", "min_assets": "100" }] });
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/tier-rules",
            Some(app.token(Role::Admin)),
            Some(bad),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (_, rules) = app.get("/api/v1/tier-rules", Role::Admin).await;
    assert_eq!(rules["version"], 1);
}

async fn timeline_and_tier_history(db: &TestDb) {
    let app = TestApp::new(db).await;
    let created = create(&app, zhang()).await;
    let id = created["id"].as_i64().unwrap();
    let mut richer = zhang();
    richer["assets"] = json!("40万");
    app.call(
        Method::PUT,
        &format!("/api/v1/customers/{id}"),
        Some(app.token(Role::Agent)),
        Some(json!({ "version": created["version"], "customer": richer })),
    )
    .await;
    let (_, history) = app
        .get(
            &format!("/api/v1/customers/{id}/tier-history"),
            Role::Manager,
        )
        .await;
    let steps: Vec<(Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from_tier"].clone(), h["to_tier"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![(Value::Null, json!("key")), (json!("key"), json!("vip"))]
    );
    assert_eq!(history[1]["assets"], "400000.00");
    let (_, masked) = app
        .get(&format!("/api/v1/customers/{id}/tier-history"), Role::Agent)
        .await;
    assert_eq!(masked[1]["assets"], Value::Null);
    let (_, timeline) = app
        .get(&format!("/api/v1/customers/{id}/timeline"), Role::Agent)
        .await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 2);
    assert_eq!(timeline["items"][0]["kind"], "tier_change");
    let (status, _) = app
        .get("/api/v1/customers/424242/timeline", Role::Agent)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
