//! The customer profile (客户档案): validated fields, Chinese and English labels for
//! the enumerations, contact windows, age bands and masking.

use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::money::Yuan;
use crate::phone::PhoneNumber;
use crate::text::{code_text, display_text};

macro_rules! labelled_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal [$($alias:literal),*]),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $code)] $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stable code stored and sent over the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            /// Accepts the code or a common Chinese or English label.
            pub fn parse(raw: &str) -> Option<$name> {
                let t = raw.trim();
                let lower = t.to_lowercase();
                $(
                    if lower == $code $(|| t == $alias || lower == $alias)* {
                        return Some($name::$variant);
                    }
                )*
                None
            }
        }
    };
}

labelled_enum!(
    /// Person or organisation.
    CustomerKind {
        Person = "person" ["个人", "居民", "individual", "私人"],
        Organisation = "organisation" ["单位", "企业", "公司", "机构", "商户", "organization", "company", "business"],
    }
);

labelled_enum!(
    Gender {
        Male = "male" ["男", "m", "先生"],
        Female = "female" ["女", "f", "女士"],
    }
);

labelled_enum!(
    /// How readily the customer's assets can be moved.
    Liquidity {
        High = "high" ["高", "强"],
        Medium = "medium" ["中", "一般"],
        Low = "low" ["低", "弱"],
    }
);

labelled_enum!(
    /// The customer's behaviour type, which decides how an agent handles them.
    BehaviourType {
        /// 要求型: wants information, quickly.
        Demanding = "demanding" ["要求型", "要求"],
        /// 困惑型: confused, needs patient explanation.
        Confused = "confused" ["困惑型", "困惑"],
        /// 冲动型: upset or emotional, needs calming first.
        Emotional = "emotional" ["冲动型", "冲动"],
    }
);

labelled_enum!(
    /// What a stored phone number is used as.
    PhoneLabel {
        Phone = "phone" ["电话", "固话", "座机", "家庭电话", "办公电话"],
        Mobile = "mobile" ["手机", "移动电话", "手机号"],
        Fax = "fax" ["传真"],
    }
);

labelled_enum!(
    /// Age bands used for segmentation.
    AgeBand {
        Under25 = "under_25" ["25岁以下", "<25"],
        From25To34 = "25_34" ["25-34岁", "25-34"],
        From35To44 = "35_44" ["35-44岁", "35-44"],
        From45To54 = "45_54" ["45-54岁", "45-54"],
        From55To64 = "55_64" ["55-64岁", "55-64"],
        From65 = "65_plus" ["65岁及以上", "65岁以上", "65+"],
    }
);

impl AgeBand {
    /// Inclusive lower and exclusive upper age of the band.
    fn ages(self) -> (i16, Option<i16>) {
        match self {
            AgeBand::Under25 => (0, Some(25)),
            AgeBand::From25To34 => (25, Some(35)),
            AgeBand::From35To44 => (35, Some(45)),
            AgeBand::From45To54 => (45, Some(55)),
            AgeBand::From55To64 => (55, Some(65)),
            AgeBand::From65 => (65, None),
        }
    }

    /// The band of someone born on `birth` as of `today`.
    pub fn of(birth: Date, today: Date) -> AgeBand {
        let age = age_on(birth, today);
        AgeBand::ALL
            .iter()
            .copied()
            .find(|b| {
                let (lo, hi) = b.ages();
                age >= lo && hi.is_none_or(|hi| age < hi)
            })
            .unwrap_or(AgeBand::Under25)
    }

    /// Birth dates in this band as of `today`: `(born after, born on or before)`,
    /// for filtering stored birth dates.
    pub fn birth_dates(self, today: Date) -> (Option<Date>, Option<Date>) {
        let (lo, hi) = self.ages();
        let years_ago = |n: i16| today.checked_sub(jiff::Span::new().years(n)).ok();
        (hi.and_then(years_ago), years_ago(lo))
    }
}

/// Whole years between `birth` and `today`.
pub fn age_on(birth: Date, today: Date) -> i16 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// Times of day when the customer prefers to be called, e.g. `09:00-11:30,14:00-17:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactWindows(Vec<(Time, Time)>);

impl ContactWindows {
    pub fn parse(raw: &str) -> Result<ContactWindows, Reason> {
        let normalised: String = raw
            .chars()
            .map(|c| match c {
                '：' => ':',
                '～' | '~' | '—' | '－' | '至' | '到' => '-',
                '、' | '，' | ';' | '；' => ',',
                other => other,
            })
            .collect();
        let mut windows = Vec::new();
        for part in normalised
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (a, b) = part
                .split_once('-')
                .ok_or_else(|| Reason::not_a_span(part))?;
            let parse = |t: &str| {
                Time::strptime("%H:%M", t.trim()).map_err(|_| Reason::not_a_time(t.trim()))
            };
            let (start, end) = (parse(a)?, parse(b)?);
            if start >= end {
                return Err(Reason::runs_backwards(part));
            }
            windows.push((start, end));
        }
        if windows.is_empty() {
            return Err(Reason::required());
        }
        if windows.len() > 6 {
            return Err(Reason::too_many(6));
        }
        windows.sort();
        Ok(ContactWindows(windows))
    }

    pub fn windows(&self) -> &[(Time, Time)] {
        &self.0
    }

    pub fn contains(&self, t: Time) -> bool {
        self.0.iter().any(|(a, b)| *a <= t && t < *b)
    }
}

impl std::fmt::Display for ContactWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(a, b)| format!("{}-{}", a.strftime("%H:%M"), b.strftime("%H:%M")))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// A customer as submitted (API body, import row): raw text, not yet validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct CustomerInput {
    pub code: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub phones: Vec<PhoneInput>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub service_area: Option<String>,
    pub occupation: Option<String>,
    /// YYYY-MM-DD.
    pub birth_date: Option<String>,
    pub age_band: Option<String>,
    pub gender: Option<String>,
    pub position: Option<String>,
    /// Decimal yuan as text, e.g. "150000.00" or "15万".
    pub assets: Option<String>,
    pub liquidity: Option<String>,
    pub preferences: Option<String>,
    pub family: Option<String>,
    pub needs: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    /// e.g. "09:00-11:30,14:00-17:00".
    pub preferred_contact_time: Option<String>,
    pub behaviour_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    /// phone, mobile or fax (or 电话, 手机, 传真).
    pub label: String,
    pub number: String,
}

impl CustomerInput {
    /// Overwrites the fields `other` provides (non-blank values; for phones, every
    /// number of a label `other` lists replaces this input's numbers of that label;
    /// tags, when `other` has any). Imports use it so a file updates only the columns
    /// it fills in.
    pub fn overlay(&mut self, other: &CustomerInput) {
        fn take(target: &mut Option<String>, source: &Option<String>) {
            if let Some(v) = source
                && !v.trim().is_empty()
            {
                *target = Some(v.clone());
            }
        }
        take(&mut self.code, &other.code);
        take(&mut self.name, &other.name);
        take(&mut self.kind, &other.kind);
        take(&mut self.email, &other.email);
        take(&mut self.address, &other.address);
        take(&mut self.service_area, &other.service_area);
        take(&mut self.occupation, &other.occupation);
        take(&mut self.birth_date, &other.birth_date);
        take(&mut self.age_band, &other.age_band);
        take(&mut self.gender, &other.gender);
        take(&mut self.position, &other.position);
        take(&mut self.assets, &other.assets);
        take(&mut self.liquidity, &other.liquidity);
        take(&mut self.preferences, &other.preferences);
        take(&mut self.family, &other.family);
        take(&mut self.needs, &other.needs);
        take(&mut self.notes, &other.notes);
        take(
            &mut self.preferred_contact_time,
            &other.preferred_contact_time,
        );
        take(&mut self.behaviour_type, &other.behaviour_type);
        if !other.tags.is_empty() {
            self.tags = other.tags.clone();
        }
        let labels: Vec<Option<PhoneLabel>> = other
            .phones
            .iter()
            .map(|p| PhoneLabel::parse(&p.label))
            .collect();
        if !other.phones.is_empty() {
            self.phones
                .retain(|p| !labels.contains(&PhoneLabel::parse(&p.label)));
            self.phones.extend(other.phones.iter().cloned());
        }
    }
}

/// A phone number of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerPhone {
    pub label: PhoneLabel,
    pub number: PhoneNumber,
}

/// A validated customer profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerDraft {
    pub code: String,
    pub name: String,
    pub kind: CustomerKind,
    pub phones: Vec<CustomerPhone>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub service_area: Option<String>,
    pub occupation: Option<String>,
    pub birth_date: Option<Date>,
    pub age_band: Option<AgeBand>,
    pub gender: Option<Gender>,
    pub position: Option<String>,
    pub assets: Option<Yuan>,
    pub liquidity: Option<Liquidity>,
    pub preferences: Option<String>,
    pub family: Option<String>,
    pub needs: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub preferred_contact_time: Option<ContactWindows>,
    pub behaviour_type: Option<BehaviourType>,
}

pub use crate::problem::FieldError;
use crate::problem::Reason;

/// Every refused field of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; "))]
pub struct CustomerErrors(pub Vec<FieldError>);

/// Limits of the free-text fields.
pub const MAX_NAME: usize = 64;
pub const MAX_SHORT: usize = 32;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_LONG: usize = 2000;
pub const MAX_PHONES: usize = 6;
pub const MAX_TAGS: usize = 20;

/// Multi-line free text: trimmed, `None` if blank, at most `max` characters.
fn long_text(raw: &str, max: usize) -> Result<Option<String>, Reason> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let n = t.chars().count();
    if n > max {
        return Err(Reason::too_long(max));
    }
    if t.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Reason::control_character());
    }
    Ok(Some(t.to_owned()))
}

/// The trimmed text of an optional field, `None` when absent or blank.
fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A plausible e-mail address (one `@`, a dotted domain, no spaces).
pub fn parse_email(raw: &str) -> Result<String, Reason> {
    let t = raw.trim();
    let ok = t.len() <= 254
        && t.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !t.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(t.to_owned())
    } else {
        Err(Reason::not_an_email(t))
    }
}

/// Normalises tags: trimmed, de-duplicated, sorted, each 1–32 characters, at most 20.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, Reason> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw {
        let t = display_text(tag, MAX_SHORT)?;
        if t.contains(',') || t.contains('，') {
            return Err(Reason::contains_comma(t));
        }
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Reason::too_many(MAX_TAGS));
    }
    // A set: one canonical order, so the same tags in another order are no change.
    tags.sort();
    Ok(tags)
}

impl CustomerDraft {
    /// Validates every field, reporting all problems at once. `today` bounds birth
    /// dates; `default_area` completes local landline numbers.
    pub fn parse(
        input: &CustomerInput,
        today: Date,
        default_area: Option<&str>,
    ) -> Result<CustomerDraft, CustomerErrors> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, reason: Reason| errors.push(FieldError::new(field, reason));

        let code = match opt(&input.code) {
            Some(c) => code_text(c, MAX_SHORT).unwrap_or_else(|e| {
                fail("code", e.into());
                String::new()
            }),
            None => {
                fail("code", Reason::required());
                String::new()
            }
        };
        let name = match opt(&input.name) {
            Some(n) => display_text(n, MAX_NAME).unwrap_or_else(|e| {
                fail("name", e.into());
                String::new()
            }),
            None => {
                fail("name", Reason::required());
                String::new()
            }
        };
        let kind = match opt(&input.kind) {
            None => CustomerKind::Person,
            Some(k) => CustomerKind::parse(k).unwrap_or_else(|| {
                fail("kind", Reason::not_one_of("person, organisation"));
                CustomerKind::Person
            }),
        };
        let mut phones: Vec<CustomerPhone> = Vec::new();
        if input.phones.len() > MAX_PHONES {
            fail("phones", Reason::too_many(MAX_PHONES));
        }
        for (i, p) in input.phones.iter().enumerate().take(MAX_PHONES) {
            let field = format!("phones[{i}]");
            let Some(label) = PhoneLabel::parse(&p.label) else {
                fail(&field, Reason::not_one_of("phone, mobile, fax"));
                continue;
            };
            match PhoneNumber::parse(&p.number, default_area) {
                Ok(number) => {
                    if phones.iter().any(|q| {
                        q.number.key() == number.key() && q.number.extension() == number.extension()
                    }) {
                        fail(&field, Reason::phone_twice(number.display()));
                    } else {
                        phones.push(CustomerPhone { label, number });
                    }
                }
                Err(e) => fail(&field, e.into()),
            }
        }
        let email =
            opt(&input.email).and_then(|e| parse_email(e).map_err(|r| fail("email", r)).ok());
        let mut short = |field: &str, v: &Option<String>, max: usize| {
            opt(v).and_then(|s| display_text(s, max).map_err(|e| fail(field, e.into())).ok())
        };
        let address = short("address", &input.address, MAX_ADDRESS);
        let service_area = short("service_area", &input.service_area, MAX_SHORT);
        let occupation = short("occupation", &input.occupation, MAX_SHORT);
        let position = short("position", &input.position, MAX_SHORT);
        let birth_date = opt(&input.birth_date).and_then(|d| match d.parse::<Date>() {
            Ok(date) if date > today => {
                fail("birth_date", Reason::in_future());
                None
            }
            Ok(date) if date.year() < 1900 => {
                fail("birth_date", Reason::before_1900());
                None
            }
            Ok(date) => Some(date),
            Err(_) => {
                fail("birth_date", Reason::not_a_date(d));
                None
            }
        });
        let age_band = match (birth_date, opt(&input.age_band)) {
            (Some(b), _) => Some(AgeBand::of(b, today)),
            (None, Some(a)) => AgeBand::parse(a).or_else(|| {
                fail(
                    "age_band",
                    Reason::not_one_of("under_25, 25_34, 35_44, 45_54, 55_64, 65_plus"),
                );
                None
            }),
            (None, None) => None,
        };
        let gender = opt(&input.gender).and_then(|g| {
            Gender::parse(g).or_else(|| {
                fail("gender", Reason::not_one_of("male, female"));
                None
            })
        });
        let assets = opt(&input.assets).and_then(|a| {
            Yuan::parse_non_negative(a)
                .map_err(|e| fail("assets", e.into()))
                .ok()
        });
        let liquidity = opt(&input.liquidity).and_then(|l| {
            Liquidity::parse(l).or_else(|| {
                fail("liquidity", Reason::not_one_of("high, medium, low"));
                None
            })
        });
        let mut long = |field: &str, v: &Option<String>| {
            v.as_deref().and_then(|s| {
                long_text(s, MAX_LONG)
                    .map_err(|r| fail(field, r))
                    .ok()
                    .flatten()
            })
        };
        let preferences = long("preferences", &input.preferences);
        let family = long("family", &input.family);
        let needs = long("needs", &input.needs);
        let notes = long("notes", &input.notes);
        let tags = parse_tags(&input.tags).unwrap_or_else(|r| {
            fail("tags", r);
            Vec::new()
        });
        let preferred_contact_time = opt(&input.preferred_contact_time).and_then(|w| {
            ContactWindows::parse(w)
                .map_err(|r| fail("preferred_contact_time", r))
                .ok()
        });
        let behaviour_type = opt(&input.behaviour_type).and_then(|b| {
            BehaviourType::parse(b).or_else(|| {
                fail(
                    "behaviour_type",
                    Reason::not_one_of("demanding, confused, emotional"),
                );
                None
            })
        });
        if !errors.is_empty() {
            return Err(CustomerErrors(errors));
        }
        Ok(CustomerDraft {
            code,
            name,
            kind,
            phones,
            email,
            address,
            service_area,
            occupation,
            birth_date,
            age_band,
            gender,
            position,
            assets,
            liquidity,
            preferences,
            family,
            needs,
            notes,
            tags,
            preferred_contact_time,
            behaviour_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 23).unwrap()
    }

    fn full() -> CustomerInput {
        CustomerInput {
            code: Some("KH001".into()),
            name: Some(" 张三 ".into()),
            kind: Some("个人".into()),
            phones: vec![
                PhoneInput {
                    label: "手机".into(),
                    number: "+86 138-1234-5678".into(),
                },
                PhoneInput {
                    label: "电话".into(),
                    number: "(0531)8888-6666".into(),
                },
            ],
            email: Some("zhang@example.com".into()),
            address: Some("济南市历下区经十路100号".into()),
            service_area: Some("历下区".into()),
            occupation: Some("教师".into()),
            birth_date: Some("1980-05-17".into()),
            gender: Some("男".into()),
            assets: Some("25万".into()),
            liquidity: Some("中".into()),
            notes: Some("第一行\n第二行".into()),
            tags: vec!["老客户".into(), "老客户".into(), "燃气".into()],
            preferred_contact_time: Some("09:00-11:30、14:00～17:00".into()),
            behaviour_type: Some("困惑型".into()),
            ..CustomerInput::default()
        }
    }

    #[test]
    fn a_full_profile_validates_and_normalises() {
        let d = CustomerDraft::parse(&full(), today(), None).unwrap();
        assert_eq!(d.name, "张三");
        assert_eq!(d.kind, CustomerKind::Person);
        assert_eq!(d.phones[0].number.key(), "13812345678");
        assert_eq!(d.phones[1].label, PhoneLabel::Phone);
        assert_eq!(d.assets, Some(Yuan::from_yuan(250_000)));
        assert_eq!(d.age_band, Some(AgeBand::From45To54));
        assert_eq!(d.tags, vec!["燃气".to_owned(), "老客户".to_owned()]);
        assert_eq!(
            d.preferred_contact_time.unwrap().to_string(),
            "09:00-11:30,14:00-17:00"
        );
        assert_eq!(d.behaviour_type, Some(BehaviourType::Confused));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let input = CustomerInput {
            code: Some("KH 1".into()),
            name: None,
            kind: Some("alien".into()),
            phones: vec![
                PhoneInput {
                    label: "手机".into(),
                    number: "12345678901".into(),
                },
                PhoneInput {
                    label: "pager".into(),
                    number: "13812345678".into(),
                },
            ],
            email: Some("no-at-sign".into()),
            birth_date: Some("2030-01-01".into()),
            assets: Some("12.345".into()),
            preferred_contact_time: Some("17:00-09:00".into()),
            behaviour_type: Some("angry".into()),
            ..CustomerInput::default()
        };
        let errors = CustomerDraft::parse(&input, today(), None).unwrap_err().0;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "code",
                "name",
                "kind",
                "phones[0]",
                "phones[1]",
                "email",
                "birth_date",
                "assets",
                "preferred_contact_time",
                "behaviour_type"
            ]
        );
    }

    #[test]
    fn the_same_number_twice_is_refused() {
        let input = CustomerInput {
            code: Some("K1".into()),
            name: Some("李四".into()),
            phones: vec![
                PhoneInput {
                    label: "mobile".into(),
                    number: "13812345678".into(),
                },
                PhoneInput {
                    label: "phone".into(),
                    number: "+86 138 1234 5678".into(),
                },
            ],
            ..CustomerInput::default()
        };
        let errors = CustomerDraft::parse(&input, today(), None).unwrap_err().0;
        assert_eq!(errors[0].field, "phones[1]");
    }

    #[test]
    fn age_bands_and_their_birth_date_ranges_agree() {
        let today = today();
        for years in 0..100i16 {
            for day_offset in [-1i64, 0, 1] {
                let Ok(birth) = today
                    .checked_sub(jiff::Span::new().years(years))
                    .and_then(|d| d.checked_add(jiff::Span::new().days(day_offset)))
                else {
                    continue;
                };
                if birth > today {
                    continue;
                }
                let band = AgeBand::of(birth, today);
                let (after, until) = band.birth_dates(today);
                assert!(
                    after.is_none_or(|a| birth > a) && until.is_none_or(|u| birth <= u),
                    "{birth} {band:?}"
                );
            }
        }
        assert_eq!(age_on(Date::new(2000, 11, 24).unwrap(), today), 25);
        assert_eq!(age_on(Date::new(2000, 11, 23).unwrap(), today), 26);
    }

    #[test]
    fn labels_accept_chinese_and_codes() {
        assert_eq!(
            BehaviourType::parse("冲动型"),
            Some(BehaviourType::Emotional)
        );
        assert_eq!(
            BehaviourType::parse("DEMANDING"),
            Some(BehaviourType::Demanding)
        );
        assert_eq!(
            CustomerKind::parse("企业"),
            Some(CustomerKind::Organisation)
        );
        assert_eq!(PhoneLabel::parse("传真"), Some(PhoneLabel::Fax));
        assert_eq!(Gender::parse("x"), None);
    }

    #[test]
    fn overlay_replaces_only_what_is_given() {
        let mut base = full();
        let update = CustomerInput {
            assets: Some("5万".into()),
            notes: Some("  ".into()),
            phones: vec![PhoneInput {
                label: "mobile".into(),
                number: "13900000000".into(),
            }],
            ..CustomerInput::default()
        };
        base.overlay(&update);
        assert_eq!(base.assets.as_deref(), Some("5万"));
        assert_eq!(
            base.notes.as_deref(),
            Some("第一行\n第二行"),
            "blank cells keep the old value"
        );
        assert_eq!(base.name.as_deref(), Some(" 张三 "));
        let numbers: Vec<(&str, &str)> = base
            .phones
            .iter()
            .map(|p| (p.label.as_str(), p.number.as_str()))
            .collect();
        assert_eq!(
            numbers,
            vec![("电话", "(0531)8888-6666"), ("mobile", "13900000000")]
        );
    }

    #[test]
    fn contact_windows() {
        let w = ContactWindows::parse("14:00-17:00, 09:00-11:30").unwrap();
        assert!(w.contains(Time::constant(9, 0, 0, 0)));
        assert!(!w.contains(Time::constant(11, 30, 0, 0)));
        assert!(ContactWindows::parse("9点到10点").is_err());
        assert!(ContactWindows::parse("").is_err());
    }
}
