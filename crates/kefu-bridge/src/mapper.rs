//! Legs into calls: which PBX leg is the customer's and which an agent's, and the
//! Kefu telephony events they amount to.
//!
//! - An incoming call rings (Kefu's `ringing`, no extension) when the customer's
//!   leg appears — it is then waiting — and rings at an agent (`ringing` with the
//!   extension: the screen pop) when a leg to the agent's phone appears. The
//!   agent's answer is `answered`. A later agent leg after an answer is a
//!   transfer (`transferred`, then the new agent's `ringing`).
//! - A call Kefu asked for (click-to-dial) or an agent dialled rings the
//!   customer when the customer's leg appears and is `answered` when the
//!   customer answers.
//! - Holds on any leg are `held`/`resumed`; the customer's leg ending is
//!   `hung_up`, by whoever the PBX says ended it.
//!
//! Every event carries a key made from the leg and what happened to it, so the
//! same PBX event seen twice (a duplicate, or a replay after a reconnect) is the
//! same Kefu event, which Kefu applies once. Every event also carries the
//! customer's number, so whichever arrives first creates the call's contact.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::{LegEvent, LegKind};

/// A telephony event as Kefu's API takes it (`POST /api/v1/telephony/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KefuEvent {
    pub call_id: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hung_up_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// Kefu's click-to-dial request this call answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_id: Option<String>,
}

#[derive(Debug, Default)]
struct Call {
    outbound: bool,
    dial: Option<String>,
    customer: Option<String>,
    dialed: Option<String>,
    customer_leg: Option<String>,
    agent_legs: BTreeMap<String, String>,
    /// The extension now with the call (the latest agent rung).
    agent: Option<String>,
    answered_by: Option<String>,
    customer_answered: bool,
    hangup_by: Option<&'static str>,
    ended_at: Option<Timestamp>,
    touched: Timestamp,
    /// Keys of the events already made for this call: a PBX event seen again (a
    /// replay after a reconnect) makes nothing new.
    made: BTreeSet<String>,
}

/// Turns leg events into Kefu events, remembering what it has seen of each call.
#[derive(Debug)]
pub struct Mapper {
    source: String,
    calls: BTreeMap<String, Call>,
}

impl Mapper {
    /// `source` names this PBX in Kefu's call ids (`fs1:<uuid>`), so calls of two
    /// PBXs never collide and a bridge resynchronises only its own.
    pub fn new(source: &str) -> Mapper {
        Mapper {
            source: source.to_owned(),
            calls: BTreeMap::new(),
        }
    }

    pub fn call_id(&self, pbx_call: &str) -> String {
        format!("{}:{pbx_call}", self.source)
    }

    /// The prefix of this PBX's call ids in Kefu.
    pub fn prefix(&self) -> String {
        format!("{}:", self.source)
    }

    /// The Kefu events one leg event amounts to (none, one or two).
    pub fn map(&mut self, e: &LegEvent) -> Vec<KefuEvent> {
        let call_id = self.call_id(&e.call);
        let call = self.calls.entry(e.call.clone()).or_default();
        call.touched = call.touched.max(e.at);
        if e.dial.is_some() {
            call.outbound = true;
            call.dial = call.dial.take().or_else(|| e.dial.clone());
        }
        let agent_leg = match &e.agent {
            Some(ext) => {
                call.agent_legs.insert(e.leg.clone(), ext.clone());
                if e.originating {
                    // An agent's phone that dialled out.
                    call.outbound = true;
                }
                Some(ext.clone())
            }
            None => call.agent_legs.get(&e.leg).cloned(),
        };
        if agent_leg.is_none() && call.customer_leg.is_none() {
            call.customer_leg = Some(e.leg.clone());
        }
        let customer_leg = agent_leg.is_none() && call.customer_leg.as_deref() == Some(&e.leg);
        if customer_leg {
            if call.customer.is_none() {
                call.customer.clone_from(&e.remote);
            }
            if call.dialed.is_none() {
                call.dialed.clone_from(&e.dialed);
            }
        }
        let make = |call: &Call, kind: &'static str, key: String, extension: Option<String>| {
            let (caller, callee) = if call.outbound {
                (call.agent.clone(), call.customer.clone())
            } else {
                (call.customer.clone(), call.dialed.clone())
            };
            KefuEvent {
                call_id: call_id.clone(),
                event_id: key,
                kind,
                at: e.at.to_string(),
                caller,
                callee,
                extension: extension.or_else(|| call.agent.clone()),
                direction: if call.outbound { "outbound" } else { "inbound" },
                hung_up_by: None,
                transfer_target: None,
                recording: None,
                dial_id: call.dial.clone(),
            }
        };
        let mut out = Vec::new();
        match (&e.kind, agent_leg) {
            (LegKind::Created, Some(ext)) => {
                if !call.outbound {
                    if call.answered_by.as_ref().is_some_and(|a| *a != ext) {
                        let mut t =
                            make(call, "transferred", format!("transferred:{}", e.leg), None);
                        t.transfer_target = Some(ext.clone());
                        out.push(t);
                    }
                    call.agent = Some(ext.clone());
                    out.push(make(
                        call,
                        "ringing",
                        format!("ringing:{}", e.leg),
                        Some(ext),
                    ));
                } else {
                    call.agent = Some(ext);
                }
            }
            (LegKind::Created, None) if customer_leg => {
                out.push(make(call, "ringing", format!("ringing:{}", e.leg), None));
            }
            (LegKind::Answered, Some(ext)) if !call.outbound => {
                call.agent = Some(ext.clone());
                call.answered_by = Some(ext.clone());
                out.push(make(
                    call,
                    "answered",
                    format!("answered:{}", e.leg),
                    Some(ext),
                ));
            }
            (LegKind::Answered, None) if customer_leg && call.outbound => {
                call.customer_answered = true;
                out.push(make(call, "answered", format!("answered:{}", e.leg), None));
            }
            (LegKind::Held | LegKind::Unheld, _) => {
                let (kind, name) = if e.kind == LegKind::Held {
                    ("held", "held")
                } else {
                    ("resumed", "resumed")
                };
                out.push(make(
                    call,
                    kind,
                    format!("{name}:{}:{}", e.leg, e.at.as_microsecond()),
                    None,
                ));
            }
            (LegKind::HangupRequested, agent) => {
                call.hangup_by
                    .get_or_insert(if agent.is_some() { "agent" } else { "customer" });
            }
            (LegKind::Hangup { by_remote, .. }, Some(_)) => {
                // An agent hanging up on a call still up ended it.
                let talking = call.answered_by.is_some() || call.customer_answered;
                if *by_remote == Some(true) && talking && call.ended_at.is_none() {
                    call.hangup_by.get_or_insert("agent");
                }
            }
            (LegKind::Hangup { by_remote, bridged }, None) if customer_leg => {
                let talking =
                    call.answered_by.is_some() || call.customer_answered || *bridged == Some(true);
                let by = call.hangup_by.unwrap_or(match by_remote {
                    Some(true) | None => "customer",
                    Some(false) if talking => "agent",
                    Some(false) => "system",
                });
                call.ended_at = Some(e.at);
                let mut h = make(call, "hung_up", format!("hung_up:{}", e.leg), None);
                h.hung_up_by = Some(by);
                out.push(h);
            }
            (LegKind::Recorded { file }, _) => {
                let mut r = make(call, "recorded", format!("recorded:{}:{file}", e.leg), None);
                r.recording = Some(file.clone());
                out.push(r);
            }
            _ => {}
        }
        out.retain(|e| call.made.insert(e.event_id.clone()));
        out
    }

    /// Whether the PBX call is known to have ended.
    pub fn ended(&self, pbx_call: &str) -> bool {
        self.calls
            .get(pbx_call)
            .is_some_and(|c| c.ended_at.is_some())
    }

    /// Forgets calls ended ten minutes before `now` and calls silent for a day.
    pub fn forget_old(&mut self, now: Timestamp) {
        let ended_before = now - SignedDuration::from_mins(10);
        let idle_before = now - SignedDuration::from_hours(24);
        self.calls
            .retain(|_, c| c.ended_at.is_none_or(|t| t > ended_before) && c.touched > idle_before);
    }

    /// Calls remembered (for the bridge's own figures).
    pub fn remembered(&self) -> usize {
        self.calls.len()
    }

    /// Calls that ended while the bridge was away: those Kefu holds as live, and
    /// those this bridge made events for and saw no end of, that the PBX no longer
    /// has (events of the latter may still be on their way to Kefu; the end goes
    /// the same way, after them). Each ends now, by the system.
    pub fn ended_while_away(
        &mut self,
        kefu_live: &[String],
        pbx_live: &BTreeSet<String>,
        now: Timestamp,
    ) -> Vec<KefuEvent> {
        let prefix = self.prefix();
        let mut gone: BTreeSet<String> = kefu_live
            .iter()
            .filter_map(|id| id.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect();
        gone.extend(
            self.calls
                .iter()
                .filter(|(_, c)| c.ended_at.is_none() && !c.made.is_empty())
                .map(|(id, _)| id.clone()),
        );
        gone.retain(|id| !pbx_live.contains(id));
        gone.into_iter()
            .map(|pbx_call| {
                let call = self.calls.entry(pbx_call.clone()).or_default();
                call.ended_at = Some(now);
                KefuEvent {
                    call_id: format!("{prefix}{pbx_call}"),
                    event_id: "hung_up:resync".into(),
                    kind: "hung_up",
                    at: now.to_string(),
                    caller: None,
                    callee: None,
                    extension: None,
                    direction: if call.outbound { "outbound" } else { "inbound" },
                    hung_up_by: Some("system"),
                    transfer_target: None,
                    recording: None,
                    dial_id: None,
                }
            })
            .collect()
    }
}
