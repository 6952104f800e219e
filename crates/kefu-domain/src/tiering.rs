//! Rule-driven customer tiers (客户分级): thresholds on assets an administrator edits.
//!
//! A rule set is a list of tiers ordered by their minimum assets; the first starts at
//! zero, so every customer falls in exactly one tier. A tier carries what later
//! capabilities use: a work-order priority boost and the follow-up cadence.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::money::Yuan;
use crate::text::{code_text, display_text};

/// One tier: customers with at least `min_assets` (and less than the next tier's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tier {
    /// Stable identifier, e.g. `vip`.
    pub code: String,
    /// Display name, e.g. `VIP` or `重点维护`.
    pub name: String,
    pub min_assets: Yuan,
    /// Added to a work order's priority (0 = none): 急事急办 for valuable customers.
    pub priority_boost: u8,
    /// Days between routine follow-up calls; `None` for no routine follow-up.
    pub followup_days: Option<u32>,
}

/// Tiers as an administrator submits them, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    pub code: String,
    pub name: String,
    /// Decimal yuan as a string, e.g. "100000.00" or "10万".
    pub min_assets: String,
    #[serde(default)]
    pub priority_boost: u8,
    #[serde(default)]
    pub followup_days: Option<u32>,
}

/// A validated rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierRules {
    tiers: Vec<Tier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TierRulesError {
    #[error("at least one tier is needed")]
    Empty,
    #[error("at most {0} tiers are allowed")]
    TooMany(usize),
    #[error("tier {index}: {field}: {reason}")]
    Field {
        index: usize,
        field: &'static str,
        reason: crate::Reason,
    },
    #[error("the lowest tier must start at 0.00 so that every customer has a tier")]
    NoFloor,
    #[error("tiers '{0}' and '{1}' have the same minimum")]
    SameThreshold(String, String),
    #[error("tier code '{0}' is used twice")]
    DuplicateCode(String),
    #[error("tier {0}: priority boost must be 0 to 9")]
    BoostTooLarge(usize),
}

impl TierRulesError {
    /// The refused field as the API names it (`tiers[1].min_assets`).
    pub fn field_error(&self) -> crate::FieldError {
        use crate::{FieldError, Reason};
        match self {
            TierRulesError::Empty => FieldError::new("tiers", Reason::too_few(1)),
            TierRulesError::TooMany(max) => FieldError::new("tiers", Reason::too_many(max)),
            TierRulesError::Field {
                index,
                field,
                reason,
            } => FieldError::new(format!("tiers[{index}].{field}"), reason.clone()),
            TierRulesError::NoFloor => FieldError::new("tiers", Reason::tier_lowest_not_zero()),
            TierRulesError::SameThreshold(a, b) => {
                FieldError::new("tiers", Reason::tier_same_minimum(a, b))
            }
            TierRulesError::DuplicateCode(code) => {
                FieldError::new("tiers", Reason::duplicate(code))
            }
            TierRulesError::BoostTooLarge(index) => FieldError::new(
                format!("tiers[{index}].priority_boost"),
                Reason::out_of_range(0, 9),
            ),
        }
    }
}

/// Why a customer is in a tier: the input and the threshold that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierDecision {
    pub tier_code: String,
    /// The assets evaluated (`None` = unknown, counted as zero).
    pub assets: Option<Yuan>,
    pub threshold: Yuan,
}

impl TierRules {
    pub const MAX_TIERS: usize = 12;

    /// Validates and orders `input` by minimum assets.
    pub fn parse(input: &[TierInput]) -> Result<TierRules, TierRulesError> {
        if input.is_empty() {
            return Err(TierRulesError::Empty);
        }
        if input.len() > Self::MAX_TIERS {
            return Err(TierRulesError::TooMany(Self::MAX_TIERS));
        }
        let mut tiers = Vec::with_capacity(input.len());
        for (index, t) in input.iter().enumerate() {
            let field = |field: &'static str, reason: crate::Reason| TierRulesError::Field {
                index,
                field,
                reason,
            };
            let code = code_text(&t.code, 32).map_err(|e| field("code", e.into()))?;
            let name = display_text(&t.name, 32).map_err(|e| field("name", e.into()))?;
            let min_assets = Yuan::parse_non_negative(&t.min_assets)
                .map_err(|e| field("min_assets", e.into()))?;
            if t.priority_boost > 9 {
                return Err(TierRulesError::BoostTooLarge(index));
            }
            if t.followup_days == Some(0) {
                return Err(field("followup_days", crate::Reason::at_least(1)));
            }
            tiers.push(Tier {
                code,
                name,
                min_assets,
                priority_boost: t.priority_boost,
                followup_days: t.followup_days,
            });
        }
        tiers.sort_by_key(|t| t.min_assets);
        if tiers[0].min_assets != Yuan::ZERO {
            return Err(TierRulesError::NoFloor);
        }
        for pair in tiers.windows(2) {
            if pair[0].min_assets == pair[1].min_assets {
                return Err(TierRulesError::SameThreshold(
                    pair[0].code.clone(),
                    pair[1].code.clone(),
                ));
            }
        }
        for (i, t) in tiers.iter().enumerate() {
            if tiers[..i].iter().any(|o| o.code == t.code) {
                return Err(TierRulesError::DuplicateCode(t.code.clone()));
            }
        }
        Ok(TierRules { tiers })
    }

    /// The bank example: <10万 普通, 10–20万 优质客户, 20–30万 重点维护, ≥30万 VIP.
    pub fn default_rules() -> TierRules {
        let tier = |code: &str, name: &str, min: i64, boost: u8, days: u32| Tier {
            code: code.into(),
            name: name.into(),
            min_assets: Yuan::from_yuan(min),
            priority_boost: boost,
            followup_days: Some(days),
        };
        TierRules {
            tiers: vec![
                tier("normal", "普通", 0, 0, 365),
                tier("quality", "优质客户", 100_000, 1, 180),
                tier("key", "重点维护", 200_000, 2, 90),
                tier("vip", "VIP", 300_000, 3, 30),
            ],
        }
    }

    /// The tiers from lowest to highest.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    pub fn tier(&self, code: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.code == code)
    }

    /// The input form of these rules (for editing and storing).
    pub fn to_input(&self) -> Vec<TierInput> {
        self.tiers
            .iter()
            .map(|t| TierInput {
                code: t.code.clone(),
                name: t.name.clone(),
                min_assets: t.min_assets.to_string(),
                priority_boost: t.priority_boost,
                followup_days: t.followup_days,
            })
            .collect()
    }

    /// The tier for a customer with `assets` (unknown assets count as zero).
    pub fn evaluate(&self, assets: Option<Yuan>) -> TierDecision {
        let amount = assets.unwrap_or(Yuan::ZERO);
        let tier = self
            .tiers
            .iter()
            .rev()
            .find(|t| amount >= t.min_assets)
            .unwrap_or(&self.tiers[0]);
        TierDecision {
            tier_code: tier.code.clone(),
            assets,
            threshold: tier.min_assets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tier_of(rules: &TierRules, amount: &str) -> String {
        rules.evaluate(Some(Yuan::parse(amount).unwrap())).tier_code
    }

    #[test]
    fn default_boundaries_are_exact() {
        let rules = TierRules::default_rules();
        let cases = [
            ("0", "normal"),
            ("99999.99", "normal"),
            ("100000.00", "quality"),
            ("199999.99", "quality"),
            ("200000.00", "key"),
            ("299999.99", "key"),
            ("300000.00", "vip"),
            ("50000000", "vip"),
        ];
        for (amount, tier) in cases {
            assert_eq!(tier_of(&rules, amount), tier, "{amount}");
        }
        assert_eq!(rules.evaluate(None).tier_code, "normal");
    }

    #[test]
    fn rules_round_trip_through_their_input_form() {
        let rules = TierRules::default_rules();
        assert_eq!(TierRules::parse(&rules.to_input()), Ok(rules));
    }

    #[test]
    fn invalid_rule_sets_are_refused() {
        let input = |code: &str, min: &str| TierInput {
            code: code.into(),
            name: code.into(),
            min_assets: min.into(),
            priority_boost: 0,
            followup_days: None,
        };
        assert_eq!(TierRules::parse(&[]), Err(TierRulesError::Empty));
        assert_eq!(
            TierRules::parse(&[input("a", "100")]),
            Err(TierRulesError::NoFloor)
        );
        assert_eq!(
            TierRules::parse(&[input("a", "0"), input("b", "5万"), input("c", "50000")]),
            Err(TierRulesError::SameThreshold("b".into(), "c".into()))
        );
        assert_eq!(
            TierRules::parse(&[input("a", "0"), input("a", "1")]),
            Err(TierRulesError::DuplicateCode("a".into()))
        );
        assert!(matches!(
            TierRules::parse(&[input("a", "0"), input("b", "-5")]),
            Err(TierRulesError::Field {
                index: 1,
                field: "min_assets",
                ..
            })
        ));
        assert!(matches!(
            TierRules::parse(&[input("a b", "0")]),
            Err(TierRulesError::Field {
                index: 0,
                field: "code",
                ..
            })
        ));
        // Input order does not matter.
        let rules = TierRules::parse(&[input("high", "1000"), input("low", "0")]).unwrap();
        assert_eq!(rules.tiers()[0].code, "low");
    }

    proptest! {
        /// More assets never means a lower tier, and the chosen tier's threshold is
        /// the highest one not above the assets.
        #[test]
        fn tiers_are_monotonic(a in 0i64..10_000_000_000, b in 0i64..10_000_000_000) {
            let rules = TierRules::default_rules();
            let (lo, hi) = (a.min(b), a.max(b));
            let rank = |fen: i64| {
                let code = rules.evaluate(Some(Yuan::from_fen(fen))).tier_code;
                rules.tiers().iter().position(|t| t.code == code).unwrap()
            };
            prop_assert!(rank(lo) <= rank(hi));
            let d = rules.evaluate(Some(Yuan::from_fen(a)));
            prop_assert!(d.threshold <= Yuan::from_fen(a));
            prop_assert!(rules.tiers().iter().all(|t| t.min_assets <= d.threshold || t.min_assets > Yuan::from_fen(a)));
        }
    }
}
