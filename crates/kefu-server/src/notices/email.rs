//! The e-mail adapter: plain SMTP (lettre's client) to the center's mail relay.
//!
//! SMTP has no idempotency key and no way to ask a server afterwards whether it
//! took a message, so the adapter narrows and names the one moment of doubt:
//! everything before the message body is sent (connecting, greeting, MAIL, RCPT,
//! DATA) fails safely — nothing was handed over, the send is retried; the server's
//! 4xx or 5xx to the body is a clear "not taken"; only a lost connection or a
//! missing reply *after* the body went out is ambiguous. Each message carries its
//! idempotency key as its Message-ID (`<key@sender-domain>`) so that a delivery log
//! can be asked about it (`delivery_log`, Kefu's key-query protocol), and so that
//! a copy sent again after a manager's decision is recognisable as the same
//! message. Without a delivery log an ambiguous send waits for a manager
//! (`unconfirmed`); it is never sent again by itself. See ARCHITECTURE.md,
//! "Exactly-once notices".

use std::sync::Arc;
use std::time::{Duration, Instant};

use kefu_domain::incident::{GatewayAnswer, KeyLookup};
use lettre::address::{Address, Envelope};
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::sync::Mutex;

/// A log of sent mail that answers by Message-ID key (the provider's delivery
/// query, or a mail archive behind a small adapter).
#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub url: String,
    pub token: Option<String>,
}

/// Where and how e-mail notices go.
#[derive(Clone)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    /// The sender, e.g. `客服中心 <notice@example.com>`.
    pub from: Mailbox,
    /// Messages per second (0: no limit).
    pub per_second: u32,
    /// How long one SMTP step may take; a send whose body got no answer in this
    /// time counts as unknown.
    pub timeout: Duration,
    pub delivery_log: Option<DeliveryLog>,
    /// Open connections, with when each was last used.
    idle: Arc<Mutex<Vec<(AsyncSmtpConnection, Instant)>>>,
}

impl std::fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .field("per_second", &self.per_second)
            .field("timeout", &self.timeout)
            .field("delivery_log", &self.delivery_log)
            .finish()
    }
}

/// A connection idle longer than this is checked (NOOP) before it is used, so a
/// relay that closed it meanwhile costs a reconnect, not an ambiguous send.
const CHECK_AFTER: Duration = Duration::from_secs(2);
/// At most this many idle connections are kept.
const KEEP: usize = 32;

/// Why a message could not be made (it is never sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadMessage(String);

impl SmtpRelay {
    /// A relay sending as `from` (`客服中心 <notice@example.com>` or a bare
    /// address).
    pub fn new(
        host: impl Into<String>,
        port: u16,
        from: &str,
        per_second: u32,
        timeout: Duration,
        delivery_log: Option<DeliveryLog>,
    ) -> Result<SmtpRelay, BadMessage> {
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e| BadMessage(format!("'{from}' is not a sender address: {e}")))?;
        Ok(SmtpRelay {
            host: host.into(),
            port,
            from,
            per_second,
            timeout,
            delivery_log,
            idle: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The same relay, asking `log` about unclear sends.
    pub fn with_delivery_log(self, log: Option<DeliveryLog>) -> SmtpRelay {
        SmtpRelay {
            delivery_log: log,
            ..self
        }
    }

    /// The message for one customer, its Message-ID made from `key`.
    pub fn message(
        &self,
        key: &str,
        to: &str,
        name: &str,
        subject: &str,
        text: &str,
    ) -> Result<(Envelope, Vec<u8>), BadMessage> {
        let address: Address = to
            .trim()
            .parse()
            .map_err(|e| BadMessage(format!("'{to}' is not an e-mail address: {e}")))?;
        let domain = self.from.email.domain().to_owned();
        let recipient = Mailbox::new((!name.trim().is_empty()).then(|| name.to_owned()), address);
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .message_id(Some(format!("<{key}@{domain}>")))
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_owned())
            .map_err(|e| BadMessage(format!("cannot build the message: {e}")))?;
        Ok((message.envelope().clone(), message.formatted()))
    }

    async fn connection(&self) -> Result<AsyncSmtpConnection, String> {
        loop {
            let Some((mut conn, used)) = self.idle.lock().await.pop() else {
                break;
            };
            if used.elapsed() < CHECK_AFTER || conn.test_connected().await {
                return Ok(conn);
            }
        }
        let hello = ClientId::Domain(self.from.email.domain().to_owned());
        AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &hello,
            None,
            None,
        )
        .await
        .map_err(|e| {
            format!(
                "cannot reach the SMTP server {}:{}: {}",
                self.host,
                self.port,
                chain(&e)
            )
        })
    }

    async fn keep(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().await;
        if idle.len() < KEEP {
            idle.push((conn, Instant::now()));
        }
    }

    /// One send; what the answer means is the domain's [`GatewayAnswer`].
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> GatewayAnswer {
        // Connecting (TCP, greeting, EHLO) within one timeout as a whole, so a send
        // never outlasts three timeouts: connect, the commands before the body
        // (two), the body's answer (one) — well inside the lease margin.
        let mut conn = match tokio::time::timeout(self.timeout, self.connection()).await {
            Ok(Ok(c)) => c,
            Ok(Err(reason)) => return GatewayAnswer::Retry { reason },
            Err(_) => {
                return GatewayAnswer::Retry {
                    reason: format!(
                        "the SMTP server {}:{} did not answer within {} s",
                        self.host,
                        self.port,
                        self.timeout.as_secs()
                    ),
                };
            }
        };
        let mut options = Vec::new();
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a: &Address| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return GatewayAnswer::Rejected {
                    reason: "the address is not ASCII and the SMTP server does not take SMTPUTF8"
                        .into(),
                };
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        // Before the body: a failure here hands nothing over.
        let before = async {
            conn.command(Mail::new(envelope.from().cloned(), options))
                .await?;
            for to in envelope.to() {
                conn.command(Rcpt::new(to.clone(), Vec::new())).await?;
            }
            conn.command(Data).await
        };
        let before = tokio::time::timeout(self.timeout, before).await;
        match before {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                conn.abort().await;
                return match e.is_permanent() {
                    true => GatewayAnswer::Rejected {
                        reason: format!("the SMTP server refused the message: {}", chain(&e)),
                    },
                    false => GatewayAnswer::Retry {
                        reason: format!("the SMTP server did not take the message: {}", chain(&e)),
                    },
                };
            }
            Err(_) => {
                return GatewayAnswer::Retry {
                    reason: "the SMTP server did not answer before the message".into(),
                };
            }
        }
        // The body: from here on, only a clear answer is certain.
        match tokio::time::timeout(self.timeout, conn.message(message)).await {
            Ok(Ok(_)) => {
                self.keep(conn).await;
                GatewayAnswer::Accepted { provider_id: None }
            }
            Ok(Err(e)) if e.is_permanent() => {
                conn.abort().await;
                GatewayAnswer::Rejected {
                    reason: format!("the SMTP server refused the message: {}", chain(&e)),
                }
            }
            Ok(Err(e)) if e.is_transient() => {
                conn.abort().await;
                GatewayAnswer::Retry {
                    reason: format!("the SMTP server did not take the message: {}", chain(&e)),
                }
            }
            Ok(Err(e)) => GatewayAnswer::Ambiguous {
                reason: format!(
                    "the connection failed after the message was sent: {}",
                    chain(&e)
                ),
            },
            Err(_) => GatewayAnswer::Ambiguous {
                reason: format!(
                    "no answer to the message within {} s",
                    self.timeout.as_secs()
                ),
            },
        }
    }

    /// Asks the delivery log about `key`; without one, nobody can tell.
    pub async fn lookup(&self, key: &str) -> KeyLookup {
        match &self.delivery_log {
            Some(log) => {
                super::sms::lookup_key(&log.url, log.token.as_deref(), self.timeout, key).await
            }
            None => KeyLookup::NoRecord,
        }
    }
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
