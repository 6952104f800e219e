//! Chinese phone numbers in every format people write them, normalised to one key.
//!
//! Mobile numbers normalise to their 11 digits (`13812345678`), landlines to area code
//! plus local number with the trunk 0 (`053188886666`), service numbers to their digits
//! (`4008123456`, `95598`). The key is what lookups match on; an extension is kept
//! apart, so `0531-88886666 转 123` and `(0531)8888-6666` find the same customer.

use serde::Serialize;
use thiserror::Error;

/// What sort of number it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    Mobile,
    Landline,
    /// 400/800 numbers and short service numbers such as 95598 or 12345.
    Service,
}

/// Why a text is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("is empty")]
    Empty,
    #[error("contains '{0}', which is not part of a phone number")]
    BadCharacter(char),
    #[error("country code +{0} is not supported (mainland China numbers only)")]
    ForeignCountry(String),
    #[error("has {0} digits, which fits no Chinese number format")]
    BadLength(usize),
    #[error("'{0}' is not a valid mobile number")]
    BadMobile(String),
    #[error("'{0}' is not a valid area code")]
    BadAreaCode(String),
    #[error(
        "local number '{0}' must have 7 or 8 digits (8 after a 3-digit area code) and not start with 0"
    )]
    BadLocalNumber(String),
    #[error("a local number without area code needs the center's default area code")]
    MissingAreaCode,
    #[error("extension '{0}' must be 1 to 6 digits")]
    BadExtension(String),
}

impl From<PhoneError> for crate::Reason {
    fn from(e: PhoneError) -> crate::Reason {
        use crate::Reason as R;
        match e {
            PhoneError::Empty => R::required(),
            PhoneError::BadCharacter(c) => R::phone_bad_character(c),
            PhoneError::ForeignCountry(c) => R::phone_foreign(format!("+{c}")),
            PhoneError::BadLength(n) => R::phone_bad_length(n),
            PhoneError::BadMobile(v) => R::phone_bad_mobile(v),
            PhoneError::BadAreaCode(v) => R::phone_bad_area_code(v),
            PhoneError::BadLocalNumber(v) => R::phone_bad_local(v),
            PhoneError::MissingAreaCode => R::phone_needs_area_code(),
            PhoneError::BadExtension(v) => R::phone_bad_extension(v),
        }
    }
}

/// A validated, normalised phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    kind: PhoneKind,
    /// Digits only: the lookup key.
    key: String,
    /// For landlines: how many leading digits of `key` are the area code.
    area_len: usize,
    extension: Option<String>,
}

/// Characters people put between digits.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-'
            | '.'
            | '('
            | ')'
            | '/'
            | '_'
            | '\t'
            | '\u{3000}'
            | '\u{2014}'
            | '\u{2013}'
            | '\u{2010}'
    )
}

/// Full-width digits, signs and brackets as their ASCII forms.
fn half_width(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + '0' as u32).unwrap_or(c),
        '\u{FF0B}' => '+',
        '\u{FF08}' => '(',
        '\u{FF09}' => ')',
        '\u{FF0D}' | '\u{2212}' => '-',
        '\u{FF03}' => '#',
        '\u{FF0C}' => ',',
        other => other,
    }
}

/// Splits off an extension written with a marker: 转, 分机, ext, x, #, comma.
fn split_marked_extension(s: &str) -> (String, Option<String>) {
    // ASCII-only lower-casing keeps every byte offset of `s`.
    let lower = s.to_ascii_lowercase();
    for marker in ["分机号", "分机", "转", "ext.", "ext", "x", "#", ","] {
        if let Some(at) = lower.find(marker) {
            let (head, tail) = (&s[..at], &s[at + marker.len()..]);
            let ext: String = tail
                .chars()
                .filter(|c| !is_separator(*c) && *c != ':' && *c != '：')
                .collect();
            return (head.to_owned(), Some(ext));
        }
    }
    (s.to_owned(), None)
}

impl PhoneNumber {
    /// Parses any common Chinese format. `default_area` (e.g. `"0531"`) completes a
    /// local landline number written without its area code.
    pub fn parse(raw: &str, default_area: Option<&str>) -> Result<PhoneNumber, PhoneError> {
        let text: String = raw.trim().chars().map(half_width).collect();
        if text.is_empty() {
            return Err(PhoneError::Empty);
        }
        let (main, mut extension) = split_marked_extension(&text);
        // Groups of digits as written, e.g. ["0531", "8888", "6666"].
        let mut plus = false;
        let mut groups: Vec<String> = Vec::new();
        let mut current = String::new();
        for c in main.trim().chars() {
            if c.is_ascii_digit() {
                current.push(c);
            } else if c == '+' && !plus && current.is_empty() && groups.is_empty() {
                plus = true;
            } else if is_separator(c) {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
            } else {
                return Err(PhoneError::BadCharacter(c));
            }
        }
        if !current.is_empty() {
            groups.push(current);
        }
        if groups.is_empty() {
            return Err(PhoneError::Empty);
        }
        let mut digits: String = groups.concat();
        // Country code.
        if plus || digits.starts_with("00") {
            let rest = if plus { digits.as_str() } else { &digits[2..] };
            match rest.strip_prefix("86") {
                Some(national) => digits = national.to_owned(),
                None => return Err(PhoneError::ForeignCountry(rest.chars().take(3).collect())),
            }
            if !digits.starts_with('0') && !is_mobile_shape(&digits) {
                // +86 531 8888 6666: the trunk 0 is dropped after the country code.
                digits.insert(0, '0');
            }
        } else if digits.len() == 13 && digits.starts_with("86") && is_mobile_shape(&digits[2..]) {
            digits = digits[2..].to_owned();
        }
        // A trailing short group written with a dash after a full landline:
        // 0531-88886666-123.
        if extension.is_none() && groups.len() >= 3 && digits.starts_with('0') {
            let last = groups.last().map(String::as_str).unwrap_or_default();
            let without = &digits[..digits.len() - last.len()];
            if (1..=6).contains(&last.len()) && parse_landline(without).is_ok() {
                extension = Some(last.to_owned());
                digits = without.to_owned();
            }
        }
        if let Some(ext) = &extension
            && (ext.is_empty() || ext.len() > 6 || !ext.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(PhoneError::BadExtension(ext.clone()));
        }
        let (kind, key, area_len) = classify(&digits, default_area)?;
        Ok(PhoneNumber {
            kind,
            key,
            area_len,
            extension,
        })
    }

    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The digits lookups match on (without extension).
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// A number read back from storage: its lookup key and extension. `None` if the
    /// key is not a valid number (only possible when edited by hand).
    pub fn from_key(key: &str, extension: Option<&str>) -> Option<PhoneNumber> {
        let mut number = PhoneNumber::parse(key, None).ok()?;
        number.extension = extension.map(str::to_owned);
        Some(number)
    }

    /// The canonical written form: `138 1234 5678`, `0531-88886666`, `0531-88886666 转 123`.
    pub fn display(&self) -> String {
        let base = match self.kind {
            PhoneKind::Mobile => {
                format!("{} {} {}", &self.key[..3], &self.key[3..7], &self.key[7..])
            }
            PhoneKind::Landline => format!(
                "{}-{}",
                &self.key[..self.area_len],
                &self.key[self.area_len..]
            ),
            PhoneKind::Service => self.key.clone(),
        };
        match &self.extension {
            Some(ext) => format!("{base} 转 {ext}"),
            None => base,
        }
    }

    /// The form shown to roles that may not see contacts: `138****5678`, `0531-****6666`.
    pub fn masked(&self) -> String {
        match self.kind {
            PhoneKind::Mobile => format!("{}****{}", &self.key[..3], &self.key[7..]),
            PhoneKind::Landline => {
                let local = &self.key[self.area_len..];
                format!(
                    "{}-****{}",
                    &self.key[..self.area_len],
                    &local[local.len() - 4..]
                )
            }
            PhoneKind::Service => self.key.clone(),
        }
    }
}

/// Masks the digits of a lookup key (for keys read back from storage).
pub fn mask_key(key: &str) -> String {
    match PhoneNumber::parse(key, None) {
        Ok(number) => number.masked(),
        Err(_) => "****".to_owned(),
    }
}

fn is_mobile_shape(d: &str) -> bool {
    d.len() == 11
        && d.starts_with('1')
        && d.as_bytes()
            .get(1)
            .is_some_and(|b| (b'3'..=b'9').contains(b))
}

/// Area code and local number of a landline written with its trunk 0.
fn parse_landline(d: &str) -> Result<usize, PhoneError> {
    let area_len = if d.starts_with("010") || (d.starts_with("02") && d.len() >= 3) {
        3
    } else {
        4
    };
    if d.len() < area_len + 7 {
        return Err(PhoneError::BadLength(d.len()));
    }
    let area = &d[..area_len];
    if area_len == 4 && !(b'3'..=b'9').contains(&area.as_bytes()[1]) {
        return Err(PhoneError::BadAreaCode(area.to_owned()));
    }
    let local = &d[area_len..];
    let starts_badly = local.starts_with('0');
    // Cities with 3-digit area codes have 8-digit local numbers.
    let bad_len = if area_len == 3 {
        local.len() != 8
    } else {
        !(7..=8).contains(&local.len())
    };
    if starts_badly || bad_len {
        return Err(PhoneError::BadLocalNumber(local.to_owned()));
    }
    Ok(area_len)
}

fn classify(d: &str, default_area: Option<&str>) -> Result<(PhoneKind, String, usize), PhoneError> {
    if d.starts_with('1') && d.len() == 11 {
        return if is_mobile_shape(d) {
            Ok((PhoneKind::Mobile, d.to_owned(), 0))
        } else {
            Err(PhoneError::BadMobile(d.to_owned()))
        };
    }
    if (d.starts_with("400") || d.starts_with("800")) && d.len() == 10 {
        return Ok((PhoneKind::Service, d.to_owned(), 0));
    }
    if (d.starts_with("95") || d.starts_with("96")) && (5..=8).contains(&d.len()) {
        return Ok((PhoneKind::Service, d.to_owned(), 0));
    }
    if d.starts_with('1') && d.len() == 5 {
        // 12345, 10086, 10000, 12315 …
        return Ok((PhoneKind::Service, d.to_owned(), 0));
    }
    if d.starts_with('0') {
        let area_len = parse_landline(d)?;
        return Ok((PhoneKind::Landline, d.to_owned(), area_len));
    }
    if (7..=8).contains(&d.len()) && !d.starts_with('1') {
        let area = default_area.ok_or(PhoneError::MissingAreaCode)?;
        let full = format!("{area}{d}");
        let area_len = parse_landline(&full)?;
        if area_len != area.len() {
            return Err(PhoneError::BadAreaCode(area.to_owned()));
        }
        return Ok((PhoneKind::Landline, full, area_len));
    }
    Err(PhoneError::BadLength(d.len()))
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(raw: &str) -> Result<(String, Option<String>), PhoneError> {
        PhoneNumber::parse(raw, Some("0531"))
            .map(|p| (p.key().to_owned(), p.extension().map(str::to_owned)))
    }

    #[test]
    fn accepted_formats_normalise_to_one_key() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("13812345678", "13812345678", None),
            ("138 1234 5678", "13812345678", None),
            ("138-1234-5678", "13812345678", None),
            ("+86 13812345678", "13812345678", None),
            ("+86-138-1234-5678", "13812345678", None),
            ("0086 138 1234 5678", "13812345678", None),
            ("8613812345678", "13812345678", None),
            ("１３８１２３４５６７８", "13812345678", None),
            ("＋８６ １３８ １２３４ ５６７８", "13812345678", None),
            ("(+86)138.1234.5678", "13812345678", None),
            ("010-12345678", "01012345678", None),
            ("(010) 1234 5678", "01012345678", None),
            ("（0531）8888-6666", "053188886666", None),
            ("(0531)8888-6666", "053188886666", None),
            ("0531 8888 6666", "053188886666", None),
            ("05318888666", "05318888666", None),
            ("+86 531 8888 6666", "053188886666", None),
            ("+86 10 1234 5678", "01012345678", None),
            ("0086-531-88886666", "053188886666", None),
            ("0531-88886666 转 123", "053188886666", Some("123")),
            ("0531-88886666转8001", "053188886666", Some("8001")),
            ("0531-88886666-123", "053188886666", Some("123")),
            ("0531-8888-6666 ext. 42", "053188886666", Some("42")),
            ("0531-88886666#6", "053188886666", Some("6")),
            ("020 8765 4321 分机 12", "02087654321", Some("12")),
            ("88886666", "053188886666", None),
            ("8888-666", "05318888666", None),
            ("400-810-8888", "4008108888", None),
            ("800 820 8820", "8008208820", None),
            ("95598", "95598", None),
            ("12345", "12345", None),
            (" 139 0000 0000 ", "13900000000", None),
        ];
        for (raw, expected, ext) in cases {
            assert_eq!(
                key(raw),
                Ok(((*expected).to_owned(), ext.map(str::to_owned))),
                "{raw}"
            );
        }
    }

    #[test]
    fn invalid_numbers_are_refused_with_reasons() {
        let cases: &[(&str, PhoneError)] = &[
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("--", PhoneError::Empty),
            ("138abc45678", PhoneError::BadCharacter('a')),
            ("电话13812345678", PhoneError::BadCharacter('电')),
            ("+1 212 555 0100", PhoneError::ForeignCountry("121".into())),
            ("+852 2345 6789", PhoneError::ForeignCountry("852".into())),
            ("1381234567", PhoneError::BadLength(10)),
            ("138123456789", PhoneError::BadLength(12)),
            ("12812345678", PhoneError::BadMobile("12812345678".into())),
            ("0531-0888666", PhoneError::BadLocalNumber("0888666".into())),
            ("010-1234567", PhoneError::BadLocalNumber("1234567".into())),
            ("0131-88886666", PhoneError::BadAreaCode("0131".into())),
            (
                "0531-88886666 转 abc",
                PhoneError::BadExtension("abc".into()),
            ),
            ("0531-88886666 转", PhoneError::BadExtension(String::new())),
            ("123", PhoneError::BadLength(3)),
        ];
        for (raw, expected) in cases {
            assert_eq!(key(raw).map(|k| k.0), Err(expected.clone()), "{raw}");
        }
        assert_eq!(
            PhoneNumber::parse("88886666", None),
            Err(PhoneError::MissingAreaCode)
        );
    }

    #[test]
    fn display_and_mask() {
        let m = PhoneNumber::parse("+86 138-1234-5678", None).unwrap();
        assert_eq!(
            (m.display(), m.masked(), m.kind()),
            (
                "138 1234 5678".into(),
                "138****5678".into(),
                PhoneKind::Mobile
            )
        );
        let l = PhoneNumber::parse("(0531)8888-6666 转 9", None).unwrap();
        assert_eq!(l.display(), "0531-88886666 转 9");
        assert_eq!(l.masked(), "0531-****6666");
        assert_eq!(mask_key("01012345678"), "010-****5678");
    }

    proptest! {
        /// Any mobile number written with random separators, prefixes and widths
        /// normalises to its 11 digits, and the display form parses back to itself.
        #[test]
        fn written_mobiles_round_trip(
            second in 3u8..=9, rest in "[0-9]{9}",
            prefix in prop::sample::select(vec!["", "+86 ", "0086-", "86", "+86-"]),
            sep in prop::sample::select(vec!["", " ", "-", "."]),
            wide in any::<bool>(),
        ) {
            let digits = format!("1{second}{rest}");
            let mut written = format!("{prefix}{}{sep}{}{sep}{}", &digits[..3], &digits[3..7], &digits[7..]);
            if wide {
                written = written.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap() } else { c }).collect();
            }
            let parsed = PhoneNumber::parse(&written, None).unwrap();
            prop_assert_eq!(parsed.key(), digits.as_str());
            prop_assert_eq!(PhoneNumber::parse(&parsed.display(), None).unwrap(), parsed);
        }

        /// Parsing never panics, whatever the input.
        #[test]
        fn parse_never_panics(raw in "\\PC{0,40}") {
            let _ = PhoneNumber::parse(&raw, Some("0531"));
        }
    }
}
