//! Kefu's message catalogs: every word the console shows and every error the API
//! explains, in zh-CN (the default) and English, from `catalogs/*.toml` embedded
//! in the binary. The console and the API's labelled downloads read them; neither
//! makes its own sentences.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    ZhCn,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(raw: &str) -> Option<Lang> {
        match raw.trim() {
            "zh-CN" | "zh" | "zh-cn" => Some(Lang::ZhCn),
            "en" | "en-US" | "en-GB" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        }
    }
}

/// The texts of one language, by dotted key (`desk.title`).
#[derive(Debug)]
pub struct Catalog {
    pub lang: Lang,
    texts: HashMap<String, String>,
}

pub const SOURCES: [(Lang, &str); 2] = [
    (Lang::ZhCn, include_str!("../catalogs/zh-CN.toml")),
    (Lang::En, include_str!("../catalogs/en.toml")),
];

fn flatten(prefix: &str, value: &toml::Value, out: &mut HashMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

impl Catalog {
    /// Parses a catalog file.
    pub fn parse(lang: Lang, source: &str) -> Result<Catalog, String> {
        let value: toml::Value = source
            .parse()
            .map_err(|e| format!("{}: {e}", lang.code()))?;
        let mut texts = HashMap::new();
        flatten("", &value, &mut texts);
        Ok(Catalog { lang, texts })
    }

    /// The text for `key`; a missing key shows itself (and the catalog test fails).
    pub fn s<'a>(&'a self, key: &'a str) -> &'a str {
        match self.texts.get(key) {
            Some(text) => text,
            None => {
                tracing::warn!(key, lang = self.lang.code(), "missing console text");
                key
            }
        }
    }

    /// The text for `key` with `{name}` placeholders filled.
    pub fn f<K: AsRef<str>, V: AsRef<str>>(&self, key: &str, args: &[(K, V)]) -> String {
        let mut text = self.s(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{}}}", name.as_ref()), value.as_ref());
        }
        text
    }

    /// The words for why input was refused: `reason.<code>` with its figures
    /// filled in. A reason at a line of a file is preceded by the line
    /// (`reason.at_line`) unless its words already name it.
    pub fn reason(&self, reason: &kefu_domain::Reason) -> String {
        let key = format!("reason.{}", reason.code());
        let mut text = self.s(&key).to_owned();
        for (name, value) in reason.args() {
            text = text.replace(&format!("{{{name}}}"), value);
            // `{state@state.}`: the figure said through the catalog.
            let prefixed = format!("{{{name}@");
            while let Some(at) = text.find(&prefixed) {
                let Some(len) = text[at..].find('}') else {
                    break;
                };
                let prefix = &text[at + prefixed.len()..at + len];
                let word_key = format!("{prefix}{value}");
                let word = if self.has(&word_key) {
                    self.s(&word_key).to_owned()
                } else {
                    value.clone()
                };
                text.replace_range(at..=at + len, &word);
            }
        }
        if let Some(line) = reason.arg("line")
            && !self.s(&key).contains("{line}")
        {
            text = format!("{}{text}", self.f("reason.at_line", &[("line", line)]));
        }
        text
    }

    /// The words for an error code of the API (`error.<code>`).
    pub fn error(&self, code: &str) -> String {
        self.s(&format!("error.{code}")).to_owned()
    }

    /// Every key with its text, for the console's script.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.texts.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }

    pub fn has(&self, key: &str) -> bool {
        self.texts.contains_key(key)
    }
}

static CATALOGS: LazyLock<Vec<Catalog>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, source)| {
            // The shipped files are parsed by a test; an unparsable one would be a
            // build defect, shown as bare keys rather than a crash.
            Catalog::parse(*lang, source).unwrap_or_else(|e| {
                tracing::error!(error = %e, "console catalog does not parse");
                Catalog {
                    lang: *lang,
                    texts: HashMap::new(),
                }
            })
        })
        .collect()
});

/// The catalog of `lang`.
pub fn catalog(lang: Lang) -> &'static Catalog {
    CATALOGS
        .iter()
        .find(|c| c.lang == lang)
        .unwrap_or(&CATALOGS[0])
}

/// The placeholders of a text: `{name}` and `{name@prefix}`, by name.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let inner = &after[..close];
        out.push(inner.split('@').next().unwrap_or(inner));
        rest = &after[close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason the domain declares has its words in both catalogs, using only
    /// the reason's own figures (and the line); no catalog has words for a reason
    /// that does not exist.
    #[test]
    fn every_reason_has_words_in_every_language() {
        for lang in [Lang::ZhCn, Lang::En] {
            let t = catalog(lang);
            for (code, figures) in kefu_domain::problem::REASONS {
                let key = format!("reason.{code}");
                assert!(t.has(&key), "{}: {key} is missing", lang.code());
                for name in placeholders(t.s(&key)) {
                    assert!(
                        figures.contains(&name) || name == "line",
                        "{}: {key} uses {{{name}}}, which is not among {figures:?}",
                        lang.code()
                    );
                }
            }
            for key in t.keys().filter(|k| k.starts_with("reason.")) {
                let code = &key["reason.".len()..];
                assert!(
                    code == "at_line"
                        || kefu_domain::problem::REASONS
                            .iter()
                            .any(|(c, _)| *c == code),
                    "{}: {key} names no reason",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn reasons_are_said_with_their_figures() {
        use kefu_domain::Reason;
        let zh = catalog(Lang::ZhCn);
        assert_eq!(zh.reason(&Reason::too_long(64)), "最多 64 个字");
        assert_eq!(
            zh.reason(&Reason::illegal_transition("dispatched", "approve")),
            "工单当前为「已派单」，不能执行「审核通过」"
        );
        assert_eq!(
            zh.reason(&Reason::transcript_backwards().at_line(3)),
            "第 3 行：结束时间早于开始时间"
        );
        let en = catalog(Lang::En);
        assert_eq!(
            en.reason(&Reason::out_of_range(1, 10)),
            "must be between 1 and 10"
        );
    }

    #[test]
    fn catalogs_parse_and_have_the_same_keys() {
        let zh = Catalog::parse(Lang::ZhCn, SOURCES[0].1).unwrap();
        let en = Catalog::parse(Lang::En, SOURCES[1].1).unwrap();
        let mut a: Vec<&str> = zh.keys().collect();
        let mut b: Vec<&str> = en.keys().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(
            zh.f("desk.signed_in", &[("extension", "8001")]),
            "已签入分机 8001"
        );
    }
}
