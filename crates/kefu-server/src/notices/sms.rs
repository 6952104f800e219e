//! The SMS gateway adapter. It speaks a small JSON protocol over HTTP, as Chinese
//! SMS providers' APIs do (a send with a caller-chosen id, and a query by that id):
//! `POST send_url {"key", "to", "text"}` → 2xx `{"id": …}`; `GET lookup_url?key=…` →
//! 200 `{"found": true|false, "id"?}`. The same query protocol serves as the
//! delivery log of the e-mail channel.

use std::time::Duration;

use http_body_util::BodyExt;
use kefu_domain::incident::{GatewayAnswer, KeyLookup};

/// Where and how SMS notices go.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    pub send_url: String,
    pub lookup_url: String,
    /// Sent as `authorization: Bearer …` when set.
    pub token: Option<String>,
    /// Messages per second (0: no limit).
    pub per_second: u32,
    /// How long one request may take before its outcome counts as unknown.
    pub timeout: Duration,
}

pub(crate) fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// What came of one request: the answer, a failure (with whether the request
/// never left), or no answer within the timeout.
enum Exchange {
    /// The request could not even be built (a bad address).
    Invalid(String),
    Answered(axum::http::StatusCode, axum::body::Bytes),
    Failed {
        not_sent: bool,
        reason: String,
    },
    TimedOut,
}

async fn exchange(
    token: Option<&str>,
    timeout: Duration,
    request: axum::http::request::Builder,
    body: axum::body::Bytes,
) -> Exchange {
    let request = match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    };
    let request = match request.body(http_body_util::Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Exchange::Invalid(format!("bad request: {e}")),
    };
    let answer = tokio::time::timeout(timeout, async {
        let response = crate::jobs::http_client().request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, bytes))
    })
    .await;
    match answer {
        Err(_) => Exchange::TimedOut,
        Ok(Ok((status, bytes))) => Exchange::Answered(status, bytes),
        // Refused before the request left: certainly not sent.
        Ok(Err(e)) => Exchange::Failed {
            not_sent: e
                .downcast_ref::<hyper_util::client::legacy::Error>()
                .is_some_and(|e| e.is_connect()),
            reason: e.to_string(),
        },
    }
}

/// Asks a provider's log whether it has a message with `key` (Kefu's query
/// protocol: `GET url?key=…` → `{"found": …, "id"?}`, or 404 for not found).
pub(crate) async fn lookup_key(
    url: &str,
    token: Option<&str>,
    timeout: Duration,
    key: &str,
) -> KeyLookup {
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{url}{separator}key={}",
        key.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
    );
    let request = axum::http::Request::get(url);
    match exchange(token, timeout, request, axum::body::Bytes::new()).await {
        Exchange::TimedOut => KeyLookup::CannotTell {
            reason: "lookup timed out".into(),
        },
        Exchange::Invalid(reason) => KeyLookup::CannotTell { reason },
        Exchange::Failed { reason, .. } => KeyLookup::CannotTell {
            reason: format!("lookup failed: {reason}"),
        },
        Exchange::Answered(status, _) if status.as_u16() == 404 => KeyLookup::NotFound,
        Exchange::Answered(status, bytes) if status.is_success() => {
            match serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| {
                    let found = v.get("found")?.as_bool()?;
                    Some((
                        found,
                        v.get("id").and_then(|i| i.as_str()).map(str::to_owned),
                    ))
                }) {
                Some((true, provider_id)) => KeyLookup::Found { provider_id },
                Some((false, _)) => KeyLookup::NotFound,
                None => KeyLookup::CannotTell {
                    reason: format!("lookup answered garbage: {}", snippet(&bytes)),
                },
            }
        }
        Exchange::Answered(status, bytes) => KeyLookup::CannotTell {
            reason: format!("lookup answered {status}: {}", snippet(&bytes)),
        },
    }
}

impl SmsGateway {
    /// One send; what the answer means is the domain's [`GatewayAnswer`].
    pub async fn send(&self, key: &str, to: &str, text: &str) -> GatewayAnswer {
        let body = serde_json::json!({ "key": key, "to": to, "text": text }).to_string();
        let request = axum::http::Request::post(&self.send_url)
            .header("content-type", "application/json")
            .header("idempotency-key", key);
        match exchange(
            self.token.as_deref(),
            self.timeout,
            request,
            axum::body::Bytes::from(body),
        )
        .await
        {
            Exchange::Answered(status, bytes) => classify(status.as_u16(), &bytes),
            Exchange::Invalid(reason) => GatewayAnswer::Rejected { reason },
            Exchange::TimedOut => GatewayAnswer::Ambiguous {
                reason: format!("no answer within {} s", self.timeout.as_secs()),
            },
            Exchange::Failed {
                not_sent: true,
                reason,
            } => GatewayAnswer::Retry {
                reason: format!("cannot connect: {reason}"),
            },
            Exchange::Failed { reason, .. } => GatewayAnswer::Ambiguous {
                reason: format!("connection failed: {reason}"),
            },
        }
    }

    /// Asks whether the gateway has a message with `key`.
    pub async fn lookup(&self, key: &str) -> KeyLookup {
        lookup_key(&self.lookup_url, self.token.as_deref(), self.timeout, key).await
    }
}

/// What an HTTP answer to a send means. 429 and 503 say "not now" (nothing was
/// sent); other 4xx refuse the message for good; anything else — other 5xx, a 2xx
/// whose body is not the expected JSON — leaves it open whether the message left.
fn classify(status: u16, body: &[u8]) -> GatewayAnswer {
    match status {
        200..=299 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => GatewayAnswer::Accepted {
                provider_id: map.get("id").and_then(|v| v.as_str()).map(str::to_owned),
            },
            _ => GatewayAnswer::Ambiguous {
                reason: format!("answered {status} with garbage: {}", snippet(body)),
            },
        },
        429 | 503 => GatewayAnswer::Retry {
            reason: format!("answered {status}: {}", snippet(body)),
        },
        400..=499 => GatewayAnswer::Rejected {
            reason: format!("answered {status}: {}", snippet(body)),
        },
        _ => GatewayAnswer::Ambiguous {
            reason: format!("answered {status}: {}", snippet(body)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_conservatively() {
        assert!(matches!(
            classify(200, br#"{"id":"m1"}"#),
            GatewayAnswer::Accepted { provider_id: Some(ref id) } if id == "m1"
        ));
        assert!(matches!(
            classify(200, b"OK"),
            GatewayAnswer::Ambiguous { .. }
        ));
        assert!(matches!(classify(429, b""), GatewayAnswer::Retry { .. }));
        assert!(matches!(classify(503, b""), GatewayAnswer::Retry { .. }));
        assert!(matches!(
            classify(400, b"bad number"),
            GatewayAnswer::Rejected { .. }
        ));
        assert!(matches!(
            classify(500, b""),
            GatewayAnswer::Ambiguous { .. }
        ));
        assert!(matches!(
            classify(504, b""),
            GatewayAnswer::Ambiguous { .. }
        ));
    }
}
