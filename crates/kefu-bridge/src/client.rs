//! Kefu's API as the bridge uses it: telephony events in, live calls and
//! click-to-dial requests out. Plain HTTP/1.1 with a bearer token (an integration
//! account's); put a TLS relay in front when Kefu is not on the same network.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::mapper::KefuEvent;

/// Why a request to Kefu did not go through.
#[derive(Debug, thiserror::Error)]
pub enum KefuError {
    /// Kefu could not be reached or answered 5xx: try again.
    #[error("Kefu unreachable: {0}")]
    Unreachable(String),
    /// The event names a call Kefu has no contact for yet.
    #[error("Kefu does not know the call yet")]
    UnknownCall,
    /// Kefu refused the request as it stands (bad token, bad field): retrying
    /// cannot help.
    #[error("Kefu refused the request ({status}): {body}")]
    Refused { status: u16, body: String },
}

/// What Kefu said of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
}

/// A click-to-dial request Kefu holds for a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DialRequest {
    pub id: i64,
    /// The agent's extension, rung first.
    pub extension: String,
    /// The customer's number, dialled when the agent answers.
    pub number: String,
}

#[derive(Clone)]
pub struct Kefu {
    base: String,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Kefu {
    /// `base`: `http://host:port` of a Kefu server.
    pub fn new(base: &str, token: &str) -> Kefu {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Kefu {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
            timeout: Duration::from_secs(10),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, Bytes), KefuError> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| KefuError::Refused {
                status: 0,
                body: e.to_string(),
            })?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| KefuError::Unreachable("no answer within 10 s".into()))?
            .map_err(|e| KefuError::Unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| KefuError::Unreachable("the answer stopped".into()))?
            .map_err(|e| KefuError::Unreachable(e.to_string()))?
            .to_bytes();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(KefuError::Unreachable(format!("HTTP {status}")));
        }
        Ok((status, bytes))
    }

    fn refused(status: StatusCode, body: &Bytes) -> KefuError {
        KefuError::Refused {
            status: status.as_u16(),
            body: String::from_utf8_lossy(body).chars().take(300).collect(),
        }
    }

    pub async fn post_event(&self, event: &KefuEvent) -> Result<Posted, KefuError> {
        let body = serde_json::to_string(event).map_err(|e| KefuError::Refused {
            status: 0,
            body: e.to_string(),
        })?;
        let (status, bytes) = self
            .call(Method::POST, "/api/v1/telephony/events", Some(body))
            .await?;
        match status {
            StatusCode::OK => {
                let applied = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("applied").and_then(serde_json::Value::as_bool))
                    .unwrap_or(true);
                Ok(if applied {
                    Posted::Applied
                } else {
                    Posted::Duplicate
                })
            }
            StatusCode::NOT_FOUND => Err(KefuError::UnknownCall),
            _ => Err(Self::refused(status, &bytes)),
        }
    }

    /// Kefu's calls with ids starting `prefix` that have not ended.
    pub async fn live_calls(&self, prefix: &str) -> Result<Vec<String>, KefuError> {
        #[derive(Deserialize)]
        struct Live {
            calls: Vec<String>,
        }
        let path = format!("/api/v1/telephony/live-calls?prefix={}", encode(prefix));
        let (status, bytes) = self.call(Method::GET, &path, None).await?;
        if status != StatusCode::OK {
            return Err(Self::refused(status, &bytes));
        }
        serde_json::from_slice::<Live>(&bytes)
            .map(|l| l.calls)
            .map_err(|e| KefuError::Refused {
                status: status.as_u16(),
                body: e.to_string(),
            })
    }

    /// Takes the click-to-dial requests waiting for `bridge` (each is handed to
    /// one bridge only).
    pub async fn claim_dials(&self, bridge: &str) -> Result<Vec<DialRequest>, KefuError> {
        #[derive(Deserialize)]
        struct Claimed {
            requests: Vec<DialRequest>,
        }
        let body = serde_json::json!({ "bridge": bridge }).to_string();
        let (status, bytes) = self
            .call(Method::POST, "/api/v1/telephony/dials/claim", Some(body))
            .await?;
        if status != StatusCode::OK {
            return Err(Self::refused(status, &bytes));
        }
        serde_json::from_slice::<Claimed>(&bytes)
            .map(|c| c.requests)
            .map_err(|e| KefuError::Refused {
                status: status.as_u16(),
                body: e.to_string(),
            })
    }

    /// Reports a dial the PBX could not place: `reason` one of Kefu's codes (see
    /// [`crate::run::failure_reason`]), `detail` the PBX's own words.
    pub async fn dial_failed(&self, id: i64, reason: &str, detail: &str) -> Result<(), KefuError> {
        let detail: String = detail.chars().take(200).collect();
        let body = serde_json::json!({ "outcome": "failed", "reason": reason, "detail": detail })
            .to_string();
        let (status, bytes) = self
            .call(
                Method::POST,
                &format!("/api/v1/telephony/dials/{id}/result"),
                Some(body),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::refused(status, &bytes))
        }
    }
}

fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
