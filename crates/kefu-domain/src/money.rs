//! Exact amounts of money in yuan, held as integer fen (分). Never floating point.

use serde::{Serialize, Serializer};
use thiserror::Error;

/// An amount in yuan with exactly two decimals, stored as fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Yuan(i64);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("is empty")]
    Empty,
    #[error("'{0}' is not an amount (expected e.g. 150000.00, 15万 or ¥1,500.50)")]
    NotAnAmount(String),
    #[error("'{0}' has more than two decimals (fen)")]
    TooManyDecimals(String),
    #[error("'{0}' is too large")]
    TooLarge(String),
    #[error("must not be negative")]
    Negative,
}

impl From<MoneyError> for crate::Reason {
    fn from(e: MoneyError) -> crate::Reason {
        use crate::Reason as R;
        match e {
            MoneyError::Empty => R::required(),
            MoneyError::NotAnAmount(v) => R::amount_invalid(v),
            MoneyError::TooManyDecimals(v) => R::amount_too_precise(v),
            MoneyError::TooLarge(v) => R::amount_too_large(v),
            MoneyError::Negative => R::amount_negative(),
        }
    }
}

impl Yuan {
    pub const ZERO: Yuan = Yuan(0);

    pub const fn from_fen(fen: i64) -> Yuan {
        Yuan(fen)
    }

    pub const fn from_yuan(yuan: i64) -> Yuan {
        Yuan(yuan * 100)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Parses amounts as written in Chinese documents: `150000`, `150000.5`,
    /// `150,000.50`, `¥150000`, `15万`, `1.5万元`, `0.3亿`, full-width digits.
    pub fn parse(raw: &str) -> Result<Yuan, MoneyError> {
        let cleaned: String = raw
            .trim()
            .chars()
            .map(|c| match c {
                '\u{FF10}'..='\u{FF19}' => {
                    char::from_u32(c as u32 - 0xFF10 + '0' as u32).unwrap_or(c)
                }
                '\u{FF0E}' => '.',
                '\u{FF0D}' => '-',
                other => other,
            })
            .filter(|c| !matches!(c, ',' | '，' | ' ' | '¥' | '￥' | '\u{3000}'))
            .collect();
        let mut s = cleaned.as_str();
        for suffix in ["人民币", "元", "RMB", "CNY"] {
            s = s.strip_suffix(suffix).unwrap_or(s);
        }
        for prefix in ["RMB", "CNY"] {
            s = s.strip_prefix(prefix).unwrap_or(s);
        }
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (s, multiplier_digits) = if let Some(n) = s.strip_suffix('万') {
            (n, 4)
        } else if let Some(n) = s.strip_suffix('亿') {
            (n, 8)
        } else {
            (s, 0)
        };
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let not_amount = || MoneyError::NotAnAmount(raw.trim().to_owned());
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(not_amount());
        }
        if !int_part.chars().all(|c| c.is_ascii_digit())
            || !frac_part.chars().all(|c| c.is_ascii_digit())
        {
            return Err(not_amount());
        }
        // Shift the decimal point right by the multiplier, then two more places for fen.
        let shift = multiplier_digits + 2;
        if frac_part.len() > shift {
            return Err(MoneyError::TooManyDecimals(raw.trim().to_owned()));
        }
        let mut digits = String::with_capacity(int_part.len() + shift);
        digits.push_str(int_part);
        digits.push_str(frac_part);
        digits.extend(std::iter::repeat_n('0', shift - frac_part.len()));
        let digits = digits.trim_start_matches('0');
        let fen: i64 = if digits.is_empty() {
            0
        } else if digits.len() > 18 {
            return Err(MoneyError::TooLarge(raw.trim().to_owned()));
        } else {
            digits.parse().map_err(|_| not_amount())?
        };
        Ok(Yuan(if negative { -fen } else { fen }))
    }

    /// Like [`Yuan::parse`] but refuses negative amounts (balances, assets).
    pub fn parse_non_negative(raw: &str) -> Result<Yuan, MoneyError> {
        let amount = Yuan::parse(raw)?;
        if amount.0 < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(amount)
    }
}

impl std::fmt::Display for Yuan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Serialised as a decimal string ("150000.00"), so no JSON reader turns it into a float.
impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_chinese_ways_of_writing_amounts() {
        let cases: &[(&str, i64)] = &[
            ("100000", 10_000_000),
            ("100000.00", 10_000_000),
            ("199999.99", 19_999_999),
            ("0.5", 50),
            (".5", 50),
            ("1,234,567.89", 123_456_789),
            ("¥1,500.50", 150_050),
            ("￥ 20 000", 2_000_000),
            ("15万", 15_000_000),
            ("1.5万元", 1_500_000),
            ("12.3456万", 12_345_600),
            ("1.234567万", 1_234_567),
            ("0.3亿", 3_000_000_000),
            ("１００００", 1_000_000),
            ("RMB 300000", 30_000_000),
            ("-12.5", -1_250),
            ("0", 0),
        ];
        for (raw, fen) in cases {
            assert_eq!(Yuan::parse(raw), Ok(Yuan::from_fen(*fen)), "{raw}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        assert_eq!(Yuan::parse(""), Err(MoneyError::Empty));
        assert_eq!(Yuan::parse("元"), Err(MoneyError::Empty));
        assert!(matches!(
            Yuan::parse("12.345"),
            Err(MoneyError::TooManyDecimals(_))
        ));
        assert!(matches!(
            Yuan::parse("1.2345678万"),
            Err(MoneyError::TooManyDecimals(_))
        ));
        assert!(matches!(
            Yuan::parse("十万"),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert!(matches!(
            Yuan::parse("1e5"),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert!(matches!(
            Yuan::parse("1.2.3"),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert!(matches!(Yuan::parse("."), Err(MoneyError::NotAnAmount(_))));
        assert!(matches!(
            Yuan::parse("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        assert_eq!(Yuan::parse_non_negative("-1"), Err(MoneyError::Negative));
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Yuan::from_fen(10_000_000).to_string(), "100000.00");
        assert_eq!(Yuan::from_fen(-5).to_string(), "-0.05");
        assert_eq!(
            serde_json::to_string(&Yuan::from_fen(150_050)).unwrap(),
            "\"1500.50\""
        );
    }

    proptest! {
        #[test]
        fn display_parses_back(fen in -10_000_000_000_000i64..10_000_000_000_000) {
            let y = Yuan::from_fen(fen);
            prop_assert_eq!(Yuan::parse(&y.to_string()), Ok(y));
        }

        #[test]
        fn parse_never_panics(raw in "\\PC{0,30}") {
            let _ = Yuan::parse(&raw);
        }
    }
}
