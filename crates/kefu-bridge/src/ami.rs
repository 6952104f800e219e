//! Asterisk's manager interface (AMI) as bytes: the greeting line, then blocks of
//! `Key: Value` lines ended by an empty line, each a response (to an action, by
//! its ActionID) or an event; and the actions a client writes.
//!
//! Written from the protocol's public description. The bridge needs, in
//! manager.conf, `timestampevents = yes` (events carry their time; without it the
//! time of receipt is used) and `channelvars = KEFU_DIAL` (a click-to-dial call's
//! legs carry Kefu's request).

use jiff::Timestamp;
use regex::Regex;

use crate::{LegEvent, LegKind, ProtocolError};

/// One block from Asterisk; keys may repeat (ChanVariable).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub fields: Vec<(String, String)>,
}

impl Message {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }

    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }

    /// A channel variable the event carries (`ChanVariable: NAME=value`, or
    /// `ChanVariable(channel): NAME=value` in older releases).
    pub fn channel_variable(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k.starts_with("ChanVariable"))
            .filter_map(|(_, v)| v.split_once('='))
            .find(|(n, _)| n.trim_start_matches('_') == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }
}

/// What came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `Asterisk Call Manager/5.0.1`, first on a connection.
    Greeting(String),
    Message(Message),
}

#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
}

const MAX_BLOCK: usize = 1024 * 1024;

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        crate::skip_line_breaks(&mut self.buffer);
        // The greeting is one line without a colon-separated value.
        if let Some(nl) = self.buffer.iter().position(|b| *b == b'\n') {
            let first = String::from_utf8_lossy(&self.buffer[..nl])
                .trim()
                .to_owned();
            if first.starts_with("Asterisk Call Manager") {
                self.buffer.drain(..=nl);
                return Ok(Some(Frame::Greeting(first)));
            }
        }
        let end = block_end(&self.buffer);
        let Some((end, skip)) = end else {
            if self.buffer.len() > MAX_BLOCK {
                return Err(ProtocolError::TooLarge);
            }
            return Ok(None);
        };
        let text = std::str::from_utf8(&self.buffer[..end]).map_err(|_| ProtocolError::NotText)?;
        let mut fields = Vec::new();
        for line in text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
        {
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| ProtocolError::BadHeader(line.chars().take(80).collect()))?;
            fields.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        self.buffer.drain(..end + skip);
        Ok(Some(Frame::Message(Message { fields })))
    }
}

/// Where a block ends: an empty line (`\r\n\r\n`, or bare `\n\n`).
fn block_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// How an Asterisk deployment names its agents' phones.
#[derive(Debug, Clone)]
pub struct Naming {
    /// Matches the device part of an agent's channel (`8001` in
    /// `PJSIP/8001-0000002a`); trunks and other devices do not match.
    pub agent_device: Regex,
    /// The file MixMonitor records a call to, as the dialplan names it, with
    /// `{linkedid}` and `{uniqueid}` filled in (e.g. `/var/spool/asterisk/monitor/{linkedid}.wav`);
    /// Asterisk's MixMonitorStop does not say the file. None: recordings are not
    /// reported.
    pub recording_file: Option<String>,
}

impl Naming {
    /// The agent's extension a channel or interface name reaches, if it is an
    /// agent's: `PJSIP/8001-0000002a` and `PJSIP/8001` both give 8001.
    pub fn agent_of(&self, channel: &str) -> Option<String> {
        let (_, rest) = channel.split_once('/')?;
        let device = match rest.rsplit_once('-') {
            Some((device, seq)) if seq.chars().all(|c| c.is_ascii_hexdigit()) => device,
            _ => rest,
        };
        self.agent_device
            .is_match(device)
            .then(|| device.to_owned())
    }
}

fn time(m: &Message, received: Timestamp) -> Result<Timestamp, ProtocolError> {
    match m.get("Timestamp") {
        None => Ok(received),
        Some(raw) => {
            let (secs, frac) = raw.split_once('.').unwrap_or((raw, "0"));
            let secs: i64 = secs
                .parse()
                .map_err(|_| ProtocolError::BadTime(raw.to_owned()))?;
            let micros: i64 = format!("{frac:0<6}")
                .get(..6)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| ProtocolError::BadTime(raw.to_owned()))?;
            Timestamp::from_microsecond(secs * 1_000_000 + micros)
                .map_err(|_| ProtocolError::BadTime(raw.to_owned()))
        }
    }
}

/// A channel's event (or a CoreShowChannel list entry) as leg events;
/// `received` stands in for the time when events carry none.
pub fn leg_events(
    m: &Message,
    naming: &Naming,
    received: Timestamp,
) -> Result<Vec<LegEvent>, ProtocolError> {
    let Some(event) = m.event() else {
        return Ok(Vec::new());
    };
    let at = time(m, received)?;
    // Queue events name the agent's leg as the destination.
    let (prefix, kinds): (&str, Vec<LegKind>) = match event {
        "Newchannel" => ("", vec![LegKind::Created]),
        "Newstate" if m.get("ChannelState") == Some("6") => ("", vec![LegKind::Answered]),
        "Hold" => ("", vec![LegKind::Held]),
        "Unhold" => ("", vec![LegKind::Unheld]),
        "HangupRequest" => ("", vec![LegKind::HangupRequested]),
        "Hangup" => (
            "",
            vec![LegKind::Hangup {
                by_remote: None,
                bridged: None,
            }],
        ),
        "AgentCalled" => ("Dest", vec![LegKind::Created]),
        "AgentConnect" => ("Dest", vec![LegKind::Answered]),
        "CoreShowChannel" if m.get("ChannelState") == Some("6") => {
            ("", vec![LegKind::Created, LegKind::Answered])
        }
        "CoreShowChannel" => ("", vec![LegKind::Created]),
        "MixMonitorStop" => match &naming.recording_file {
            Some(template) => {
                let leg = m.get("Uniqueid").unwrap_or_default();
                let call = m.get("Linkedid").unwrap_or(leg);
                let file = template
                    .replace("{linkedid}", call)
                    .replace("{uniqueid}", leg);
                ("", vec![LegKind::Recorded { file }])
            }
            None => return Ok(Vec::new()),
        },
        _ => return Ok(Vec::new()),
    };
    let field = |name: &str| m.get(&format!("{prefix}{name}"));
    let leg = field("Uniqueid").ok_or(ProtocolError::Missing("Uniqueid"))?;
    // The call: the Linkedid its legs share (a queue event's destination leg
    // belongs to the caller's call).
    let call = m
        .get("Linkedid")
        .or_else(|| field("Linkedid"))
        .unwrap_or(leg);
    let channel = field("Channel").unwrap_or_default();
    let agent = naming.agent_of(channel).or_else(|| match event {
        "AgentCalled" | "AgentConnect" => m.get("Interface").and_then(|i| naming.agent_of(i)),
        _ => None,
    });
    let base = LegEvent {
        call: call.to_owned(),
        leg: leg.to_owned(),
        kind: LegKind::Created,
        at,
        remote: field("CallerIDNum")
            .filter(|n| *n != "<unknown>")
            .map(str::to_owned),
        dialed: field("Exten").filter(|e| *e != "s").map(str::to_owned),
        agent,
        originating: field("Linkedid").is_none_or(|l| l == leg) && prefix.is_empty(),
        dial: m.channel_variable("KEFU_DIAL").map(str::to_owned),
    };
    Ok(kinds
        .into_iter()
        .map(|kind| LegEvent {
            kind,
            ..base.clone()
        })
        .collect())
}

/// An action block.
pub fn action(name: &str, id: &str, fields: &[(&str, &str)]) -> String {
    let clean = |v: &str| v.replace(['\r', '\n'], " ");
    let mut out = format!("Action: {name}\r\nActionID: {}\r\n", clean(id));
    for (k, v) in fields {
        out.push_str(&format!("{k}: {}\r\n", clean(v)));
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn naming() -> Naming {
        Naming {
            agent_device: Regex::new(r"^\d{3,6}$").unwrap(),
            recording_file: Some("/var/spool/asterisk/monitor/{linkedid}.wav".into()),
        }
    }

    #[test]
    fn a_finished_recording_is_named_by_the_template() {
        let m = Message {
            fields: [
                ("Event", "MixMonitorStop"),
                ("Channel", "PJSIP/trunk-cn-0000000b"),
                ("Uniqueid", "1789999000.11"),
                ("Linkedid", "1789999000.11"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        };
        let legs = leg_events(&m, &naming(), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(
            legs[0].kind,
            LegKind::Recorded {
                file: "/var/spool/asterisk/monitor/1789999000.11.wav".into()
            }
        );
        let quiet = Naming {
            recording_file: None,
            ..naming()
        };
        assert!(
            leg_events(&m, &quiet, Timestamp::UNIX_EPOCH)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn greeting_then_blocks_in_any_chunking() {
        let stream = "Asterisk Call Manager/5.0.1\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\nEvent: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\nCallerIDNum: 13905312468\r\nExten: 96777\r\nTimestamp: 1765000000.250000\r\n\r\n";
        for chunk in [1, 5, stream.len()] {
            let mut d = Decoder::default();
            let mut frames = Vec::new();
            for piece in stream.as_bytes().chunks(chunk) {
                d.push(piece);
                while let Some(f) = d.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 3, "chunk {chunk}");
            let Frame::Message(m) = &frames[2] else {
                panic!()
            };
            let legs = leg_events(m, &naming(), Timestamp::UNIX_EPOCH).unwrap();
            assert_eq!(legs.len(), 1);
            assert_eq!(legs[0].remote.as_deref(), Some("13905312468"));
            assert_eq!(legs[0].agent, None);
            assert_eq!(legs[0].at.as_millisecond(), 1_765_000_000_250);
        }
    }

    #[test]
    fn agents_are_told_by_their_device() {
        let n = naming();
        assert_eq!(n.agent_of("PJSIP/8001-0000002a").as_deref(), Some("8001"));
        assert_eq!(n.agent_of("PJSIP/8001").as_deref(), Some("8001"));
        assert_eq!(n.agent_of("PJSIP/trunk-cn-00000001"), None);
        assert_eq!(n.agent_of("Local/8001@agents-00000001;1"), None);
    }

    #[test]
    fn actions_cannot_smuggle_lines() {
        let a = action("Originate", "d1", &[("Exten", "139\r\nAction: Logoff")]);
        assert_eq!(a.lines().filter(|l| l.starts_with("Action:")).count(), 1);
        assert_eq!(a.matches("\r\n\r\n").count(), 1);
    }
}
