//! Customer import and export over HTTP, on both backends: GBK files with Chinese
//! headers, BOM, bad rows, re-import, and hostile files that must change nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{TestApp, code, urlencode};
use kefu_domain::Role;
use kefu_server::ServerConfig;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::Value;

backend_tests!(
    gbk_file_with_chinese_headers_imports_and_reimport_changes_nothing,
    bom_and_xlsx_files_import,
    header_maps_name_unusual_columns,
    hostile_files_are_refused_and_change_nothing,
    exports_open_in_excel_and_import_back_unchanged,
);

const GBK_FILE: &str = "客户编号,姓名,手机,联系电话,地址,服务区域,存款,标签,行为类型\r\n\
KH9001,张伟,138-1234-5678,(0531)8888-6666,济南市历下区经十路1号,历下区,15万,老客户、燃气,困惑型\r\n\
KH9002,李娜,+86 139 0000 1111,,济南市市中区,市中区,\"1,200,000.00\",VIP,\r\n\
KH9003,,13800000000,,,,,,\r\n\
KH9004,王芳,138123,,,,abc,,\r\n\
KH9001,重复,13800000001,,,,,,\r\n";

async fn upload(app: &TestApp, role: Role, query: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/customers/import{query}"))
        .header("authorization", format!("Bearer {}", app.token(role)))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    let (status, _, body) = app.send(req).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

async fn customer_count(app: &TestApp) -> i64 {
    app.get("/api/v1/customers?limit=1", Role::Manager).await.1["total"]
        .as_i64()
        .unwrap()
}

async fn gbk_file_with_chinese_headers_imports_and_reimport_changes_nothing(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, report) = upload(&app, Role::Manager, "", gbk(GBK_FILE)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["encoding"], "GB18030");
    assert_eq!(
        (
            report["rows"].as_i64(),
            report["inserted"].as_i64(),
            report["rejected"].as_i64()
        ),
        (Some(5), Some(2), Some(3))
    );
    let errors: Vec<(i64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (4, "姓名".into()),
            (5, "手机".into()),
            (5, "存款".into()),
            (6, "客户编号".into())
        ]
    );
    let (_, found) = app
        .get("/api/v1/customers/lookup?phone=13812345678", Role::Agent)
        .await;
    assert_eq!(found["matches"][0]["name"], "张伟");
    assert_eq!(found["matches"][0]["tier"], "quality");
    assert_eq!(found["matches"][0]["behaviour_type"], "confused");
    let (status, again) = upload(&app, Role::Admin, "", gbk(GBK_FILE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            again["inserted"].as_i64(),
            again["updated"].as_i64(),
            again["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(2))
    );
    assert_eq!(customer_count(&app).await, 2);
    // An explicit encoding that does not fit the file is refused whole.
    let (status, body) = upload(&app, Role::Manager, "?encoding=utf-8", gbk(GBK_FILE)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "import.invalid_file")
    );
    let (status, body) = upload(&app, Role::Agent, "", gbk(GBK_FILE)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "auth.forbidden")
    );
}

async fn bom_and_xlsx_files_import(db: &TestDb) {
    let app = TestApp::new(db).await;
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice("客户编号,姓名,手机\nB1,陈晓,13911112222\n".as_bytes());
    let (status, report) = upload(&app, Role::Manager, "", bom).await;
    assert_eq!(
        (status, report["inserted"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{report}"
    );
    let xlsx = kefu_files::write_xlsx(
        &["编号", "客户名称", "手机号码", "存款余额"],
        vec![vec![
            "X1".to_owned(),
            "刘洋".to_owned(),
            "13700001111".to_owned(),
            "300000".to_owned(),
        ]]
        .into_iter(),
    )
    .unwrap();
    let (status, report) = upload(&app, Role::Manager, "", xlsx).await;
    assert_eq!(
        (
            status,
            report["format"].as_str(),
            report["inserted"].as_i64()
        ),
        (StatusCode::OK, Some("xlsx"), Some(1)),
        "{report}"
    );
    let (_, found) = app
        .get("/api/v1/customers/lookup?phone=137-0000-1111", Role::Agent)
        .await;
    assert_eq!(found["matches"][0]["tier"], "vip");
}

async fn header_maps_name_unusual_columns(db: &TestDb) {
    let app = TestApp::new(db).await;
    let file = "用户号,联系人,移动号\nU1,赵磊,13600001111\n"
        .as_bytes()
        .to_vec();
    let (status, body) = upload(&app, Role::Manager, "", file.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "import.invalid_file")
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("name"));
    let map = urlencode("用户号=code,联系人=name,移动号=mobile");
    let (status, report) = upload(
        &app,
        Role::Manager,
        &format!("?header_map={map}"),
        file.clone(),
    )
    .await;
    assert_eq!(
        (status, report["inserted"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{report}"
    );
    let (status, body) = upload(
        &app,
        Role::Manager,
        &format!("?header_map={}", urlencode("用户号=salary")),
        file,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
}

async fn hostile_files_are_refused_and_change_nothing(db: &TestDb) {
    let config = ServerConfig {
        import_limit_bytes: 256 * 1024,
        ..ServerConfig::default()
    };
    let app = TestApp::with_config(db, config).await;
    let wide_header = (0..10_000)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    // Each refusal names its reason by code (the words come from the catalogs).
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "binary",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_not_a_table",
        ),
        (
            "empty",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_empty",
        ),
        (
            "header only",
            "客户编号,姓名,手机\r\n".as_bytes().to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_empty",
        ),
        (
            "10k columns",
            format!("{wide_header}\n1\n").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_too_many_columns",
        ),
        (
            "fake xlsx",
            b"PK\x03\x04 this is not a zip".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_syntax",
        ),
    ];
    for (what, bytes, status, reason) in cases {
        let (got, body) = upload(&app, Role::Manager, "", bytes).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"]["details"]["reason"], reason, "{what}: {body}");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{what}: {body}"
        );
    }
    let (got, body) = upload(&app, Role::Manager, "", vec![b'a'; 300 * 1024]).await;
    assert_eq!(
        (got, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "request.too_large")
    );
    // A data row with 10 000 columns is one rejected row; the others are imported.
    let wide_row = (0..10_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let file = format!("客户编号,姓名\nW1,甲\n{wide_row}\nW2,乙\n");
    let (status, report) = upload(&app, Role::Manager, "", file.into_bytes()).await;
    assert_eq!(
        (
            status,
            report["inserted"].as_i64(),
            report["rejected"].as_i64()
        ),
        (StatusCode::OK, Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["row"], 3);
    assert_eq!(customer_count(&app).await, 2);
    let (_, imports) = app
        .get("/api/v1/audit?action=customer.import", Role::Admin)
        .await;
    assert_eq!(
        imports["total"], 1,
        "only the one successful import is recorded"
    );
}

async fn exports_open_in_excel_and_import_back_unchanged(db: &TestDb) {
    let app = TestApp::new(db).await;
    upload(&app, Role::Manager, "", gbk(GBK_FILE)).await;
    let req = |query: &str, role: Role| {
        Request::builder()
            .uri(format!("/api/v1/customers/export{query}"))
            .header("authorization", format!("Bearer {}", app.token(role)))
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, csv) = app.send(req("?format=csv", Role::Manager)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]), "BOM for Excel");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.starts_with("客户编号,姓名,类型,手机,电话"), "{text}");
    assert!(
        text.contains("138 1234 5678") && text.contains("150000.00"),
        "{text}"
    );
    let (status, report) = upload(&app, Role::Manager, "", csv).await;
    assert_eq!(
        (
            status,
            report["unchanged"].as_i64(),
            report["rejected"].as_i64()
        ),
        (StatusCode::OK, Some(2), Some(0)),
        "{report}"
    );
    let (status, _, xlsx) = app.send(req("?format=xlsx&tier=vip", Role::Manager)).await;
    assert_eq!(status, StatusCode::OK);
    let table = kefu_files::read_table(&xlsx, None, None, &kefu_files::Limits::default()).unwrap();
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0].cells[0], "KH9002");
    let (status, _, body) = app.send(req("?format=pdf", Role::Manager)).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (status, _, _) = app.send(req("", Role::Agent)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
