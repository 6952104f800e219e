//! The parser fuzz targets. Each function takes any bytes, feeds them to one parser
//! the way the product does, and asserts what the parser promises beyond "no panic":
//! a parsed phone number parses again to itself, a transcript's turns are ordered
//! and within their times, a search query becomes quoted words and operators only,
//! a forbidden-expression hit lies inside the text. `fuzz/` runs them under
//! libFuzzer (cargo-fuzz); the tests replay the stored corpora and every input that
//! once failed.
#![forbid(unsafe_code)]

use jiff::civil::date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::calendar::BusinessCalendar;
use kefu_domain::phone::PhoneNumber;
use kefu_domain::phrasebook::Phrasebook;
use kefu_domain::transcript::{self, Transcript};
use kefu_files::customers::{ColumnMap, map_rows};
use kefu_files::{FileFormat, Limits, TextEncoding, read_table};
use kefu_store::Backend;
use kefu_store::search::match_expressions;

/// A fuzz target: any bytes in, a panic when a promise is broken.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/` and the corpus folders call them.
pub const TARGETS: [(&str, Target); 6] = [
    ("customer_file", customer_file),
    ("phone", phone),
    ("transcript", transcript),
    ("calendar", calendar),
    ("search_query", search_query),
    ("forbidden", forbidden),
];

/// A customer import file (CSV in any encoding, or XLSX), read and mapped to rows.
/// The first byte picks the options a caller may force; the rest is the file.
pub fn customer_file(data: &[u8]) {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = match pick % 3 {
        0 => None,
        1 => Some(FileFormat::Csv),
        _ => Some(FileFormat::Xlsx),
    };
    let encoding = match (pick / 3) % 3 {
        0 => None,
        1 => Some(TextEncoding::Utf8),
        _ => Some(TextEncoding::Gb18030),
    };
    let limits = Limits {
        max_bytes: 1 << 20,
        max_rows: 5_000,
        max_columns: 64,
        max_cell_chars: 2_000,
    };
    let Ok(table) = read_table(file, format, encoding, &limits) else {
        return;
    };
    assert!(table.rows.len() <= limits.max_rows);
    assert!(table.headers.len() <= limits.max_columns);
    let Ok(map) = ColumnMap::new(&table.headers, &[]) else {
        return;
    };
    let (rows, problems) = map_rows(&table, &map);
    // Every row is either mapped or refused with a reason, never lost.
    assert!(rows.len() + problems.len() >= table.rows.len());
}

/// A number as a caller's line, an archive or a form shows it.
pub fn phone(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for area in [None, Some("0531"), Some("010")] {
        if let Ok(number) = PhoneNumber::parse(&text, area) {
            assert!(
                number.key().bytes().all(|b| b.is_ascii_digit()),
                "{number:?}"
            );
            // What Kefu shows and stores reads back as the same number.
            let again = PhoneNumber::parse(&number.display(), None)
                .unwrap_or_else(|e| panic!("{:?} shown as {:?}: {e}", text, number.display()));
            assert_eq!(again.key(), number.key(), "{text:?}");
        }
    }
}

/// A call transcript in each accepted format.
pub fn transcript(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for parse in [
        transcript::parse_json as fn(&str) -> _,
        transcript::parse_srt,
        transcript::parse_vtt,
    ] {
        if let Ok(Transcript { turns }) = parse(&text) {
            for w in turns.windows(2) {
                assert!((w[0].start_ms, w[0].end_ms) <= (w[1].start_ms, w[1].end_ms));
            }
            for t in &turns {
                assert!(t.start_ms <= t.end_ms, "{t:?}");
            }
        }
    }
}

/// A business-calendar file; a calendar that parses answers deadlines.
pub fn calendar(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(cal) = BusinessCalendar::parse(&text) else {
        return;
    };
    let tz = TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC);
    let start: Timestamp = date(2026, 9, 30)
        .at(17, 30, 0, 0)
        .to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    for hours in [1, 24, 72] {
        let span = SignedDuration::from_hours(hours);
        if let Some(due) = cal.deadline(start, span, &tz) {
            assert!(due >= start);
            // Business time from start to the deadline is what was asked for.
            assert_eq!(cal.business_time_between(start, due, &tz), span);
        }
    }
}

/// A search box's text becomes match expressions of quoted words and operators
/// only, on both backends: no query syntax of the user's reaches the index.
pub fn search_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (backend, expr) in match_expressions(&text) {
        let (quote, operators): (char, &[&str]) = match backend {
            Backend::Sqlite => ('"', &["AND", "OR", "(", ")"]),
            Backend::Postgres => ('\'', &["&", "|", "<->", "(", ")"]),
        };
        let outside = outside_quotes(&expr, quote, backend == Backend::Postgres)
            .unwrap_or_else(|| panic!("{backend:?}: unbalanced quotes in {expr:?} from {text:?}"));
        for token in outside.split_whitespace() {
            let mut rest = token;
            while !rest.is_empty() {
                let op = operators
                    .iter()
                    .find(|op| rest.starts_with(**op))
                    .unwrap_or_else(|| panic!("{backend:?}: {rest:?} outside quotes in {expr:?}"));
                rest = &rest[op.len()..];
            }
        }
    }
}

/// The text outside quoted strings (a doubled quote inside one is a quote; with
/// `backslash`, a backslash escapes the next character), or `None` if a quoted
/// string is left open.
fn outside_quotes(expr: &str, quote: char, backslash: bool) -> Option<String> {
    let mut out = String::new();
    let mut chars = expr.chars().peekable();
    let mut inside = false;
    while let Some(c) = chars.next() {
        if inside {
            if backslash && c == '\\' {
                chars.next()?;
            } else if c == quote {
                if chars.peek() == Some(&quote) {
                    chars.next();
                } else {
                    inside = false;
                    out.push(' ');
                }
            }
        } else if c == quote {
            inside = true;
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    (!inside).then_some(out)
}

/// The forbidden-expression matcher over any text (the shipped phrasebook), and a
/// center's own edition parsed from any text, matched against a sentence.
pub fn forbidden(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let chars = text.chars().count();
    for hit in default_book().forbidden_hits(&text) {
        assert!(
            hit.start < hit.end && hit.end <= chars,
            "{hit:?} in {chars} chars"
        );
        let found: String = text
            .chars()
            .skip(hit.start)
            .take(hit.end - hit.start)
            .collect();
        assert_eq!(found, hit.matched);
    }
    if let Ok(book) = Phrasebook::parse(&text) {
        let sentence = "你怎么又打来了，这个不归我们管，你自己看着办吧";
        let n = sentence.chars().count();
        for hit in book.forbidden_hits(sentence) {
            assert!(hit.start < hit.end && hit.end <= n, "{hit:?}");
        }
    }
}

fn default_book() -> &'static Phrasebook {
    static BOOK: std::sync::OnceLock<Phrasebook> = std::sync::OnceLock::new();
    BOOK.get_or_init(Phrasebook::default_cn)
}
