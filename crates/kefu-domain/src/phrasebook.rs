//! Service language (S7): the phrasebook — what an agent says at each moment of a
//! call, filled in for the moment (time of day, weekend or holiday from the business
//! calendar, the agent's number, the customer) — the markers inspection looks for,
//! and the forbidden expressions with a professional alternative each. Kefu ships a
//! default edition (`data/phrasebook.toml`); centers edit their own, versioned.
//!
//! Matching works on Chinese text as it is: no whitespace tokenisation; literal
//! expressions and regular expressions over characters, with longer "allowed"
//! phrases that make a match fine (什么 inside 有什么可以帮您).

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::greeting::{GreetingSlot, Occasion};

/// The shipped default edition.
pub const DEFAULT_SOURCE: &str = include_str!("../data/phrasebook.toml");

/// The moments the phrasebook has a phrase for.
pub const SITUATIONS: [&str; 13] = [
    "opening_inbound",
    "opening_outbound",
    "hold",
    "return_from_hold",
    "confirm",
    "apology",
    "transfer",
    "closing",
    "silent_line",
    "noise",
    "wrong_number",
    "out_of_scope",
    "read_back",
];

/// The greetings an edition has: one per part of the day, then the weekend and
/// holiday wishes.
pub const GREETINGS: [&str; 8] = [
    "early_morning",
    "morning",
    "noon",
    "afternoon",
    "evening",
    "night",
    "weekend",
    "holiday",
];

/// What inspection looks for.
pub const MARKERS: [&str; 8] = [
    "greeting",
    "self_identification",
    "offer_help",
    "hold",
    "apology",
    "closing",
    "silence_prompt",
    "confirm",
];

const PLACEHOLDERS: [&str; 6] = [
    "greeting", "company", "agent_no", "customer", "wish", "holiday",
];

/// Kinds of forbidden expression.
pub const CATEGORIES: [&str; 7] = [
    "address",
    "questioning",
    "commanding",
    "impatient",
    "mocking",
    "dismissive",
    "filler",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    version: u32,
    greetings: BTreeMap<String, String>,
    phrases: BTreeMap<String, String>,
    markers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    forbidden: Vec<ForbiddenSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForbiddenSource {
    id: String,
    text: Option<String>,
    pattern: Option<String>,
    category: String,
    alternative: String,
    #[serde(default)]
    allow: Vec<String>,
}

/// One forbidden expression, ready to match.
#[derive(Debug, Clone)]
pub struct Forbidden {
    pub id: String,
    pub category: String,
    pub alternative: String,
    matcher: Matcher,
    allow: Vec<String>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Text(String),
    Pattern(Regex),
}

/// A forbidden expression found in a text: where (in characters) and what to say
/// instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub id: String,
    pub category: String,
    pub matched: String,
    /// Character offsets in the text, end exclusive.
    pub start: usize,
    pub end: usize,
    pub alternative: String,
}

/// A checked phrasebook edition.
#[derive(Debug, Clone)]
pub struct Phrasebook {
    pub version: u32,
    greetings: BTreeMap<String, String>,
    phrases: BTreeMap<String, String>,
    markers: BTreeMap<String, Vec<String>>,
    pub forbidden: Vec<Forbidden>,
    source: Source,
}

/// Where in the phrasebook (e.g. `forbidden[shenme].pattern`), and what is wrong.
pub type PhrasebookError = crate::FieldError;

fn bad(field: impl Into<String>, reason: crate::Reason) -> PhrasebookError {
    crate::FieldError::new(field, reason)
}

/// The placeholders in `text` must be known ones.
fn check_placeholders(field: &str, text: &str) -> Result<(), PhrasebookError> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(bad(field, crate::Reason::placeholder_unclosed()));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(bad(field, crate::Reason::placeholder_unknown(name)));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

impl Phrasebook {
    /// The shipped default edition.
    pub fn default_cn() -> Phrasebook {
        // The shipped file is checked by the tests.
        Phrasebook::parse(DEFAULT_SOURCE).unwrap_or_else(|_| Phrasebook::empty())
    }

    fn empty() -> Phrasebook {
        Phrasebook {
            version: 0,
            greetings: BTreeMap::new(),
            phrases: BTreeMap::new(),
            markers: BTreeMap::new(),
            forbidden: Vec::new(),
            source: Source {
                version: 0,
                greetings: BTreeMap::new(),
                phrases: BTreeMap::new(),
                markers: BTreeMap::new(),
                forbidden: Vec::new(),
            },
        }
    }

    /// Reads and checks an edition (TOML, as shipped).
    pub fn parse(toml_text: &str) -> Result<Phrasebook, PhrasebookError> {
        let source: Source = toml::from_str(toml_text).map_err(|e| {
            bad(
                "phrasebook",
                crate::Reason::file_unreadable(e.to_string().lines().collect::<Vec<_>>().join(" ")),
            )
        })?;
        Phrasebook::from_source(source)
    }

    /// Reads and checks an edition sent as JSON (the API's form).
    pub fn from_json(value: serde_json::Value) -> Result<Phrasebook, PhrasebookError> {
        let source: Source = serde_json::from_value(value)
            .map_err(|e| bad("phrasebook", crate::Reason::file_unreadable(e.to_string())))?;
        Phrasebook::from_source(source)
    }

    /// The edition as JSON (what the API returns and an editor sends back).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.source).unwrap_or(serde_json::Value::Null)
    }

    /// The edition as TOML, the form the shipped file has (an editor's text).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.source).unwrap_or_default()
    }

    fn from_source(source: Source) -> Result<Phrasebook, PhrasebookError> {
        for part in GREETINGS {
            match source.greetings.get(part) {
                Some(t) if !t.trim().is_empty() => {
                    check_placeholders(&format!("greetings.{part}"), t)?
                }
                _ => return Err(bad(format!("greetings.{part}"), crate::Reason::required())),
            }
        }
        if let Some(extra) = source
            .greetings
            .keys()
            .find(|k| !GREETINGS.contains(&k.as_str()))
        {
            return Err(bad(
                format!("greetings.{extra}"),
                crate::Reason::unknown_value(extra),
            ));
        }
        for situation in SITUATIONS {
            match source.phrases.get(situation) {
                Some(t) if !t.trim().is_empty() => {
                    check_placeholders(&format!("phrases.{situation}"), t)?
                }
                _ => {
                    return Err(bad(
                        format!("phrases.{situation}"),
                        crate::Reason::required(),
                    ));
                }
            }
        }
        if let Some(extra) = source
            .phrases
            .keys()
            .find(|k| !SITUATIONS.contains(&k.as_str()))
        {
            return Err(bad(
                format!("phrases.{extra}"),
                crate::Reason::unknown_value(extra),
            ));
        }
        for marker in MARKERS {
            match source.markers.get(marker) {
                Some(list) if list.iter().any(|m| !m.trim().is_empty()) => {}
                _ => {
                    return Err(bad(format!("markers.{marker}"), crate::Reason::too_few(1)));
                }
            }
        }
        if let Some(extra) = source
            .markers
            .keys()
            .find(|k| !MARKERS.contains(&k.as_str()))
        {
            return Err(bad(
                format!("markers.{extra}"),
                crate::Reason::unknown_value(extra),
            ));
        }
        let mut forbidden = Vec::with_capacity(source.forbidden.len());
        for (i, f) in source.forbidden.iter().enumerate() {
            let field = |name: &str| {
                if f.id.trim().is_empty() {
                    format!("forbidden[{i}].{name}")
                } else {
                    format!("forbidden[{}].{name}", f.id)
                }
            };
            if f.id.trim().is_empty() {
                return Err(bad(field("id"), crate::Reason::required()));
            }
            if source.forbidden[..i].iter().any(|g| g.id == f.id) {
                return Err(bad(field("id"), crate::Reason::duplicate(&f.id)));
            }
            if !CATEGORIES.contains(&f.category.as_str()) {
                return Err(bad(
                    field("category"),
                    crate::Reason::not_one_of(CATEGORIES.join(", ")),
                ));
            }
            if f.alternative.trim().is_empty() {
                return Err(bad(field("alternative"), crate::Reason::required()));
            }
            let matcher = match (&f.text, &f.pattern) {
                (Some(t), None) if !t.trim().is_empty() => Matcher::Text(t.trim().to_owned()),
                (None, Some(p)) if !p.trim().is_empty() => {
                    let re = regex::RegexBuilder::new(p)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| {
                            bad(
                                field("pattern"),
                                crate::Reason::pattern_invalid(e.to_string().replace('\n', " ")),
                            )
                        })?;
                    if re.is_match("") {
                        return Err(bad(
                            field("pattern"),
                            crate::Reason::pattern_matches_empty(),
                        ));
                    }
                    Matcher::Pattern(re)
                }
                _ => return Err(bad(field("text"), crate::Reason::text_or_pattern())),
            };
            forbidden.push(Forbidden {
                id: f.id.clone(),
                category: f.category.clone(),
                alternative: f.alternative.clone(),
                matcher,
                allow: f
                    .allow
                    .iter()
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect(),
            });
        }
        Ok(Phrasebook {
            version: source.version,
            greetings: source.greetings.clone(),
            phrases: source.phrases.clone(),
            markers: source.markers.clone(),
            forbidden,
            source,
        })
    }

    /// The edition with a new version number (when an edited one is saved).
    pub fn with_version(mut self, version: u32) -> Phrasebook {
        self.version = version;
        self.source.version = version;
        self
    }

    /// The greeting for the slot, e.g. 下午好.
    pub fn greeting(&self, slot: &GreetingSlot) -> &str {
        self.greetings
            .get(slot.part_of_day.code())
            .map_or("您好", String::as_str)
    }

    /// The wish for the day, if it is a weekend or a holiday.
    pub fn wish(&self, slot: &GreetingSlot) -> Option<String> {
        match &slot.occasion {
            Some(Occasion::Holiday { name }) => self
                .greetings
                .get("holiday")
                .map(|t| t.replace("{holiday}", name)),
            Some(Occasion::Weekend) => self.greetings.get("weekend").cloned(),
            None => None,
        }
    }

    /// The phrase for `situation` at the moment `slot`, filled in for the agent and
    /// the customer. None for an unknown situation.
    pub fn suggest(
        &self,
        situation: &str,
        slot: &GreetingSlot,
        company: &str,
        agent_no: &str,
        customer: Option<&str>,
    ) -> Option<String> {
        let template = self.phrases.get(situation)?;
        let wish = self
            .wish(slot)
            .map(|w| format!("{w}，"))
            .unwrap_or_default();
        let text = template
            .replace("{greeting}", self.greeting(slot))
            .replace("{company}", company)
            .replace("{agent_no}", agent_no)
            .replace("{customer}", customer.unwrap_or("机主本人"))
            .replace("{wish}", &wish)
            .replace("{holiday}", "");
        Some(text)
    }

    /// The phrases of a marker list (empty for an unknown one).
    pub fn markers(&self, marker: &str) -> &[String] {
        self.markers.get(marker).map_or(&[], Vec::as_slice)
    }

    /// Whether `text` contains any phrase of `marker`.
    pub fn has_marker(&self, marker: &str, text: &str) -> bool {
        self.markers(marker)
            .iter()
            .any(|m| text.contains(m.as_str()))
    }

    /// Every forbidden expression in `text`, in order of position.
    pub fn forbidden_hits(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        for f in &self.forbidden {
            let spans: Vec<(usize, usize)> = match &f.matcher {
                Matcher::Text(t) => text
                    .match_indices(t.as_str())
                    .map(|(i, m)| (i, i + m.len()))
                    .collect(),
                Matcher::Pattern(re) => re
                    .captures_iter(text)
                    .filter_map(|c| c.name("hit").or_else(|| c.get(0)))
                    .map(|m| (m.start(), m.end()))
                    .collect(),
            };
            for (s, e) in spans {
                if f.allow.iter().any(|a| covered(text, a, s, e)) {
                    continue;
                }
                hits.push(Hit {
                    id: f.id.clone(),
                    category: f.category.clone(),
                    matched: text[s..e].to_owned(),
                    start: text[..s].chars().count(),
                    end: text[..e].chars().count(),
                    alternative: f.alternative.clone(),
                });
            }
        }
        hits.sort_by_key(|h| (h.start, h.end));
        hits
    }
}

/// Whether an occurrence of `phrase` in `text` covers bytes `s..e`.
fn covered(text: &str, phrase: &str, s: usize, e: usize) -> bool {
    text.match_indices(phrase)
        .any(|(i, m)| i <= s && i + m.len() >= e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greeting::PartOfDay;

    fn slot(part: PartOfDay, occasion: Option<Occasion>) -> GreetingSlot {
        GreetingSlot {
            part_of_day: part,
            occasion,
        }
    }

    #[test]
    fn the_shipped_edition_is_valid() {
        let book = Phrasebook::parse(DEFAULT_SOURCE).unwrap();
        assert_eq!(book.version, 1);
        assert!(book.forbidden.len() >= 15);
        // Round trip through the API's JSON form.
        let again = Phrasebook::from_json(book.to_json()).unwrap();
        assert_eq!(again.forbidden.len(), book.forbidden.len());
        // And through the editor's TOML form, unchanged.
        let edited = Phrasebook::parse(&book.to_toml()).unwrap();
        assert_eq!(edited.source, book.source);
    }

    #[test]
    fn phrases_for_the_moment() {
        let book = Phrasebook::default_cn();
        let afternoon = slot(PartOfDay::Afternoon, None);
        assert_eq!(
            book.suggest("opening_inbound", &afternoon, "泉城燃气", "1024", None)
                .unwrap(),
            "下午好，泉城燃气客服中心，1024号为您服务，请问有什么可以帮您？"
        );
        let holiday = slot(
            PartOfDay::Morning,
            Some(Occasion::Holiday {
                name: "国庆节".into(),
            }),
        );
        let closing = book
            .suggest("closing", &holiday, "泉城燃气", "1024", None)
            .unwrap();
        assert!(closing.contains("祝您国庆节快乐，再见"), "{closing}");
        let weekend = slot(PartOfDay::Evening, Some(Occasion::Weekend));
        let out = book
            .suggest(
                "opening_outbound",
                &weekend,
                "泉城燃气",
                "1024",
                Some("王燕女士"),
            )
            .unwrap();
        assert!(
            out.starts_with("晚上好") && out.contains("请问您是王燕女士吗"),
            "{out}"
        );
        assert!(book.suggest("sing", &weekend, "x", "1", None).is_none());
    }

    fn hits(text: &str) -> Vec<(String, String)> {
        Phrasebook::default_cn()
            .forbidden_hits(text)
            .into_iter()
            .map(|h| (h.id, h.matched))
            .collect()
    }

    #[test]
    fn forbidden_expressions_and_their_false_friends() {
        assert!(hits("您好，请问有什么可以帮您？").is_empty());
        assert!(hits("请问还有什么需要帮助的吗？").is_empty());
        assert!(hits("维修人员什么时候上门我帮您查一下。").is_empty());
        assert!(hits("不知道您方便接听吗？").is_empty());
        assert_eq!(
            hits("喂，你说什么？"),
            vec![
                ("wei".into(), "喂".into()),
                ("shenme".into(), "什么".into())
            ]
        );
        assert_eq!(hits("这个我不知道。")[0].0, "bu_zhidao");
        assert_eq!(hits("你等着吧，我查查")[0].0, "ni_dengzhe");
        assert_eq!(hits("我不是告诉过你了吗")[0].0, "gao_su_guo");
        assert_eq!(hits("你自己打电话去问物业")[0].0, "ni_zijiqu");
        assert_eq!(hits("这个不归我们管")[0].0, "bu_gui_wo_guan");
        let filler = hits("好的呀，马上就来嘛。");
        assert_eq!(
            filler,
            vec![
                ("filler".into(), "呀".into()),
                ("filler".into(), "嘛".into())
            ]
        );
        // A filler inside a word is not a filler.
        assert!(hits("请您呀").iter().all(|(id, _)| id == "filler"));
        assert!(hits("嘛呢路").is_empty());
    }

    #[test]
    fn positions_are_characters() {
        let book = Phrasebook::default_cn();
        let h = &book.forbidden_hits("您好，这个不可能。")[0];
        assert_eq!((h.start, h.end, h.matched.as_str()), (5, 8, "不可能"));
        assert_eq!(h.alternative, "我帮您核实一下具体情况。");
    }

    #[test]
    fn bad_editions_say_where() {
        let cases = [
            (
                DEFAULT_SOURCE.replace("alternative = \"您好\"", "alternative = \"\""),
                "forbidden[wei].alternative",
            ),
            (
                DEFAULT_SOURCE.replace("pattern = \"没(有)?办法\"", "pattern = \"没(有办法\""),
                "forbidden[mei_banfa].pattern",
            ),
            (
                DEFAULT_SOURCE.replace("{agent_no}号为您服务", "{staff}号为您服务"),
                "phrases.opening_inbound",
            ),
            (
                DEFAULT_SOURCE.replace("category = \"mocking\"", "category = \"rude\""),
                "category",
            ),
            (
                DEFAULT_SOURCE.replace("noon = \"中午好\"\n", ""),
                "greetings.noon",
            ),
            (
                DEFAULT_SOURCE.replace("id = \"bu_keneng\"", "id = \"wei\""),
                "duplicate(value=wei)",
            ),
            (
                DEFAULT_SOURCE
                    .replace("text = \"你错了\"", "text = \"你错了\"\npattern = \"你错\""),
                "text_or_pattern",
            ),
            (
                DEFAULT_SOURCE.replace("version = 1", "version = \"one\""),
                "phrasebook",
            ),
        ];
        for (source, needle) in cases {
            let e = Phrasebook::parse(&source).unwrap_err();
            assert!(e.to_string().contains(needle), "{needle}: {e}");
        }
    }
}
