//! FreeSWITCH's event socket (mod_event_socket, inbound mode) as bytes: the
//! messages FreeSWITCH sends (a header block ended by an empty line, then a body
//! of `Content-Length` bytes) and the commands a client writes.
//!
//! Written from the protocol's public description. Events are asked for as JSON
//! (`event json …`), whose body is one object of string values.

use std::collections::BTreeMap;

use crate::{LegEvent, LegKind, ProtocolError};

/// One message from FreeSWITCH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn content_type(&self) -> &str {
        self.header("Content-Type").unwrap_or_default()
    }

    /// `command/reply` says `+OK …` or `-ERR …` in Reply-Text.
    pub fn reply_ok(&self) -> bool {
        self.header("Reply-Text")
            .is_some_and(|r| r.starts_with("+OK"))
    }
}

/// Reads messages off a byte stream as they complete.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
}

/// The most a header block or body may hold before the stream is taken as broken.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message, if the buffer holds one.
    pub fn next_message(&mut self) -> Result<Option<Message>, ProtocolError> {
        crate::skip_line_breaks(&mut self.buffer);
        let Some(end) = find(&self.buffer, b"\n\n") else {
            if self.buffer.len() > MAX_MESSAGE {
                return Err(ProtocolError::TooLarge);
            }
            return Ok(None);
        };
        let head = std::str::from_utf8(&self.buffer[..end]).map_err(|_| ProtocolError::NotText)?;
        let headers = header_lines(head, false)?;
        let length = match headers.get("Content-Length") {
            None => 0,
            Some(n) => n
                .trim()
                .parse::<usize>()
                .map_err(|_| ProtocolError::BadLength(n.clone()))?,
        };
        if length > MAX_MESSAGE {
            return Err(ProtocolError::TooLarge);
        }
        let body_start = end + 2;
        if self.buffer.len() < body_start + length {
            return Ok(None);
        }
        let body = String::from_utf8(self.buffer[body_start..body_start + length].to_vec())
            .map_err(|_| ProtocolError::NotText)?;
        self.buffer.drain(..body_start + length);
        Ok(Some(Message { headers, body }))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `Name: value` lines; in an event-plain body the values are URL-encoded.
fn header_lines(text: &str, decode: bool) -> Result<BTreeMap<String, String>, ProtocolError> {
    let mut map = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ProtocolError::BadHeader(line.chars().take(80).collect()))?;
        let value = value.trim();
        let value = if decode {
            percent_decode(value)
        } else {
            value.to_owned()
        };
        map.insert(name.trim().to_owned(), value);
    }
    Ok(map)
}

fn percent_decode(raw: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An event's fields: from a `text/event-json` body, or a `text/event-plain` one.
pub fn event_fields(message: &Message) -> Result<BTreeMap<String, String>, ProtocolError> {
    match message.content_type() {
        "text/event-json" => {
            let value: serde_json::Value = serde_json::from_str(&message.body)
                .map_err(|e| ProtocolError::BadJson(e.to_string()))?;
            let object = value
                .as_object()
                .ok_or(ProtocolError::BadJson("an event is a JSON object".into()))?;
            Ok(object
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect())
        }
        "text/event-plain" => {
            let head = message.body.split("\n\n").next().unwrap_or_default();
            header_lines(head, true)
        }
        other => Err(ProtocolError::Unexpected(other.to_owned())),
    }
}

/// How a FreeSWITCH deployment names the parts the bridge needs.
#[derive(Debug, Clone)]
pub struct Naming {
    /// The channel variable holding the agent's extension on an agent's leg
    /// (`dialed_user` when agents are reached as `user/8001`).
    pub agent_variable: String,
}

/// The events the bridge subscribes to.
pub const EVENTS: &str = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE RECORD_STOP BACKGROUND_JOB";

/// A channel event as a leg event (None for events the bridge does not use).
pub fn leg_event(
    fields: &BTreeMap<String, String>,
    naming: &Naming,
) -> Result<Option<LegEvent>, ProtocolError> {
    let get = |k: &str| fields.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let name = get("Event-Name").ok_or(ProtocolError::Missing("Event-Name"))?;
    let kind = match name {
        "CHANNEL_CREATE" => LegKind::Created,
        "CHANNEL_ANSWER" => LegKind::Answered,
        "CHANNEL_HOLD" => LegKind::Held,
        "CHANNEL_UNHOLD" => LegKind::Unheld,
        "CHANNEL_HANGUP_COMPLETE" => LegKind::Hangup {
            by_remote: match get("variable_sip_hangup_disposition") {
                Some(d) if d.starts_with("recv_") => Some(true),
                Some(d) if d.starts_with("send_") => Some(false),
                _ => None,
            },
            bridged: Some(get("variable_last_bridge_to").is_some()),
        },
        "RECORD_STOP" => LegKind::Recorded {
            file: get("Record-File-Path")
                .ok_or(ProtocolError::Missing("Record-File-Path"))?
                .to_owned(),
        },
        _ => return Ok(None),
    };
    let leg = get("Unique-ID").ok_or(ProtocolError::Missing("Unique-ID"))?;
    // The call's id: the originating leg's UUID, shared by every leg of the call.
    let call = get("Channel-Call-UUID").unwrap_or(leg);
    let at = match get("Event-Date-Timestamp") {
        Some(us) => {
            let us: i64 = us
                .parse()
                .map_err(|_| ProtocolError::BadTime(us.to_owned()))?;
            jiff::Timestamp::from_microsecond(us)
                .map_err(|_| ProtocolError::BadTime(us.to_string()))?
        }
        None => return Err(ProtocolError::Missing("Event-Date-Timestamp")),
    };
    let agent = get(&format!("variable_{}", naming.agent_variable)).map(str::to_owned);
    let outbound_leg = get("Call-Direction") == Some("outbound");
    // The number at the far end of this leg: who called in on an inbound leg,
    // who was dialled on an outbound one.
    let remote = if outbound_leg {
        get("Caller-Destination-Number")
    } else {
        get("Caller-Caller-ID-Number")
    };
    Ok(Some(LegEvent {
        call: call.to_owned(),
        leg: leg.to_owned(),
        kind,
        at,
        remote: remote.map(str::to_owned),
        dialed: get("Caller-Destination-Number").map(str::to_owned),
        agent,
        originating: !outbound_leg,
        dial: get("variable_kefu_dial").map(str::to_owned),
    }))
}

/// The legs FreeSWITCH has now, from `api show channels as json`: each as a
/// created leg, and an answered one when it is up.
pub fn live_legs(body: &str, naming: &Naming) -> Result<Vec<LegEvent>, ProtocolError> {
    #[derive(serde::Deserialize)]
    struct Channels {
        #[serde(default)]
        rows: Vec<BTreeMap<String, serde_json::Value>>,
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let channels: Channels =
        serde_json::from_str(body).map_err(|e| ProtocolError::BadJson(e.to_string()))?;
    let mut legs = Vec::new();
    for row in channels.rows {
        let get = |k: &str| row.get(k).map(text).filter(|v| !v.is_empty());
        let Some(leg) = get("uuid") else { continue };
        let call = get("call_uuid").unwrap_or_else(|| leg.clone());
        let created = get("created_epoch")
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .unwrap_or_else(jiff::Timestamp::now);
        let outbound = get("direction").as_deref() == Some("outbound");
        // The listing carries few channel variables; an agent leg it does not name
        // is known from the events seen before (or is left alone).
        let agent = get(&naming.agent_variable);
        let base = LegEvent {
            call,
            leg,
            kind: LegKind::Created,
            at: created,
            remote: if outbound {
                get("dest")
            } else {
                get("cid_num")
            },
            dialed: get("dest"),
            agent,
            originating: !outbound,
            dial: get("kefu_dial"),
        };
        let up = matches!(
            get("callstate").as_deref(),
            Some("ACTIVE" | "HELD" | "EARLY_ACTIVE")
        );
        if up {
            legs.push(base.clone());
            legs.push(LegEvent {
                kind: LegKind::Answered,
                ..base
            });
        } else {
            legs.push(base);
        }
    }
    Ok(legs)
}

/// `auth <password>`.
pub fn auth(password: &str) -> String {
    format!("auth {password}\n\n")
}

/// Subscribes to the channel events as JSON.
pub fn subscribe() -> String {
    format!("event json {EVENTS}\n\n")
}

/// A background API command (answered at once with a Job-UUID, its result later).
pub fn bgapi(command: &str) -> String {
    format!("bgapi {}\n\n", command.replace(['\n', '\r'], " "))
}

/// A blocking API command.
pub fn api(command: &str) -> String {
    format!("api {}\n\n", command.replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_split_on_their_length_in_any_chunking() {
        let body = r#"{"Event-Name":"CHANNEL_ANSWER","Unique-ID":"a","Event-Date-Timestamp":"1765000000000000"}"#;
        let stream = format!(
            "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\n\
             Content-Length: {}\nContent-Type: text/event-json\n\n{body}",
            body.len()
        );
        for chunk in [1, 3, 17, stream.len()] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for piece in stream.as_bytes().chunks(chunk) {
                d.push(piece);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got.len(), 3, "chunk {chunk}");
            assert_eq!(got[0].content_type(), "auth/request");
            assert!(got[1].reply_ok());
            assert_eq!(got[2].body, body);
        }
    }

    #[test]
    fn plain_events_are_url_decoded() {
        let body = "Event-Name: CHANNEL_CREATE\nCaller-Caller-ID-Name: %E5%BC%A0%E4%B8%89\n\n";
        let m = Message {
            headers: [("Content-Type".to_owned(), "text/event-plain".to_owned())].into(),
            body: body.into(),
        };
        let f = event_fields(&m).unwrap();
        assert_eq!(f["Caller-Caller-ID-Name"], "张三");
    }

    #[test]
    fn a_bad_length_is_an_error_not_a_hang() {
        let mut d = Decoder::default();
        d.push(b"Content-Length: many\n\n");
        assert!(d.next_message().is_err());
    }
}
