//! Call transcripts as speech-to-text engines produce them: timestamped turns of
//! the agent and the customer, read from JSON, SRT or WebVTT. Parsing is strict
//! about structure (a malformed file is refused with the line that is wrong) and
//! lenient about what engines vary in (speaker labels in Chinese or English, full-
//! or half-width colons, `,` or `.` before milliseconds, hours optional in WebVTT).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Reason;

/// Who speaks in a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Customer,
}

impl Speaker {
    /// A speaker label as engines and people write it.
    pub fn parse(label: &str) -> Option<Speaker> {
        match label.trim().to_lowercase().as_str() {
            "agent" | "客服" | "坐席" | "座席" | "客服代表" | "话务员" | "operator" | "staff" => {
                Some(Speaker::Agent)
            }
            "customer" | "客户" | "用户" | "来电人" | "caller" | "client" => {
                Some(Speaker::Customer)
            }
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Speaker::Agent => "agent",
            Speaker::Customer => "customer",
        }
    }
}

/// One turn: milliseconds from the start of the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

impl Turn {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Turns in order of their start (overlapping turns are kept as they are).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    pub turns: Vec<Turn>,
}

impl Transcript {
    fn new(mut turns: Vec<Turn>) -> Transcript {
        turns.sort_by_key(|t| (t.start_ms, t.end_ms));
        Transcript { turns }
    }

    pub fn agent_turns(&self) -> impl Iterator<Item = (usize, &Turn)> {
        self.turns
            .iter()
            .enumerate()
            .filter(|(_, t)| t.speaker == Speaker::Agent)
    }
}

/// Which format a transcript is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Srt,
    WebVtt,
}

impl Format {
    /// By file extension (`json`, `srt`, `vtt`).
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "srt" => Some(Format::Srt),
            "vtt" | "webvtt" => Some(Format::WebVtt),
            _ => None,
        }
    }
}

/// Why a transcript was refused: the line (1-based; 0 when the file as a whole is
/// wrong) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("line {line}: {reason}")]
pub struct TranscriptError {
    pub line: usize,
    pub reason: Reason,
}

fn err(line: usize, reason: Reason) -> TranscriptError {
    TranscriptError { line, reason }
}

impl From<TranscriptError> for Reason {
    /// The line joins the reason's figures, so a person is told where.
    fn from(e: TranscriptError) -> Reason {
        e.reason.at_line(e.line)
    }
}

/// The longest transcript accepted (a two-hour call is far below it).
pub const MAX_TURNS: usize = 20_000;

pub fn parse(format: Format, text: &str) -> Result<Transcript, TranscriptError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => parse_json(text),
        Format::Srt => parse_srt(text),
        Format::WebVtt => parse_vtt(text),
    }
}

/// A time as `HH:MM:SS,mmm`, `HH:MM:SS.mmm` or `MM:SS.mmm`, in milliseconds.
pub fn parse_timestamp(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let (clock, millis) = raw.rsplit_once([',', '.'])?;
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [m, s] => ("0", *m, *s),
        _ => return None,
    };
    let num = |p: &str, max: Option<u64>| -> Option<u64> {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = p.parse().ok()?;
        match max {
            Some(max) if v > max => None,
            _ => Some(v),
        }
    };
    let (h, m, s) = (num(h, None)?, num(m, Some(59))?, num(s, Some(59))?);
    let ms: u64 = millis.parse().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// A leading `客服：` / `agent:` (full- or half-width colon) names the speaker.
fn leading_speaker(text: &str) -> Option<(Speaker, &str)> {
    let (label, rest) = text.split_once([':', '：'])?;
    if label.chars().count() > 8 {
        return None;
    }
    Some((Speaker::parse(label)?, rest.trim_start()))
}

fn turn(
    line: usize,
    speaker: Option<Speaker>,
    start_ms: u64,
    end_ms: u64,
    text: String,
) -> Result<Turn, TranscriptError> {
    let speaker = speaker.ok_or_else(|| err(line, Reason::transcript_no_speaker()))?;
    if end_ms < start_ms {
        return Err(err(line, Reason::transcript_backwards()));
    }
    Ok(Turn {
        speaker,
        start_ms,
        end_ms,
        text,
    })
}

/// SRT: numbered cues, `start --> end`, text lines; the speaker leads the text.
pub fn parse_srt(text: &str) -> Result<Transcript, TranscriptError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut turns = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let cue_line = i + 1;
        let index = lines[i].trim();
        if !index.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(cue_line, Reason::transcript_cue_number(shorten(index))));
        }
        i += 1;
        let Some(timing) = lines.get(i) else {
            return Err(err(cue_line, Reason::transcript_no_timing()));
        };
        let (start_ms, end_ms) = timing_line(timing)
            .ok_or_else(|| err(i + 1, Reason::transcript_bad_timing(shorten(timing))))?;
        let timing_at = i + 1;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            body.push(lines[i].trim());
            i += 1;
        }
        let joined = body.join(" ");
        let (speaker, rest) = match leading_speaker(&joined) {
            Some((s, rest)) => (Some(s), rest.to_owned()),
            None => (None, joined.clone()),
        };
        turns.push(turn(timing_at, speaker, start_ms, end_ms, rest)?);
        if turns.len() > MAX_TURNS {
            return Err(err(timing_at, Reason::too_many(MAX_TURNS)));
        }
    }
    Ok(Transcript::new(turns))
}

fn timing_line(line: &str) -> Option<(u64, u64)> {
    let (start, rest) = line.split_once("-->")?;
    // WebVTT cue settings follow the end time.
    let end = rest.split_whitespace().next()?;
    Some((parse_timestamp(start)?, parse_timestamp(end)?))
}

fn shorten(text: &str) -> String {
    let t: String = text.trim().chars().take(40).collect();
    if text.trim().chars().count() > 40 {
        format!("{t}…")
    } else {
        t
    }
}

/// WebVTT: a `WEBVTT` header, then cues (optional identifier, timing, text); NOTE,
/// STYLE and REGION blocks are skipped. The speaker comes from a voice tag
/// (`<v 客服>`) or a leading label.
pub fn parse_vtt(text: &str) -> Result<Transcript, TranscriptError> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.first().map(|l| l.trim_end()).unwrap_or_default();
    if !(header == "WEBVTT" || header.starts_with("WEBVTT ") || header.starts_with("WEBVTT\t")) {
        return Err(err(1, Reason::transcript_not_vtt()));
    }
    let mut i = 1;
    // The header block runs to the first blank line.
    while i < lines.len() && !lines[i].trim().is_empty() {
        i += 1;
    }
    let mut turns = Vec::new();
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let first = lines[i].trim();
        if first.starts_with("NOTE") || first.starts_with("STYLE") || first.starts_with("REGION") {
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            continue;
        }
        // An identifier line when the timing is on the next one.
        if !first.contains("-->") {
            i += 1;
        }
        let Some(timing) = lines.get(i) else {
            return Err(err(i, Reason::transcript_no_timing()));
        };
        let (start_ms, end_ms) = timing_line(timing)
            .ok_or_else(|| err(i + 1, Reason::transcript_bad_timing(shorten(timing))))?;
        let timing_at = i + 1;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            body.push(lines[i].trim());
            i += 1;
        }
        let joined = body.join(" ");
        let (voice, plain) = strip_tags(&joined);
        let (speaker, rest) = match voice.as_deref().and_then(Speaker::parse) {
            Some(s) => (Some(s), plain),
            None => match leading_speaker(&plain) {
                Some((s, rest)) => (Some(s), rest.to_owned()),
                None => {
                    if let Some(v) = voice {
                        return Err(err(
                            timing_at + 1,
                            Reason::transcript_unknown_speaker(shorten(&v)),
                        ));
                    }
                    (None, plain)
                }
            },
        };
        turns.push(turn(timing_at, speaker, start_ms, end_ms, rest)?);
        if turns.len() > MAX_TURNS {
            return Err(err(timing_at, Reason::too_many(MAX_TURNS)));
        }
    }
    Ok(Transcript::new(turns))
}

/// The first voice (`<v name>` or `<v.class name>`) and the text without tags,
/// entities decoded.
fn strip_tags(text: &str) -> (Option<String>, String) {
    let mut voice = None;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if voice.is_none()
            && let Some(v) = tag.strip_prefix('v')
            && (v.starts_with(' ') || v.starts_with('.'))
        {
            let name = v.split_once(' ').map_or("", |(_, n)| n).trim();
            voice = Some(name.to_owned());
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    (voice, out.trim().to_owned())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTime {
    Seconds(f64),
    Text(String),
}

impl JsonTime {
    fn millis(&self) -> Result<u64, Reason> {
        match self {
            JsonTime::Seconds(s) if s.is_finite() && *s >= 0.0 && *s < 86_400.0 * 365.0 => {
                Ok((s * 1000.0).round() as u64)
            }
            JsonTime::Seconds(s) => Err(Reason::transcript_bad_time(s)),
            JsonTime::Text(t) => {
                parse_timestamp(t).ok_or_else(|| Reason::transcript_bad_time(shorten(t)))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    speaker: String,
    start: JsonTime,
    end: JsonTime,
    text: String,
}

impl RawTurn {
    fn check(self) -> Result<Turn, Reason> {
        let speaker = Speaker::parse(&self.speaker)
            .ok_or_else(|| Reason::transcript_unknown_speaker(shorten(&self.speaker)))?;
        let start_ms = self.start.millis()?;
        let end_ms = self.end.millis()?;
        if end_ms < start_ms {
            return Err(Reason::transcript_backwards());
        }
        Ok(Turn {
            speaker,
            start_ms,
            end_ms,
            text: self.text.trim().to_owned(),
        })
    }
}

/// The line on which each object at `depth` opens (strings skipped), so a turn
/// that is well-formed JSON but wrong as a turn can be pointed at.
fn object_lines(text: &str, depth: usize) -> Vec<usize> {
    let (mut lines, mut level, mut line) = (Vec::new(), 0usize, 1usize);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => {
                if c == '{' && level == depth {
                    lines.push(line);
                }
                level += 1;
            }
            '}' | ']' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    lines
}

/// JSON: `{"turns": [...]}` or a bare array of `{"speaker", "start", "end", "text"}`;
/// times in seconds or as `HH:MM:SS.mmm`.
pub fn parse_json(text: &str) -> Result<Transcript, TranscriptError> {
    let bare = text.trim_start().starts_with('[');
    let raw = if bare {
        serde_json::from_str::<Vec<RawTurn>>(text)
    } else {
        #[derive(Deserialize)]
        struct Object {
            turns: Vec<RawTurn>,
        }
        serde_json::from_str::<Object>(text).map(|o| o.turns)
    };
    let raw = raw.map_err(|e| err(e.line(), Reason::file_syntax(json_message(&e))))?;
    if raw.len() > MAX_TURNS {
        return Err(err(0, Reason::too_many(MAX_TURNS)));
    }
    let lines = object_lines(text, if bare { 1 } else { 2 });
    let mut turns = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let turn = r
            .check()
            .map_err(|reason| err(lines.get(i).copied().unwrap_or(0), reason))?;
        turns.push(turn);
    }
    Ok(Transcript::new(turns))
}

/// serde_json's message without its own " at line … column …" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    format!("{text} (column {})", e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_engine_form() {
        assert_eq!(parse_timestamp("00:00:01,250"), Some(1250));
        assert_eq!(parse_timestamp("01:02:03.004"), Some(3_723_004));
        assert_eq!(parse_timestamp("02:03.500"), Some(123_500));
        for bad in [
            "1.5",
            "00:61:00.000",
            "00:00:00.5",
            "aa:00:00.000",
            "",
            "00:00:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn srt_with_speakers_in_both_languages() {
        let srt = "1\n00:00:00,500 --> 00:00:03,000\n客服：您好，很高兴为您服务。\n\n\
                   2\r\n00:00:03,200 --> 00:00:06,000\r\ncustomer: 我家燃气表\r\n显示E3。\r\n\r\n";
        let t = parse_srt(srt).unwrap();
        assert_eq!(t.turns.len(), 2);
        assert_eq!(t.turns[0].speaker, Speaker::Agent);
        assert_eq!(t.turns[0].text, "您好，很高兴为您服务。");
        assert_eq!(
            (t.turns[1].speaker, t.turns[1].start_ms, t.turns[1].end_ms),
            (Speaker::Customer, 3200, 6000)
        );
        assert_eq!(t.turns[1].text, "我家燃气表 显示E3。");
    }

    #[test]
    fn srt_errors_name_the_line() {
        let cases = [
            (
                "1\n00:00:01,000 -> 00:00:02,000\n客服：您好\n",
                2,
                "transcript_bad_timing",
            ),
            (
                "1\n00:00:01,000 --> 00:00:02,000\n您好\n",
                2,
                "transcript_no_speaker",
            ),
            (
                "1\n00:00:01,000 --> 00:00:02,000\n客服：您好\n\nx\n",
                5,
                "transcript_cue_number",
            ),
            (
                "1\n00:00:03,000 --> 00:00:02,000\n客服：您好\n",
                2,
                "transcript_backwards",
            ),
            ("1\n", 1, "transcript_no_timing"),
        ];
        for (text, line, needle) in cases {
            let e = parse_srt(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert_eq!(e.reason.code(), needle, "{e}");
        }
    }

    #[test]
    fn webvtt_voices_notes_and_settings() {
        let vtt = "WEBVTT - 通话录音\n\nNOTE 引擎输出\n可忽略\n\n\
                   c1\n00:01.000 --> 00:03.000 align:start\n<v 客服>您好，请问有什么可以帮您？</v>\n\n\
                   00:03.500 --> 00:05.000\n<v.loud 客户>我要报修 &amp; 咨询\n\n\
                   00:05.000 --> 00:06.000\nagent：好的\n";
        let t = parse_vtt(vtt).unwrap();
        assert_eq!(t.turns.len(), 3);
        assert_eq!(t.turns[0].text, "您好，请问有什么可以帮您？");
        assert_eq!(t.turns[1].speaker, Speaker::Customer);
        assert_eq!(t.turns[1].text, "我要报修 & 咨询");
        assert_eq!(t.turns[2].speaker, Speaker::Agent);
        assert_eq!(parse_vtt("WEBVTTX\n").unwrap_err().line, 1);
        let e = parse_vtt("WEBVTT\n\n00:01.000 --> 00:02.000\n<v 经理>您好\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert_eq!(e.reason, Reason::transcript_unknown_speaker("经理"));
    }

    #[test]
    fn json_in_both_shapes_with_positions_in_errors() {
        let t = parse_json(
            r#"{"turns": [
                {"speaker": "客户", "start": 2.5, "end": 4, "text": "喂？"},
                {"speaker": "agent", "start": "00:00:00.000", "end": "00:00:02.000", "text": " 您好 "}
            ]}"#,
        )
        .unwrap();
        assert_eq!(t.turns[0].speaker, Speaker::Agent, "sorted by start");
        assert_eq!(t.turns[0].text, "您好");
        assert_eq!(t.turns[1].start_ms, 2500);
        let bare = parse_json(r#"[{"speaker":"customer","start":0,"end":1,"text":""}]"#).unwrap();
        assert_eq!(bare.turns.len(), 1);
        let e = parse_json(
            "{\"turns\": [\n{\"speaker\": \"经理\", \"start\": 0, \"end\": 1, \"text\": \"x\"}\n]}",
        )
        .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert_eq!(e.reason, Reason::transcript_unknown_speaker("经理"));
        let e = parse_json("{\"turns\": [\n{\"speaker\": \"agent\", \"start\": 3, \"end\": 1, \"text\": \"x\"}\n]}")
            .unwrap_err();
        assert_eq!(e.reason, Reason::transcript_backwards(), "{e}");
        let e = parse_json(
            "{\"turns\": [\n{\"speaker\": \"agent\",\n \"start\": 0, \"end\": 1 \"text\": \"x\"}]}",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(
            parse_json(
                "{\"turns\": [{\"speaker\": \"agent\", \"start\": -1, \"end\": 1, \"text\": \"\"}]}"
            )
            .is_err()
        );
    }
}
