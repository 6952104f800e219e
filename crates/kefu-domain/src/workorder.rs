//! Work orders (S3): kinds and their workflows, priority from kind, urgency and tier
//! (急事急办、特事特办), routing rules to departments, and the complaint causes (S4).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::access::Permission;
use crate::contact::{Category, labelled_enum};
use crate::ids::DepartmentId;
use crate::text::{code_text, display_text};
use crate::workflow::{ANSWER, COMPLAINT, Command, SERVICE, Workflow};

/// The workflows a kind can follow, by name.
pub fn workflow_named(name: &str) -> Option<&'static Workflow> {
    [&COMPLAINT, &SERVICE, &ANSWER]
        .into_iter()
        .find(|w| w.name == name)
}

/// A kind of work order: its code, name, workflow and base priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindSpec {
    pub code: String,
    pub name: String,
    pub workflow: &'static Workflow,
    /// Added to the priority score (0–3).
    pub base_priority: u8,
    /// Built-in kinds cannot be removed or change workflow.
    pub builtin: bool,
}

impl Serialize for Workflow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

/// The five kinds of S3.
pub fn builtin_kinds() -> Vec<KindSpec> {
    let kind = |code: &str, name: &str, workflow, base_priority| KindSpec {
        code: code.into(),
        name: name.into(),
        workflow,
        base_priority,
        builtin: true,
    };
    vec![
        kind("repair", "报修", &SERVICE, 2),
        kind("complaint", "投诉", &COMPLAINT, 2),
        kind("service_request", "业务受理", &SERVICE, 1),
        kind("answer", "咨询回复", &ANSWER, 1),
        kind("suggestion", "建议", &ANSWER, 0),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KindError {
    #[error("code: {0}")]
    Code(crate::text::TextError),
    #[error("name: {0}")]
    Name(crate::text::TextError),
    #[error("workflow: '{0}' is not one of complaint, service, answer")]
    Workflow(String),
    #[error("base_priority: must be 0–3")]
    BasePriority,
}

impl KindError {
    /// The refused field as the API names it.
    pub fn field_error(&self) -> crate::FieldError {
        use crate::{FieldError, Reason};
        match self {
            KindError::Code(e) => FieldError::new("code", e.clone()),
            KindError::Name(e) => FieldError::new("name", e.clone()),
            KindError::Workflow(_) => {
                FieldError::new("workflow", Reason::not_one_of("complaint, service, answer"))
            }
            KindError::BasePriority => FieldError::new("base_priority", Reason::out_of_range(0, 3)),
        }
    }
}

impl KindSpec {
    /// A configurable kind, validated.
    pub fn parse(
        code: &str,
        name: &str,
        workflow: &str,
        base_priority: u8,
    ) -> Result<KindSpec, KindError> {
        Ok(KindSpec {
            code: code_text(code, 32).map_err(KindError::Code)?,
            name: display_text(name, 40).map_err(KindError::Name)?,
            workflow: workflow_named(workflow.trim())
                .ok_or_else(|| KindError::Workflow(workflow.to_owned()))?,
            base_priority: if base_priority <= 3 {
                base_priority
            } else {
                return Err(KindError::BasePriority);
            },
            builtin: false,
        })
    }

    pub fn is_complaint(&self) -> bool {
        self.workflow.name == COMPLAINT.name
    }
}

labelled_enum!(
    /// How urgent the customer's matter is, as judged on the call.
    Urgency { Normal => "normal", "一般", Urgent => "urgent", "紧急", Emergency => "emergency", "特急" }
);

/// Priority 1 (handle first) to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Priority(u8);

impl Priority {
    pub const HIGHEST: Priority = Priority(1);
    pub const LOWEST: Priority = Priority(4);

    pub fn new(level: u8) -> Option<Priority> {
        (1..=4).contains(&level).then_some(Priority(level))
    }

    pub fn level(self) -> u8 {
        self.0
    }

    pub fn label_zh(self) -> &'static str {
        match self.0 {
            1 => "特急",
            2 => "紧急",
            3 => "一般",
            _ => "低",
        }
    }
}

/// The priority of an order: the kind's base, the urgency (an emergency is always
/// handled first) and the customer's tier boost add up to a score.
pub fn priority(kind: &KindSpec, urgency: Urgency, tier_boost: u8) -> Priority {
    if urgency == Urgency::Emergency {
        return Priority::HIGHEST;
    }
    let score = u32::from(kind.base_priority)
        + if urgency == Urgency::Urgent { 2 } else { 0 }
        + u32::from(tier_boost.min(3));
    Priority(match score {
        5.. => 1,
        3..=4 => 2,
        1..=2 => 3,
        _ => 4,
    })
}

/// A routing rule: where orders matching every given field go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Work-order kind code; absent matches any.
    pub kind: Option<String>,
    /// Contact category code; absent matches any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub category: Option<Category>,
    /// Service area; absent matches any.
    pub service_area: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub department_id: DepartmentId,
}

impl RoutingRule {
    fn matches(&self, kind: &str, category: Option<Category>, area: Option<&str>) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.category.is_none_or(|c| Some(c) == category)
            && self.service_area.as_deref().is_none_or(|a| Some(a) == area)
    }

    fn specificity(&self) -> usize {
        usize::from(self.kind.is_some())
            + usize::from(self.category.is_some())
            + usize::from(self.service_area.is_some())
    }
}

/// The department for an order: the most specific matching rule wins; among equally
/// specific ones, the first listed.
pub fn route(
    rules: &[RoutingRule],
    kind: &str,
    category: Option<Category>,
    service_area: Option<&str>,
) -> Option<DepartmentId> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.matches(kind, category, service_area))
        .max_by_key(|(i, r)| (r.specificity(), std::cmp::Reverse(*i)))
        .map(|(_, r)| r.department_id)
}

labelled_enum!(
    /// Why a complaint arose (S4), for analysis.
    ComplaintCause {
        UnderstandingGap => "understanding_gap", "理解差距",
        ProcedureGap => "procedure_gap", "程序差距",
        BehaviourGap => "behaviour_gap", "行为差距",
        ProductDefect => "product_defect", "产品缺陷",
        PromiseBroken => "promise_broken", "承诺未兑现",
        Attitude => "attitude", "服务态度",
        Efficiency => "efficiency", "办事效率",
        Knowledge => "knowledge", "业务知识",
        Other => "other", "其他",
    }
);

/// Who may issue a workflow command: the permission it needs.
pub fn command_permission(command: Command) -> Permission {
    match command {
        Command::Dispatch | Command::Close | Command::Reopen | Command::Cancel => {
            Permission::WorkOrderDispatch
        }
        Command::Transfer | Command::Accept | Command::RecordResult => Permission::WorkOrderHandle,
        Command::Approve | Command::Reject => Permission::WorkOrderReview,
        Command::ConfirmSatisfied | Command::ReportUnsatisfied => Permission::WorkOrderCallback,
    }
}

/// The command named in the API.
pub fn parse_command(raw: &str) -> Option<Command> {
    Command::ALL
        .iter()
        .copied()
        .find(|c| c.code() == raw.trim())
}

impl Command {
    pub fn code(self) -> &'static str {
        match self {
            Command::Dispatch => "dispatch",
            Command::Transfer => "transfer",
            Command::Accept => "accept",
            Command::RecordResult => "record_result",
            Command::Approve => "approve",
            Command::Reject => "reject",
            Command::ConfirmSatisfied => "confirm_satisfied",
            Command::ReportUnsatisfied => "report_unsatisfied",
            Command::Close => "close",
            Command::Reopen => "reopen",
            Command::Cancel => "cancel",
        }
    }

    /// Commands that need a note saying why (the record must explain them).
    pub fn needs_note(self) -> bool {
        matches!(
            self,
            Command::Transfer
                | Command::RecordResult
                | Command::Reject
                | Command::ReportUnsatisfied
                | Command::Reopen
                | Command::Cancel
        )
    }
}

/// Whether the state counts as resolved for the resolution deadline: the result is
/// in (approved, for a complaint) or the order is finished.
pub fn is_resolved(workflow: &Workflow, state: crate::workflow::State) -> bool {
    use crate::workflow::State as S;
    if workflow.name == COMPLAINT.name {
        matches!(state, S::AwaitingCallback | S::Closed | S::Cancelled)
    } else {
        matches!(state, S::ResultRecorded | S::Closed | S::Cancelled)
    }
}

/// Whether the order is finished (no deadlines run any more).
pub fn is_final(state: crate::workflow::State) -> bool {
    matches!(
        state,
        crate::workflow::State::Closed | crate::workflow::State::Cancelled
    )
}

/// Whether a command counts as the department's first response.
pub fn is_first_response(command: Command) -> bool {
    matches!(command, Command::Accept | Command::RecordResult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds() -> Vec<KindSpec> {
        builtin_kinds()
    }

    #[test]
    fn emergencies_and_vips_come_first() {
        let k = kinds();
        let suggestion = &k[4];
        let repair = &k[0];
        assert_eq!(
            priority(suggestion, Urgency::Emergency, 0),
            Priority::HIGHEST
        );
        assert_eq!(priority(suggestion, Urgency::Normal, 0), Priority::LOWEST);
        assert_eq!(priority(repair, Urgency::Normal, 0).level(), 3);
        assert_eq!(priority(repair, Urgency::Normal, 3).level(), 1);
        assert_eq!(priority(repair, Urgency::Urgent, 0).level(), 2);
    }

    #[test]
    fn the_most_specific_rule_routes() {
        let d = DepartmentId;
        let rules = vec![
            RoutingRule {
                kind: None,
                category: None,
                service_area: None,
                department_id: d(1),
            },
            RoutingRule {
                kind: Some("repair".into()),
                category: None,
                service_area: None,
                department_id: d(2),
            },
            RoutingRule {
                kind: Some("repair".into()),
                category: None,
                service_area: Some("历下区".into()),
                department_id: d(3),
            },
            RoutingRule {
                kind: Some("repair".into()),
                category: None,
                service_area: None,
                department_id: d(4),
            },
        ];
        assert_eq!(route(&rules, "repair", None, Some("历下区")), Some(d(3)));
        assert_eq!(route(&rules, "repair", None, Some("市中区")), Some(d(2)));
        assert_eq!(route(&rules, "complaint", None, None), Some(d(1)));
        assert_eq!(route(&rules[1..], "complaint", None, None), None);
    }

    #[test]
    fn configurable_kinds_are_validated() {
        assert!(KindSpec::parse("meter", "抄表复核", "service", 1).is_ok());
        assert_eq!(
            KindSpec::parse("meter", "抄表复核", "kanban", 1),
            Err(KindError::Workflow("kanban".into()))
        );
        assert_eq!(
            KindSpec::parse("meter", "抄表", "service", 9),
            Err(KindError::BasePriority)
        );
        assert!(matches!(
            KindSpec::parse("抄表", "抄表", "service", 0),
            Err(KindError::Code(_))
        ));
    }

    #[test]
    fn commands_round_trip_and_have_permissions() {
        for c in Command::ALL {
            assert_eq!(parse_command(c.code()), Some(c));
            let _ = command_permission(c);
        }
        assert_eq!(
            command_permission(Command::Approve),
            Permission::WorkOrderReview
        );
    }

    proptest! {
        /// Priority never gets worse when urgency or tier rises.
        #[test]
        fn priority_is_monotonic(kind in 0usize..5, boost in 0u8..4, urgency in 0usize..3) {
            let k = &kinds()[kind];
            let u = Urgency::ALL[urgency];
            let p = priority(k, u, boost);
            prop_assert!(priority(k, u, boost.saturating_add(1)) <= p);
            if urgency < 2 {
                prop_assert!(priority(k, Urgency::ALL[urgency + 1], boost) <= p);
            }
        }
    }
}
