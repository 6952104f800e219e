//! The knowledge base 咨询库 (S9): articles agents read while on a call — product
//! knowledge, tariffs, procedures, FAQ, after-sales rules — in categories, with tags,
//! drafts and published versions. Every saved change is a version; any two versions
//! can be compared line by line, with the changed characters marked inside a
//! changed line (Chinese has no spaces to split words on).

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, InlineChangeMode, InlineChangeOptions, TextDiff};

use crate::Reason;
use crate::text::{TextError, display_text};

/// The longest title, in characters.
pub const TITLE_MAX: usize = 120;
/// The longest body, in characters (a long procedure with its tables is ~20k).
pub const BODY_MAX: usize = 100_000;
/// The longest category name.
pub const CATEGORY_MAX: usize = 40;
/// At most this many tags, each at most `TAG_MAX` characters.
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 20;
/// A note saying why a version was saved.
pub const NOTE_MAX: usize = 500;

/// Whether agents see an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    /// Being written; only editors see it.
    Draft,
    /// Agents see and find it.
    Published,
    /// Withdrawn (out of date); kept with its history, found by editors only.
    Archived,
}

impl ArticleStatus {
    pub const ALL: [ArticleStatus; 3] = [
        ArticleStatus::Draft,
        ArticleStatus::Published,
        ArticleStatus::Archived,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
            ArticleStatus::Archived => "archived",
        }
    }

    pub fn parse(raw: &str) -> Option<ArticleStatus> {
        let raw = raw.trim();
        ArticleStatus::ALL.into_iter().find(|s| {
            s.code() == raw
                || matches!(
                    (s, raw),
                    (ArticleStatus::Draft, "草稿")
                        | (ArticleStatus::Published, "已发布")
                        | (ArticleStatus::Archived, "已归档")
                )
        })
    }
}

/// An article as an editor submits it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ArticleInput {
    pub title: String,
    pub body: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub status: String,
}

/// A checked article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub title: String,
    /// Line breaks kept; trailing spaces of lines and blank lines at the ends removed.
    pub body: String,
    pub category: String,
    /// Distinct, in the order given.
    pub tags: Vec<String>,
    pub status: ArticleStatus,
}

/// Why an article was refused: which field, and what is wrong.
pub type ArticleError = crate::FieldError;

fn bad(field: impl Into<String>, reason: impl Into<Reason>) -> ArticleError {
    crate::FieldError::new(field, reason)
}

/// Normalises a body: `\r\n` to `\n`, trailing spaces of each line and blank lines at
/// the start and end removed; control characters other than line breaks and tabs
/// refused.
fn body_text(raw: &str) -> Result<String, ArticleError> {
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(bad("body", Reason::control_character()));
    }
    let lines: Vec<&str> = raw.lines().map(str::trim_end).collect();
    let body = lines.join("\n").trim_matches('\n').to_owned();
    if body.trim().is_empty() {
        return Err(bad("body", TextError::Empty));
    }
    let got = body.chars().count();
    if got > BODY_MAX {
        return Err(bad("body", TextError::TooLong { max: BODY_MAX, got }));
    }
    Ok(body)
}

impl ArticleInput {
    /// Checks every field; the first wrong one is named.
    pub fn check(&self) -> Result<Article, ArticleError> {
        let title = display_text(&self.title, TITLE_MAX).map_err(|e| bad("title", e))?;
        let body = body_text(&self.body)?;
        let category =
            display_text(&self.category, CATEGORY_MAX).map_err(|e| bad("category", e))?;
        if self.tags.len() > TAGS_MAX {
            return Err(bad("tags", Reason::too_many(TAGS_MAX)));
        }
        let mut tags: Vec<String> = Vec::with_capacity(self.tags.len());
        for (i, raw) in self.tags.iter().enumerate() {
            let tag = display_text(raw, TAG_MAX).map_err(|e| bad(format!("tags[{i}]"), e))?;
            if tag.contains([',', '，', '、']) {
                return Err(bad(format!("tags[{i}]"), Reason::contains_comma(tag)));
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let status = ArticleStatus::parse(&self.status)
            .ok_or_else(|| bad("status", Reason::not_one_of("draft, published, archived")))?;
        Ok(Article {
            title,
            body,
            category,
            tags,
            status,
        })
    }
}

/// A note saying why a version was saved (optional).
pub fn version_note(raw: Option<&str>) -> Result<Option<String>, ArticleError> {
    match raw.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => display_text(n, NOTE_MAX)
            .map(Some)
            .map_err(|e| bad("note", e)),
    }
}

/// The most words a center adds to the search dictionary, and groups of synonyms.
pub const DICTIONARY_WORDS_MAX: usize = 5_000;
pub const DICTIONARY_GROUPS_MAX: usize = 1_000;

/// A center's search dictionary, checked: its own words (product and place names
/// to keep whole) and synonym groups, each word once, groups of two to twenty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dictionary {
    pub words: Vec<String>,
    pub synonyms: Vec<Vec<String>>,
}

/// A dictionary word: 2–20 characters, letters and digits only (no spaces or
/// punctuation, which segmentation drops anyway).
fn dictionary_word(field: &str, raw: &str) -> Result<String, ArticleError> {
    let word = raw.trim();
    let n = word.chars().count();
    if !(2..=20).contains(&n) || !word.chars().all(char::is_alphanumeric) {
        return Err(bad(field, Reason::word_invalid(word)));
    }
    Ok(word.to_owned())
}

impl Dictionary {
    /// Checks a submitted dictionary; the first wrong entry is named.
    pub fn check(words: &[String], synonyms: &[Vec<String>]) -> Result<Dictionary, ArticleError> {
        if words.len() > DICTIONARY_WORDS_MAX {
            return Err(bad("words", Reason::too_many(DICTIONARY_WORDS_MAX)));
        }
        if synonyms.len() > DICTIONARY_GROUPS_MAX {
            return Err(bad("synonyms", Reason::too_many(DICTIONARY_GROUPS_MAX)));
        }
        let mut checked = Dictionary::default();
        for (i, w) in words.iter().enumerate() {
            let w = dictionary_word(&format!("words[{i}]"), w)?;
            if !checked.words.contains(&w) {
                checked.words.push(w);
            }
        }
        for (g, group) in synonyms.iter().enumerate() {
            let mut clean: Vec<String> = Vec::new();
            for (i, w) in group.iter().enumerate() {
                let w = dictionary_word(&format!("synonyms[{g}][{i}]"), w)?;
                if !clean.contains(&w) {
                    clean.push(w);
                }
            }
            if !(2..=20).contains(&clean.len()) {
                return Err(bad(
                    format!("synonyms[{g}]"),
                    if clean.len() < 2 {
                        Reason::group_too_small()
                    } else {
                        Reason::too_many(20)
                    },
                ));
            }
            checked.synonyms.push(clean);
        }
        Ok(checked)
    }
}

/// One line of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// equal, delete (only in the older version) or insert (only in the newer).
    pub tag: &'static str,
    /// The line in pieces; `changed` marks the characters that differ from the
    /// paired line of the other version.
    pub parts: Vec<DiffPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffPart {
    pub text: String,
    pub changed: bool,
}

/// A field that changed between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

/// How two versions of an article differ: the fields that changed and the body,
/// line by line (unchanged stretches longer than `context` lines either side of a
/// change are left out, as in a unified diff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArticleDiff {
    pub fields: Vec<FieldChange>,
    /// Groups of lines around the changes.
    pub hunks: Vec<Vec<DiffLine>>,
}

/// Compares two versions.
pub fn diff(old: &Article, new: &Article, context: usize) -> ArticleDiff {
    let mut fields = Vec::new();
    let mut field = |name: &'static str, a: String, b: String| {
        if a != b {
            fields.push(FieldChange {
                field: name,
                old: a,
                new: b,
            });
        }
    };
    field("title", old.title.clone(), new.title.clone());
    field("category", old.category.clone(), new.category.clone());
    field("tags", old.tags.join("、"), new.tags.join("、"));
    field(
        "status",
        old.status.code().to_owned(),
        new.status.code().to_owned(),
    );
    ArticleDiff {
        fields,
        hunks: body_diff(&old.body, &new.body, context),
    }
}

/// The body's line diff, grouped into hunks with `context` lines around changes.
pub fn body_diff(old: &str, new: &str, context: usize) -> Vec<Vec<DiffLine>> {
    // Every line ends with a break, so a last line compares equal to itself after
    // a line was added below it.
    let (old, new) = (format!("{old}\n"), format!("{new}\n"));
    let text = TextDiff::from_lines(&old, &new);
    let mut options = InlineChangeOptions::new();
    options.mode(InlineChangeMode::Chars);
    text.grouped_ops(context)
        .iter()
        .map(|group| {
            group
                .iter()
                .flat_map(|op| {
                    // No deadline: the domain reads no clock (bodies are bounded).
                    text.iter_inline_changes_with_options_deadline(op, options, None)
                })
                .map(|change| DiffLine {
                    tag: match change.tag() {
                        ChangeTag::Equal => "equal",
                        ChangeTag::Delete => "delete",
                        ChangeTag::Insert => "insert",
                    },
                    parts: change
                        .iter_strings_lossy()
                        .map(|(changed, s)| DiffPart {
                            text: s.trim_end_matches('\n').to_owned(),
                            changed,
                        })
                        .filter(|p| !p.text.is_empty())
                        .collect(),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(body: &str) -> ArticleInput {
        ArticleInput {
            title: " 燃气表显示E3怎么办 ".into(),
            body: body.into(),
            category: "故障处理".into(),
            tags: vec!["燃气表".into(), "E3".into(), "燃气表".into()],
            status: "published".into(),
        }
    }

    #[test]
    fn articles_are_checked_and_normalised() {
        let a = input("\r\n第一步：检查电池。  \r\n第二步：联系维修。\r\n\r\n")
            .check()
            .unwrap();
        assert_eq!(a.title, "燃气表显示E3怎么办");
        assert_eq!(a.body, "第一步：检查电池。\n第二步：联系维修。");
        assert_eq!(a.tags, vec!["燃气表", "E3"]);
        assert_eq!(a.status, ArticleStatus::Published);
        assert_eq!(ArticleStatus::parse("草稿"), Some(ArticleStatus::Draft));
    }

    #[test]
    fn wrong_fields_are_named() {
        let cases: Vec<(ArticleInput, &str)> = vec![
            (input("  \n "), "body"),
            (input("响铃\u{7}"), "body"),
            (input(&"字".repeat(BODY_MAX + 1)), "body"),
            (
                ArticleInput {
                    title: String::new(),
                    ..input("x")
                },
                "title",
            ),
            (
                ArticleInput {
                    category: "类".repeat(CATEGORY_MAX + 1),
                    ..input("x")
                },
                "category",
            ),
            (
                ArticleInput {
                    tags: vec!["a，b".into()],
                    ..input("x")
                },
                "tags[0]",
            ),
            (
                ArticleInput {
                    tags: (0..=TAGS_MAX).map(|i| i.to_string()).collect(),
                    ..input("x")
                },
                "tags",
            ),
            (
                ArticleInput {
                    status: "live".into(),
                    ..input("x")
                },
                "status",
            ),
        ];
        for (bad, field) in cases {
            assert_eq!(bad.check().unwrap_err().field, field);
        }
        assert_eq!(version_note(Some("  ")), Ok(None));
        assert!(version_note(Some(&"长".repeat(NOTE_MAX + 1))).is_err());
    }

    #[test]
    fn dictionaries_are_checked() {
        let ok = Dictionary::check(
            &["阶梯气价".into(), " 泉城燃气 ".into(), "阶梯气价".into()],
            &[vec!["燃气卡".into(), "IC卡".into()]],
        )
        .unwrap();
        assert_eq!(ok.words, vec!["阶梯气价", "泉城燃气"]);
        for (words, groups, field) in [
            (vec!["气".to_owned()], vec![], "words[0]"),
            (vec!["燃气 表".to_owned()], vec![], "words[0]"),
            (vec!["燃气！".to_owned()], vec![], "words[0]"),
            (vec![], vec![vec!["燃气卡".to_owned()]], "synonyms[0]"),
            (
                vec![],
                vec![vec!["燃气卡".to_owned(), "燃气卡".to_owned()]],
                "synonyms[0]",
            ),
            (
                vec![],
                vec![vec!["燃气卡".to_owned(), "-".to_owned()]],
                "synonyms[0][1]",
            ),
        ] {
            assert_eq!(Dictionary::check(&words, &groups).unwrap_err().field, field);
        }
    }

    #[test]
    fn diffs_mark_changed_lines_and_characters() {
        let old = input("一、居民用气价格为每立方米2.80元。\n二、第二档为3.36元。\n三、第三档为4.20元。\n四、执行时间见通知。")
            .check()
            .unwrap();
        let mut new = input("一、居民用气价格为每立方米3.00元。\n二、第二档为3.36元。\n三、第三档为4.20元。\n四、执行时间见通知。\n五、低保户免收第一档费用。")
            .check()
            .unwrap();
        new.tags.push("阶梯气价".into());
        let d = diff(&old, &new, 1);
        assert_eq!(d.fields.len(), 1);
        assert_eq!(d.fields[0].field, "tags");
        assert_eq!(d.hunks.len(), 2, "{:?}", d.hunks);
        let first = &d.hunks[0];
        let deleted = first.iter().find(|l| l.tag == "delete").unwrap();
        let changed: String = deleted
            .parts
            .iter()
            .filter(|p| p.changed)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(changed, "28");
        let inserted = first.iter().find(|l| l.tag == "insert").unwrap();
        let changed: String = inserted
            .parts
            .iter()
            .filter(|p| p.changed)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(changed, "30");
        let last = d.hunks[1].last().unwrap();
        assert_eq!(
            (last.tag, last.parts[0].text.as_str()),
            ("insert", "五、低保户免收第一档费用。")
        );
        assert!(diff(&old, &old, 3).hunks.is_empty());
    }

    proptest! {
        /// Applying the diff's lines gives back both versions: the older from the
        /// equal and deleted lines, the newer from the equal and inserted ones.
        #[test]
        fn diffs_reproduce_both_versions(
            a in proptest::collection::vec("[一二三四五燃气表价格 0-9]{0,12}", 0..12),
            b in proptest::collection::vec("[一二三四五燃气表价格 0-9]{0,12}", 0..12),
        ) {
            let (old, new) = (a.join("\n"), b.join("\n"));
            let hunks = body_diff(&old, &new, usize::MAX / 4);
            let side = |keep: &str| -> Vec<String> {
                hunks.iter().flatten()
                    .filter(|l| l.tag == "equal" || l.tag == keep)
                    .map(|l| l.parts.iter().map(|p| p.text.as_str()).collect::<String>())
                    .collect()
            };
            if old != new {
                prop_assert_eq!(side("delete"), old.split('\n').map(str::to_owned).collect::<Vec<_>>());
                prop_assert_eq!(side("insert"), new.split('\n').map(str::to_owned).collect::<Vec<_>>());
            } else {
                prop_assert!(hunks.is_empty());
            }
        }
    }
}
