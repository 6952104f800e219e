//! Bridges from a PBX to Kefu: FreeSWITCH's event socket and Asterisk's manager
//! interface read as the calls' legs ([`LegEvent`]), turned into Kefu's
//! telephony events ([`mapper`]) and written through Kefu's event API, which
//! deduplicates them; click-to-dial requests taken from Kefu and placed through
//! the PBX.
//!
//! The protocol modules ([`esl`], [`ami`]) and the [`mapper`] do no IO; [`run`]
//! holds the connections. A bridge keeps nothing that matters between runs: after
//! a lost connection it asks the PBX which calls are live and Kefu which calls it
//! thinks are, and every event it writes carries a key Kefu recognises again.

pub mod ami;
pub mod client;
pub mod esl;
pub mod mapper;
pub mod run;

use jiff::Timestamp;

/// What the PBX says happened to one leg (channel) of a call, whichever PBX said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegEvent {
    /// The PBX's id of the whole call, shared by its legs (FreeSWITCH's
    /// Channel-Call-UUID, Asterisk's Linkedid).
    pub call: String,
    /// This leg's id (Unique-ID, Uniqueid).
    pub leg: String,
    pub kind: LegKind,
    pub at: Timestamp,
    /// The number at the far end of this leg: the caller on a leg that called in,
    /// the dialled number on a leg the PBX placed.
    pub remote: Option<String>,
    /// The number this leg dialled (the hotline, on a customer's incoming leg).
    pub dialed: Option<String>,
    /// The agent's extension, when this leg reaches an agent's phone.
    pub agent: Option<String>,
    /// Whether this leg started the call (an agent's phone that dialled out).
    pub originating: bool,
    /// Kefu's click-to-dial request, on the legs of a call Kefu asked for.
    pub dial: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegKind {
    Created,
    Answered,
    Held,
    Unheld,
    /// The party on this leg asked to hang up (Asterisk's HangupRequest).
    HangupRequested,
    /// The leg is gone. `by_remote`: the far end hung up (true), the PBX ended
    /// the leg (false), not said (None).
    Hangup {
        by_remote: Option<bool>,
        /// Whether the leg had been bridged to another (talked with an agent).
        bridged: Option<bool>,
    },
    /// A recording of the leg was finished.
    Recorded {
        file: String,
    },
}

/// A PBX stream that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("a message is larger than 8 MiB")]
    TooLarge,
    #[error("a message is not UTF-8 text")]
    NotText,
    #[error("Content-Length '{0}' is not a number")]
    BadLength(String),
    #[error("'{0}' is not a header line")]
    BadHeader(String),
    #[error("an event's JSON: {0}")]
    BadJson(String),
    #[error("an event without {0}")]
    Missing(&'static str),
    #[error("'{0}' is not a time")]
    BadTime(String),
    #[error("unexpected {0}")]
    Unexpected(String),
}

/// Drops the line breaks before a message (both protocols allow blank lines
/// between messages).
fn skip_line_breaks(buffer: &mut Vec<u8>) {
    let lead = buffer
        .iter()
        .take_while(|b| **b == b'\n' || **b == b'\r')
        .count();
    buffer.drain(..lead);
}
