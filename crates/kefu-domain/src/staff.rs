//! Staff accounts: staff numbers (工号), names and the password policy.

use serde::Serialize;
use thiserror::Error;

use crate::access::Role;
use crate::ids::DepartmentId;
use crate::text::{TextError, code_text, display_text};

/// A staff number 工号, e.g. `KF1001`: 1–32 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StaffNo(String);

impl StaffNo {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<StaffNo, TextError> {
        code_text(raw, Self::MAX_LEN).map(StaffNo)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StaffNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name, 1–64 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<PersonName, TextError> {
        display_text(raw, Self::MAX_LEN).map(PersonName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A department's name, 1–64 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DepartmentName(String);

impl DepartmentName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<DepartmentName, TextError> {
        display_text(raw, Self::MAX_LEN).map(DepartmentName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A department's short code, e.g. `REPAIR`: 1–32 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DepartmentCode(String);

impl DepartmentCode {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<DepartmentCode, TextError> {
        code_text(raw, Self::MAX_LEN).map(DepartmentCode)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a role and department do not go together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssignmentError {
    #[error("a department handler must belong to a department")]
    HandlerWithoutDepartment,
}

/// Checks that a role fits its department: handlers work for exactly one department
/// (they see only its work); other roles may or may not belong to one.
pub fn check_assignment(
    role: Role,
    department: Option<DepartmentId>,
) -> Result<(), AssignmentError> {
    match (role, department) {
        (Role::Handler, None) => Err(AssignmentError::HandlerWithoutDepartment),
        _ => Ok(()),
    }
}

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must mix at least two of: letters, digits, other characters")]
    TooSimple,
    #[error("must not contain the staff number")]
    ContainsStaffNo,
}

impl From<AssignmentError> for crate::Reason {
    fn from(e: AssignmentError) -> crate::Reason {
        match e {
            AssignmentError::HandlerWithoutDepartment => crate::Reason::handler_needs_department(),
        }
    }
}

impl From<PasswordError> for crate::Reason {
    fn from(e: PasswordError) -> crate::Reason {
        use crate::Reason as R;
        match e {
            PasswordError::TooShort { min } => R::password_too_short(min),
            PasswordError::TooLong { max } => R::password_too_long(max),
            PasswordError::TooSimple => R::password_too_simple(),
            PasswordError::ContainsStaffNo => R::password_contains_staff_no(),
        }
    }
}

/// A password that satisfies the policy. Only its hash is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

impl NewPassword {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str, staff_no: &StaffNo) -> Result<NewPassword, PasswordError> {
        let n_chars = raw.chars().count();
        if n_chars < Self::MIN_LEN {
            return Err(PasswordError::TooShort { min: Self::MIN_LEN });
        }
        if n_chars > Self::MAX_LEN {
            return Err(PasswordError::TooLong { max: Self::MAX_LEN });
        }
        let has_letter = raw.chars().any(char::is_alphabetic);
        let has_digit = raw.chars().any(|c| c.is_ascii_digit());
        let has_other = raw.chars().any(|c| !c.is_alphanumeric());
        if [has_letter, has_digit, has_other]
            .iter()
            .filter(|x| **x)
            .count()
            < 2
        {
            return Err(PasswordError::TooSimple);
        }
        if raw
            .to_lowercase()
            .contains(&staff_no.as_str().to_lowercase())
        {
            return Err(PasswordError::ContainsStaffNo);
        }
        Ok(NewPassword(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(s: &str) -> StaffNo {
        StaffNo::parse(s).unwrap()
    }

    #[test]
    fn password_policy() {
        let staff_no = no("KF1001");
        assert!(NewPassword::parse("correct-horse-9", &staff_no).is_ok());
        assert_eq!(
            NewPassword::parse("short1", &staff_no),
            Err(PasswordError::TooShort { min: 10 })
        );
        assert_eq!(
            NewPassword::parse("abcdefghijkl", &staff_no),
            Err(PasswordError::TooSimple)
        );
        assert_eq!(
            NewPassword::parse("xx-kf1001-yy", &staff_no),
            Err(PasswordError::ContainsStaffNo)
        );
        // Chinese letters count as letters.
        assert!(NewPassword::parse("客服中心热线服务2026", &staff_no).is_ok());
    }

    #[test]
    fn handlers_need_a_department() {
        assert_eq!(
            check_assignment(Role::Handler, None),
            Err(AssignmentError::HandlerWithoutDepartment)
        );
        assert!(check_assignment(Role::Handler, Some(DepartmentId(1))).is_ok());
        assert!(check_assignment(Role::Agent, None).is_ok());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = NewPassword::parse("secret-value-1", &no("A1")).unwrap();
        assert!(!format!("{p:?}").contains("secret"));
    }
}
