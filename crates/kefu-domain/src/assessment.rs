//! Assessment 检查与考核 (S8): violations recorded against an agent — from an
//! inspection item or a complaint about the agent — with an optional penalty inside
//! the center's range, the agent's appeal and the manager's decision; and the
//! per-agent scorecard figures.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contact::labelled_enum;
use crate::money::Yuan;

labelled_enum!(
    /// Where a violation comes from.
    ViolationSource {
        Inspection => "inspection", "质检",
        Complaint => "complaint", "投诉",
        Supervisor => "supervisor", "现场检查",
    }
);

labelled_enum!(
    /// Where a violation stands.
    ViolationStatus {
        Recorded => "recorded", "已登记",
        Appealed => "appealed", "申诉中",
        Upheld => "upheld", "维持",
        Withdrawn => "withdrawn", "撤销",
    }
);

labelled_enum!(
    /// What may be done to a violation.
    ViolationCommand {
        Appeal => "appeal", "申诉",
        Uphold => "uphold", "维持",
        Withdraw => "withdraw", "撤销",
    }
);

/// The range a penalty must fall in (the standard's default: 50–500 yuan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PenaltyRange {
    pub min: Yuan,
    pub max: Yuan,
}

impl Default for PenaltyRange {
    fn default() -> Self {
        PenaltyRange {
            min: Yuan::from_yuan(50),
            max: Yuan::from_yuan(500),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssessmentError {
    #[error("penalty {amount} is outside {min}–{max} yuan")]
    PenaltyOutOfRange { amount: Yuan, min: Yuan, max: Yuan },
    #[error("{command} is not possible while the violation is {status}")]
    IllegalCommand {
        status: &'static str,
        command: &'static str,
    },
    #[error("an appeal needs the agent's reason")]
    AppealWithoutReason,
    #[error("only the agent the violation is recorded against may appeal")]
    NotTheirs,
    #[error("the agent cannot decide their own appeal")]
    OwnAppeal,
}

impl From<AssessmentError> for crate::Reason {
    fn from(e: AssessmentError) -> crate::Reason {
        use crate::Reason as R;
        match e {
            AssessmentError::PenaltyOutOfRange { min, max, .. } => {
                R::penalty_out_of_range(min, max)
            }
            AssessmentError::IllegalCommand { status, command } => {
                R::violation_command_refused(command, status)
            }
            AssessmentError::AppealWithoutReason => R::appeal_needs_reason(),
            AssessmentError::NotTheirs => R::appeal_not_yours(),
            AssessmentError::OwnAppeal => R::decide_own_appeal(),
        }
    }
}

impl PenaltyRange {
    /// A penalty is optional; when given it lies inside the range.
    pub fn check(&self, penalty: Option<Yuan>) -> Result<Option<Yuan>, AssessmentError> {
        match penalty {
            Some(p) if p < self.min || p > self.max => Err(AssessmentError::PenaltyOutOfRange {
                amount: p,
                min: self.min,
                max: self.max,
            }),
            other => Ok(other),
        }
    }
}

/// Who acts on a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationActor {
    /// The agent it is recorded against.
    TheAgent,
    /// A manager (not the agent).
    Manager,
}

/// The next status after `command`: the agent appeals a recorded violation (with a
/// reason); a manager upholds or withdraws a recorded or appealed one. A decided
/// violation is final.
pub fn apply(
    status: ViolationStatus,
    command: ViolationCommand,
    actor: ViolationActor,
    reason: Option<&str>,
) -> Result<ViolationStatus, AssessmentError> {
    use ViolationCommand as C;
    use ViolationStatus as S;
    let illegal = || AssessmentError::IllegalCommand {
        status: status.code(),
        command: command.code(),
    };
    match (command, actor) {
        (C::Appeal, ViolationActor::Manager) => return Err(AssessmentError::NotTheirs),
        (C::Uphold | C::Withdraw, ViolationActor::TheAgent) => {
            return Err(AssessmentError::OwnAppeal);
        }
        _ => {}
    }
    match (status, command) {
        (S::Recorded, C::Appeal) => {
            if reason.is_none_or(|r| r.trim().is_empty()) {
                Err(AssessmentError::AppealWithoutReason)
            } else {
                Ok(S::Appealed)
            }
        }
        (S::Recorded | S::Appealed, C::Uphold) => Ok(S::Upheld),
        (S::Recorded | S::Appealed, C::Withdraw) => Ok(S::Withdrawn),
        _ => Err(illegal()),
    }
}

/// Whether a violation in `status` counts against the agent (and its penalty is
/// due): recorded ones count until withdrawn; an open appeal suspends it.
pub fn counts(status: ViolationStatus) -> bool {
    matches!(status, ViolationStatus::Recorded | ViolationStatus::Upheld)
}

/// One agent's figures over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scorecard {
    pub calls: u64,
    /// Average handling time (talk plus hold) of answered calls, seconds.
    pub average_handling_secs: Option<u64>,
    /// Share of the agent's calls that needed no follow-up contact within 7 days.
    pub first_call_resolution: Option<f64>,
    /// Share of the agent's work orders closed within their deadline.
    pub deadline_compliance: Option<f64>,
    /// Average satisfaction (1–5) from callbacks and surveys.
    pub satisfaction: Option<f64>,
    /// Average inspection score.
    pub inspection_score: Option<f64>,
    pub complaints_against: u64,
    pub violations: u64,
    pub penalties: Yuan,
}

/// `part` of `whole` as a share (None when there is nothing to share).
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn penalties_stay_in_the_range() {
        let r = PenaltyRange::default();
        assert_eq!(r.check(None), Ok(None));
        assert_eq!(
            r.check(Some(Yuan::from_yuan(50))),
            Ok(Some(Yuan::from_yuan(50)))
        );
        assert_eq!(
            r.check(Some(Yuan::from_yuan(500))),
            Ok(Some(Yuan::from_yuan(500)))
        );
        let e = r.check(Some(Yuan::from_yuan(501))).unwrap_err();
        assert_eq!(e.to_string(), "penalty 501.00 is outside 50.00–500.00 yuan");
        assert!(r.check(Some(Yuan::from_fen(4_999))).is_err());
    }

    #[test]
    fn appeals_and_decisions() {
        use ViolationActor::{Manager, TheAgent};
        use ViolationCommand as C;
        use ViolationStatus as S;
        assert_eq!(
            apply(S::Recorded, C::Appeal, TheAgent, Some("客户要求先挂机")),
            Ok(S::Appealed)
        );
        assert_eq!(
            apply(S::Recorded, C::Appeal, TheAgent, Some("  ")),
            Err(AssessmentError::AppealWithoutReason)
        );
        assert_eq!(
            apply(S::Recorded, C::Appeal, Manager, Some("x")),
            Err(AssessmentError::NotTheirs)
        );
        assert_eq!(
            apply(S::Appealed, C::Uphold, TheAgent, None),
            Err(AssessmentError::OwnAppeal)
        );
        assert_eq!(
            apply(S::Appealed, C::Withdraw, Manager, None),
            Ok(S::Withdrawn)
        );
        assert_eq!(apply(S::Recorded, C::Uphold, Manager, None), Ok(S::Upheld));
        assert!(apply(S::Upheld, C::Appeal, TheAgent, Some("x")).is_err());
        assert!(apply(S::Appealed, C::Appeal, TheAgent, Some("again")).is_err());
        assert!(counts(S::Recorded) && counts(S::Upheld));
        assert!(!counts(S::Appealed) && !counts(S::Withdrawn));
        assert_eq!(share(3, 4), Some(0.75));
        assert_eq!(share(0, 0), None);
    }

    fn command() -> impl Strategy<Value = (ViolationCommand, ViolationActor)> {
        (
            proptest::sample::select(ViolationCommand::ALL.to_vec()),
            prop_oneof![
                Just(ViolationActor::TheAgent),
                Just(ViolationActor::Manager)
            ],
        )
    }

    proptest! {
        #[test]
        fn decided_violations_are_final(commands in proptest::collection::vec(command(), 0..12)) {
            let mut status = ViolationStatus::Recorded;
            let mut appeals = 0;
            for (c, who) in commands {
                let before = status;
                if let Ok(next) = apply(status, c, who, Some("理由")) {
                    prop_assert!(!matches!(before, ViolationStatus::Upheld | ViolationStatus::Withdrawn));
                    prop_assert_ne!(next, ViolationStatus::Recorded);
                    if c == ViolationCommand::Appeal {
                        appeals += 1;
                        prop_assert_eq!(who, ViolationActor::TheAgent);
                    } else {
                        prop_assert_eq!(who, ViolationActor::Manager);
                    }
                    status = next;
                }
            }
            // An appeal is made at most once.
            prop_assert!(appeals <= 1);
        }
    }
}
