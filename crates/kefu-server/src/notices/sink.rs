//! A mail sink: an SMTP server (mailin's protocol engine) on loopback that keeps
//! every message it takes, for the tests and `kefu bench incidents`. It can be
//! told to misbehave the ways real relays do: refuse recipients, refuse a message,
//! answer late, or cut the connection right after taking a message. A serving
//! process never starts one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    /// The value of header `name` (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push_str(line);
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    /// The subject, its encoded words (RFC 2047) decoded.
    pub fn subject(&self) -> Option<String> {
        let raw = self.header("subject")?;
        let mut out = String::new();
        for word in raw.split_whitespace() {
            let decoded = word
                .strip_prefix("=?")
                .and_then(|w| w.strip_suffix("?="))
                .and_then(|w| {
                    let mut parts = w.splitn(3, '?');
                    let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                    let bytes = match encoding {
                        "b" | "B" => base64_decode(text)?,
                        _ => quoted_printable(&text.replace('_', " ")),
                    };
                    String::from_utf8(bytes).ok()
                });
            out.push_str(&decoded.unwrap_or_else(|| word.to_owned()));
        }
        Some(out)
    }

    /// The body as text, its transfer encoding undone.
    pub fn text(&self) -> String {
        let data = String::from_utf8_lossy(&self.data);
        let body = data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let encoding = self
            .header("content-transfer-encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64_decode(&body.replace(['\r', '\n'], "")).unwrap_or_default(),
            "quoted-printable" => quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The key in the Message-ID (`<key@domain>`).
    pub fn message_key(&self) -> Option<String> {
        let id = self.header("message-id")?;
        let id = id.trim_start_matches('<');
        Some(id.split('@').next().unwrap_or_default().to_owned())
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3).unwrap_or_default())
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// How the sink answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Recipients containing this text get this reply code to RCPT.
    pub refuse_rcpt: Option<(String, u16)>,
    /// Messages are answered with this code and not kept.
    pub refuse_message: Option<u16>,
    /// The reply to a kept message comes this late.
    pub reply_delay: Duration,
    /// A kept message gets no reply: the connection is cut.
    pub cut_after_message: bool,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    behaviour: Behaviour,
}

/// A running sink; it stops with the runtime that started it.
#[derive(Clone)]
pub struct MailSink {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

struct SinkHandler {
    shared: Arc<Mutex<Shared>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    kept: Arc<AtomicBool>,
}

impl SinkHandler {
    fn behaviour(&self) -> Behaviour {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .behaviour
            .clone()
    }
}

impl Handler for SinkHandler {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        self.data.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if let Some((text, code)) = self.behaviour().refuse_rcpt
            && to.contains(&text)
        {
            return Response::custom(code, "mailbox refused".into());
        }
        self.to.push(to.to_owned());
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(code) = self.behaviour().refuse_message {
            return Response::custom(code, "message refused".into());
        }
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .received
            .push(Received {
                from: std::mem::take(&mut self.from),
                to: std::mem::take(&mut self.to),
                data: std::mem::take(&mut self.data),
            });
        self.kept.store(true, Ordering::SeqCst);
        mailin::response::OK
    }
}

impl MailSink {
    /// Listens on a free loopback port.
    pub async fn start() -> std::io::Result<MailSink> {
        MailSink::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Listens on `addr` (a relay that comes up where one was expected).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<MailSink> {
        let listener = TcpListener::bind(addr).await?;
        let sink = MailSink {
            addr: listener.local_addr()?,
            shared: Arc::default(),
        };
        let shared = sink.shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                tokio::spawn(serve(stream, peer, shared.clone()));
            }
        });
        Ok(sink)
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .behaviour = behaviour;
    }

    /// Everything taken so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .received
            .clone()
    }

    pub fn count(&self) -> usize {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .received
            .len()
    }

    /// Whether a message with this Message-ID key was taken.
    pub fn has_key(&self, key: &str) -> bool {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .received
            .iter()
            .any(|m| m.message_key().as_deref() == Some(key))
    }
}

async fn serve(stream: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Mutex<Shared>>) {
    let kept = Arc::new(AtomicBool::new(false));
    let handler = SinkHandler {
        shared: shared.clone(),
        from: String::new(),
        to: Vec::new(),
        data: Vec::new(),
        kept: kept.clone(),
    };
    let mut session = SessionBuilder::new("kefu-sink").build(peer.ip(), handler);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let reply = |r: &Response| r.buffer().unwrap_or_default();
    if write.write_all(&reply(&session.greeting())).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match read.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = session.process(&line);
        if kept.swap(false, Ordering::SeqCst) {
            let behaviour = shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .behaviour
                .clone();
            if behaviour.cut_after_message {
                return;
            }
            tokio::time::sleep(behaviour.reply_delay).await;
        }
        match response.action {
            Action::NoReply => {}
            Action::Reply => {
                if write.write_all(&reply(&response)).await.is_err() {
                    return;
                }
            }
            Action::Close | Action::UpgradeTls => {
                let _ = write.write_all(&reply(&response)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_subjects_and_bodies_are_read_back() {
        let m = Received {
            from: String::new(),
            to: Vec::new(),
            data: b"Subject: =?utf-8?b?5YGc5rCU?=\r\n =?utf-8?b?6YCa55+l?=\r\nContent-Transfer-Encoding: quoted-printable\r\nMessage-ID: <kefu-inc1-n2-email@x.cn>\r\n\r\na=3Db=\r\nc\r\n".to_vec(),
        };
        assert_eq!(m.subject().as_deref(), Some("停气通知"));
        assert_eq!(m.text(), "a=bc\r\n");
        assert_eq!(m.message_key().as_deref(), Some("kefu-inc1-n2-email"));
    }
}
