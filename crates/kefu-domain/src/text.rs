//! Validated free-text values shared by several concepts (names, codes).

use thiserror::Error;

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("may contain only letters, digits, '-' and '_'")]
    BadCodeCharacter,
}

impl From<TextError> for crate::Reason {
    fn from(e: TextError) -> crate::Reason {
        use crate::Reason as R;
        match e {
            TextError::Empty => R::required(),
            TextError::TooLong { max, .. } => R::too_long(max),
            TextError::ControlCharacter => R::control_character(),
            TextError::BadCodeCharacter => R::code_characters(),
        }
    }
}

/// Trims `raw` and checks it is a one-line display text of 1..=`max` characters.
pub fn display_text(raw: &str, max: usize) -> Result<String, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    let got = trimmed.chars().count();
    if got > max {
        return Err(TextError::TooLong { max, got });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    Ok(trimmed.to_owned())
}

/// Checks `raw` is a code: 1..=`max` ASCII letters, digits, `-` or `_`, nothing else.
pub fn code_text(raw: &str, max: usize) -> Result<String, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if trimmed.len() > max {
        return Err(TextError::TooLong {
            max,
            got: trimmed.chars().count(),
        });
    }
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(TextError::BadCodeCharacter);
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_text_trims_and_limits() {
        assert_eq!(display_text("  张三 ", 10), Ok("张三".to_owned()));
        assert_eq!(display_text("   ", 10), Err(TextError::Empty));
        assert_eq!(
            display_text("一二三四五", 4),
            Err(TextError::TooLong { max: 4, got: 5 })
        );
        assert_eq!(
            display_text("a\u{7}b", 10),
            Err(TextError::ControlCharacter)
        );
    }

    #[test]
    fn code_text_allows_only_code_characters() {
        assert_eq!(code_text("KF-001_a", 16), Ok("KF-001_a".to_owned()));
        assert_eq!(code_text("KF 001", 16), Err(TextError::BadCodeCharacter));
        assert_eq!(code_text("工号1", 16), Err(TextError::BadCodeCharacter));
        assert!(matches!(
            code_text("A".repeat(17).as_str(), 16),
            Err(TextError::TooLong { .. })
        ));
    }
}
