//! `kefu inspect FILE`: one call inspected against the service standard, printed
//! item by item (or as JSON).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use kefu_domain::inspection::{
    CallFacts, Inspection, InspectionRules, Verdict, inspect, is_call_json, parse_call_json,
};
use kefu_domain::phrasebook::Phrasebook;
use kefu_domain::transcript::{self, Format, Transcript};

/// The largest file read (a long call's transcript is a few hundred KiB).
const MAX_BYTES: u64 = 16 * 1024 * 1024;

fn read(file: &Path) -> anyhow::Result<(Option<Transcript>, Option<CallFacts>)> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if meta.len() > MAX_BYTES {
        bail!("{} is larger than 16 MiB", file.display());
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (byte {})",
            file.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let format = Format::from_extension(ext)
        .with_context(|| format!("{}: give a .json, .srt or .vtt file", file.display()))?;
    let at = |e: transcript::TranscriptError| anyhow::anyhow!("{}: {e}", file.display());
    if format == Format::Json && is_call_json(&text) {
        let (transcript, facts) = parse_call_json(&text).map_err(at)?;
        return Ok((transcript, Some(facts)));
    }
    Ok((Some(transcript::parse(format, &text).map_err(at)?), None))
}

fn clock(ms: u64) -> String {
    format!(
        "{:02}:{:02}.{}",
        ms / 60_000,
        ms / 1000 % 60,
        ms % 1000 / 100
    )
}

fn print(file: &Path, result: &Inspection, has_facts: bool, rules: &InspectionRules) {
    println!(
        "{}: {}",
        file.display(),
        if has_facts {
            "call with its timings"
        } else {
            "transcript only (rules that need the call's events are skipped)"
        }
    );
    println!(
        "score {}/100: {} (pass mark {})",
        result.score,
        if result.passed { "passed" } else { "failed" },
        rules.pass_score
    );
    if let Some(rate) = result.agent_rate {
        println!("agent speaking rate {rate} characters per minute");
    }
    for item in &result.items {
        match item.verdict {
            Verdict::Pass => println!("  ok    {}", item.rule),
            Verdict::Skipped => println!("  skip  {} ({})", item.rule, item.note),
            Verdict::Deduct => {
                println!("  -{:<4} {}: {}", item.points, item.rule, item.note);
                for e in &item.evidence {
                    let mut line = String::from("        ");
                    if let Some(turn) = e.turn {
                        line.push_str(&format!("turn {} ", turn + 1));
                    }
                    if let Some(at) = e.at_ms {
                        line.push_str(&format!("at {} ", clock(at)));
                    }
                    line.push_str(&format!("「{}」", e.text));
                    if let Some((s, end)) = e.span {
                        let marked: String = e.text.chars().skip(s).take(end - s).collect();
                        line.push_str(&format!(" [{marked}]"));
                    }
                    if let Some(instead) = &e.suggestion {
                        line.push_str(&format!(" → {instead}"));
                    }
                    println!("{line}");
                }
            }
        }
    }
}

pub fn run(
    file: &Path,
    json: bool,
    phrasebook: Option<&Path>,
    rules: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let book = match phrasebook {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Phrasebook::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => Phrasebook::default_cn(),
    };
    let (transcript, facts) = read(file)?;
    let rules = match rules {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            InspectionRules::parse_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => InspectionRules::default(),
    };
    let result = inspect(transcript.as_ref(), facts.as_ref(), &book, &rules);
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print(file, &result, facts.is_some(), &rules);
    }
    Ok(ExitCode::SUCCESS)
}
