//! A Kefu app on a fresh database, with one signed-in API token per role.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::audit::Actor;
use kefu_domain::staff::{DepartmentCode, DepartmentName, PersonName, StaffNo};
use kefu_domain::{DepartmentId, Role};
use kefu_server::auth::{TOKEN_PREFIX, hash_password, new_secret, secret_hash};
use kefu_server::{AppState, Clock, ServerConfig};
use kefu_store::staff::NewStaff;
use kefu_store::testing::TestDb;
use serde_json::Value;
use tower::ServiceExt;

pub const PASSWORD: &str = "test-password-1";

/// A clock the test moves by hand.
pub struct TestClock(pub Mutex<Timestamp>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<TestClock>,
    pub tokens: HashMap<Role, String>,
    pub department: DepartmentId,
}

/// Staff numbers of the accounts made for each role.
pub fn staff_no(role: Role) -> &'static str {
    match role {
        Role::Agent => "KF1001",
        Role::Handler => "WX2001",
        Role::Manager => "MGR01",
        Role::Admin => "ADM01",
    }
}

fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).unwrap())
        .clone()
}

impl TestApp {
    pub async fn new(db: &TestDb) -> TestApp {
        TestApp::with_config(db, ServerConfig::default()).await
    }

    pub async fn with_config(db: &TestDb, config: ServerConfig) -> TestApp {
        let clock = Arc::new(TestClock(Mutex::new(
            Timestamp::from_second(1_790_000_000).unwrap(),
        )));
        let now = clock.now();
        let store = db.store.clone();
        let system = Actor::System("test".into());
        let department = store
            .create_department(
                &system,
                &DepartmentCode::parse("REPAIR").unwrap(),
                &DepartmentName::parse("维修部").unwrap(),
                now,
            )
            .await
            .unwrap()
            .id;
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let member = store
                .create_staff(
                    &system,
                    &NewStaff {
                        staff_no: StaffNo::parse(staff_no(role)).unwrap(),
                        name: PersonName::parse("测试").unwrap(),
                        role,
                        department_id: Some(department),
                        password_hash: password_hash(),
                        must_change_password: false,
                        signs_in: true,
                    },
                    now,
                )
                .await
                .unwrap();
            let secret = new_secret(TOKEN_PREFIX);
            store
                .create_api_token(&system, member.id, "test", &secret_hash(&secret), now)
                .await
                .unwrap();
            tokens.insert(role, secret);
        }
        let state = AppState::with_clock(store, config, clock.clone());
        TestApp {
            router: kefu_console::app(state.clone()),
            state,
            clock,
            tokens,
            department,
        }
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.clock.0.lock().unwrap();
        *now += by;
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// Sends a request; `auth` is a bearer token. Returns status and JSON body
    /// (`Value::Null` when the body is empty or not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = auth {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let (status, _, body) = self.send(req).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    pub async fn get(&self, path: &str, role: Role) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(self.token(role)), None)
            .await
    }

    pub async fn post(&self, path: &str, role: Role, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(self.token(role)), Some(body))
            .await
    }

    /// Number of audit records, to prove a refused request changed nothing.
    pub async fn audit_rows(&self) -> i64 {
        self.state
            .store
            .list_audit(&Default::default(), kefu_store::PageRequest::new(0, 1))
            .await
            .unwrap()
            .total
    }
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Percent-encodes everything but the unreserved characters, for query strings.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
