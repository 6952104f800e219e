//! PBXs on loopback for the bridges' tests: a FreeSWITCH event socket and an
//! Asterisk manager interface, written from the protocols' public descriptions
//! (no live PBX is available to the test suite). Each accepts the bridge's login,
//! answers its channel listing with the calls the test says are live, replays a
//! captured stream from `tests/fixtures/`, answers originate requests and can cut
//! the connection part-way, as a PBX restart or a network fault would.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const PASSWORD: &str = "ClueCon-test";

/// What one connection to the fixture PBX does.
#[derive(Clone, Default)]
pub struct Script {
    /// The live-channel listing answered to the bridge's resynchronisation.
    pub listing: String,
    /// Events to stream after the listing (framed by the server).
    pub events: Vec<String>,
    /// Close the connection after this many events (None: stay connected).
    pub cut_after: Option<usize>,
    /// How each originate request is answered, in turn.
    pub dials: Vec<DialAnswer>,
}

/// What the PBX makes of an originate request.
#[derive(Clone)]
pub enum DialAnswer {
    /// The call goes through: these events follow, with `KEFU_DIAL_ID` (and, on
    /// Asterisk, `KEFU_ACTION_ID`) filled in.
    Connect(Vec<String>),
    /// It fails with the PBX's words: FreeSWITCH's `-ERR <cause>`, Asterisk's
    /// OriginateResponse reason number.
    Fail(String),
}

fn dial_id_in(text: &str, marker: &str) -> String {
    text.split(marker)
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default()
}

/// A fixture PBX: each connection plays the next script (the last one repeats).
pub struct Pbx {
    pub address: String,
    /// Commands and actions the bridge sent, in order.
    pub received: Arc<Mutex<Vec<String>>>,
    pub connections: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Pbx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fixture(path: &str) -> String {
    // The captures live beside this file, whichever crate's test includes it.
    let full = format!(
        "{}/../kefu-bridge/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A FreeSWITCH capture: one event object per line (`#` lines are notes).
pub fn freeswitch_events(name: &str) -> Vec<String> {
    fixture(&format!("freeswitch/{name}.jsonl"))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// An Asterisk capture: AMI blocks as sent (`;` lines are notes).
pub fn asterisk_events(name: &str) -> Vec<String> {
    fixture(&format!("asterisk/{name}.ami"))
        .split("\r\n\r\n")
        .map(|b| {
            b.lines()
                .filter(|l| !l.starts_with(';'))
                .collect::<Vec<_>>()
                .join("\r\n")
        })
        .filter(|b| !b.trim().is_empty())
        .map(|b| format!("{b}\r\n\r\n"))
        .collect()
}

/// Reads until `end` appears; returns what came before it (None: closed).
async fn read_until(stream: &mut TcpStream, pending: &mut Vec<u8>, end: &[u8]) -> Option<String> {
    loop {
        if let Some(p) = pending.windows(end.len()).position(|w| w == end) {
            let text = String::from_utf8_lossy(&pending[..p]).into_owned();
            pending.drain(..p + end.len());
            return Some(text);
        }
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

fn esl_event(json: &str) -> String {
    format!(
        "Content-Length: {}\nContent-Type: text/event-json\n\n{json}",
        json.len()
    )
}

impl Pbx {
    async fn start<F, Fut>(scripts: Vec<Script>, serve: F) -> Pbx
    where
        F: Fn(TcpStream, Script, Arc<Mutex<Vec<String>>>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (r, c) = (received.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let n = {
                    let mut c = c.lock().unwrap();
                    *c += 1;
                    *c
                };
                let script = scripts[(n - 1).min(scripts.len() - 1)].clone();
                tokio::spawn(serve(stream, script, r.clone()));
            }
        });
        Pbx {
            address,
            received,
            connections,
            task,
        }
    }

    /// A FreeSWITCH event socket (inbound mode).
    pub async fn freeswitch(scripts: Vec<Script>) -> Pbx {
        Pbx::start(scripts, |mut s, script, received| async move {
            let mut pending = Vec::new();
            s.write_all(b"Content-Type: auth/request\n\n").await.unwrap();
            let Some(auth) = read_until(&mut s, &mut pending, b"\n\n").await else { return };
            received.lock().unwrap().push(auth.clone());
            if auth != format!("auth {PASSWORD}") {
                let _ = s
                    .write_all(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
                    .await;
                let _ = s
                    .write_all(b"Content-Type: text/disconnect-notice\nContent-Length: 0\n\n")
                    .await;
                return;
            }
            s.write_all(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
                .await
                .unwrap();
            let mut sent = 0;
            let mut job = 0;
            loop {
                let Some(command) = read_until(&mut s, &mut pending, b"\n\n").await else {
                    return;
                };
                received.lock().unwrap().push(command.clone());
                let reply = if command.starts_with("event json") {
                    "Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n"
                        .to_owned()
                } else if command == "api show channels as json" {
                    format!(
                        "Content-Type: api/response\nContent-Length: {}\n\n{}",
                        script.listing.len(),
                        script.listing
                    )
                } else if command.starts_with("bgapi ") {
                    job += 1;
                    let mut reply = format!(
                        "Content-Type: command/reply\nReply-Text: +OK Job-UUID: job-{job}\nJob-UUID: job-{job}\n\n"
                    );
                    let id = dial_id_in(&command, "kefu_dial=");
                    let (events, result) = match script.dials.get(job - 1) {
                        Some(DialAnswer::Connect(events)) => (events.clone(), "+OK call placed\n".to_owned()),
                        Some(DialAnswer::Fail(words)) => (Vec::new(), format!("-ERR {words}\n")),
                        None => (Vec::new(), "-ERR NO_ROUTE_DESTINATION\n".to_owned()),
                    };
                    for e in events {
                        reply.push_str(&esl_event(&e.replace("KEFU_DIAL_ID", &id)));
                    }
                    let job_event = serde_json::json!({
                        "Event-Name": "BACKGROUND_JOB", "Job-UUID": format!("job-{job}"),
                        "Job-Command": "originate", "_body": result,
                    })
                    .to_string();
                    reply.push_str(&esl_event(&job_event));
                    reply
                } else if command == "exit" {
                    let _ = s
                        .write_all(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
                        .await;
                    return;
                } else {
                    "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n".to_owned()
                };
                s.write_all(reply.as_bytes()).await.unwrap();
                // The stream starts once the bridge has its listing.
                if command == "api show channels as json" {
                    for e in &script.events {
                        if s.write_all(esl_event(e).as_bytes()).await.is_err() {
                            return;
                        }
                        sent += 1;
                        if script.cut_after == Some(sent) {
                            return;
                        }
                    }
                }
            }
        })
        .await
    }

    /// An Asterisk manager interface.
    pub async fn asterisk(scripts: Vec<Script>) -> Pbx {
        Pbx::start(scripts, |mut s, script, received| async move {
            let mut pending = Vec::new();
            s.write_all(b"Asterisk Call Manager/5.0.1\r\n").await.unwrap();
            let mut sent = 0;
            let mut originated = 0;
            loop {
                let Some(block) = read_until(&mut s, &mut pending, b"\r\n\r\n").await else {
                    return;
                };
                received.lock().unwrap().push(block.clone());
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .unwrap_or_default()
                        .to_owned()
                };
                let id = field("ActionID");
                match field("Action").as_str() {
                    "Login" => {
                        let ok = field("Secret") == PASSWORD;
                        let reply = if ok {
                            format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\nEvent: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
                        } else {
                            format!("Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n")
                        };
                        s.write_all(reply.as_bytes()).await.unwrap();
                        if !ok {
                            return;
                        }
                    }
                    "CoreShowChannels" => {
                        let mut reply = format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n");
                        let mut items = 0;
                        for b in script.listing.split("\r\n\r\n").filter(|b| !b.trim().is_empty()) {
                            reply.push_str(&format!("{b}\r\nActionID: {id}\r\n\r\n"));
                            items += 1;
                        }
                        reply.push_str(&format!("Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: {items}\r\n\r\n"));
                        s.write_all(reply.as_bytes()).await.unwrap();
                        for e in &script.events {
                            if s.write_all(e.as_bytes()).await.is_err() {
                                return;
                            }
                            sent += 1;
                            if script.cut_after == Some(sent) {
                                return;
                            }
                        }
                    }
                    "Originate" => {
                        let mut reply = format!("Response: Success\r\nActionID: {id}\r\nMessage: Originate successfully queued\r\n\r\n");
                        let dial = dial_id_in(&block, "KEFU_DIAL=");
                        match script.dials.get(originated) {
                            Some(DialAnswer::Connect(events)) => {
                                for e in events {
                                    reply.push_str(&e.replace("KEFU_DIAL_ID", &dial).replace("KEFU_ACTION_ID", &id));
                                }
                            }
                            Some(DialAnswer::Fail(reason)) => reply.push_str(&format!(
                                "Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {id}\r\nResponse: Failure\r\nChannel: {}\r\nReason: {reason}\r\nUniqueid: <null>\r\n\r\n",
                                field("Channel")
                            )),
                            None => {}
                        }
                        originated += 1;
                        s.write_all(reply.as_bytes()).await.unwrap();
                    }
                    "Logoff" => {
                        let _ = s
                            .write_all(format!("Response: Goodbye\r\nActionID: {id}\r\n\r\n").as_bytes())
                            .await;
                        return;
                    }
                    _ => {
                        let reply = format!("Response: Error\r\nActionID: {id}\r\nMessage: Invalid/unknown command\r\n\r\n");
                        s.write_all(reply.as_bytes()).await.unwrap();
                    }
                }
            }
        })
        .await
    }
}
