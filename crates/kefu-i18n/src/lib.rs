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
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.s(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
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

#[cfg(test)]
mod tests {
    use super::*;

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
