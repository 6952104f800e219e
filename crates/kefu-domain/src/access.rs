//! Roles and permissions: the single table that says who may do what.
//!
//! Every HTTP endpoint names one [`Permission`]; [`Role::permits`] is the only place
//! that decides whether a role holds it. Adding an endpoint means adding (or reusing)
//! a permission here, so the decision never spreads across handlers.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The roles of a service center's staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 客服代表: answers and records calls, opens work orders, makes follow-up calls.
    Agent,
    /// 部门处理人: handles work dispatched to their own department.
    Handler,
    /// 客服经理: reviews, deadlines, campaigns, incidents, inspection, reports.
    Manager,
    /// 管理员: accounts, roles, departments, rules, calendars.
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown role '{0}' (expected agent, handler, manager or admin)")]
pub struct UnknownRole(pub String);

impl From<UnknownRole> for crate::Reason {
    fn from(_: UnknownRole) -> crate::Reason {
        crate::Reason::not_one_of("agent, handler, manager, admin")
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::Handler, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Handler => "handler",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Role, UnknownRole> {
        match raw.trim() {
            "agent" => Ok(Role::Agent),
            "handler" => Ok(Role::Handler),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }

    /// Whether this role holds `permission`. The one place where access is decided.
    pub fn permits(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            // Every signed-in person may see who they are and manage their own tokens
            // and password.
            OwnAccount => true,
            // Looking up colleagues and departments (for assigning, transferring).
            StaffDirectory | DepartmentRead => true,
            // Accounts and the organisation are the administrator's.
            StaffManage | DepartmentManage => matches!(self, Admin),
            // The audit trail is read by managers (who supervise) and administrators.
            AuditRead => matches!(self, Manager | Admin),
            AuditVerify => matches!(self, Admin),
            // Customer data: agents and managers work with all customers; handlers
            // see customers through their department's work orders only;
            // administrators see records (masked) to support the others.
            CustomerRead => matches!(self, Agent | Manager | Admin),
            CustomerWrite => matches!(self, Agent | Manager),
            // Removing a record is a supervisor's decision.
            CustomerDelete => matches!(self, Manager),
            // Who sees numbers and money unmasked: agents call customers back;
            // only managers need assets.
            CustomerContactsFull => matches!(self, Agent | Manager),
            CustomerAssetsFull => matches!(self, Manager),
            // Bulk data in and out of the archive.
            CustomerImport => matches!(self, Manager | Admin),
            CustomerExport => matches!(self, Manager),
            // Tier rules decide service levels: managers read them, admins edit them.
            TierRulesRead => matches!(self, Manager | Admin),
            TierRulesManage => matches!(self, Admin),
            // Progress of background jobs (bulk recomputation, imports).
            JobRead => matches!(self, Manager | Admin),
            // Calls: agents and managers record them; the telephony bridge posts
            // events with an integration token of an agent, manager or admin account.
            ContactRead | ContactWrite => matches!(self, Agent | Manager),
            TelephonyIngest => matches!(self, Agent | Manager | Admin),
            // Click-to-dial: whoever calls customers asks the PBX to connect them
            // (the number never reaches their screen); a PBX bridge takes the
            // requests, numbers in full, with an administrator's integration token.
            CallDial => matches!(self, Agent | Manager),
            DialPlace => matches!(self, Admin),
            // Work orders: handlers see their department's (scoped by the store).
            WorkOrderRead | WorkOrderComment => matches!(self, Agent | Handler | Manager),
            WorkOrderCreate | WorkOrderDispatch | WorkOrderCallback => {
                matches!(self, Agent | Manager)
            }
            WorkOrderHandle => matches!(self, Handler | Manager),
            // What a visit needs, on an order one may read: the customer's name,
            // address, service area and number in full, and the call's 5W2H. This is
            // how handlers see customers: through their department's orders only,
            // each read audited.
            WorkOrderVisit => matches!(self, Agent | Handler | Manager),
            // 经理审查: only the manager reviews a complaint's result.
            WorkOrderReview => matches!(self, Manager),
            // Kinds, routing rules and deadline policies.
            ServiceRulesRead => matches!(self, Manager | Admin),
            ServiceRulesManage => matches!(self, Admin),
            // Breached deadlines are escalated to the manager.
            EscalationRead => matches!(self, Manager),
            WebhookManage => matches!(self, Admin),
            // The dashboard's figures (S11): the manager's.
            ReportRead => matches!(self, Manager),
            // Follow-up campaigns: the manager sets them up, agents make the calls.
            CampaignManage => matches!(self, Manager),
            CampaignRead | CampaignCall => matches!(self, Agent | Manager),
            // Emergencies: the manager records and steers them, agents call.
            IncidentManage => matches!(self, Manager),
            IncidentRead | IncidentCall => matches!(self, Agent | Manager),
            // Quality inspection: the manager reviews and edits the phrasebook and
            // rules; agents read the phrasebook (their desk shows it) and their own
            // inspections (scoped by the handlers), the manager everyone's.
            InspectionReview | PhrasebookManage => matches!(self, Manager),
            InspectionRead | PhrasebookRead => matches!(self, Agent | Manager),
            // Assessment: the manager records and decides; agents see and appeal
            // their own.
            ViolationManage => matches!(self, Manager),
            ViolationRead => matches!(self, Agent | Manager),
            // The call-center floor signs in and out and reads the handover notes.
            ShiftWork => matches!(self, Agent | Manager),
            // The knowledge base: everyone who serves customers reads and searches
            // it (drafts only editors); the manager writes it.
            KnowledgeRead => matches!(self, Agent | Handler | Manager),
            KnowledgeManage => matches!(self, Manager),
            // The search dictionary: the administrator and the manager keep the
            // center's product and place names.
            SearchDictionaryManage => matches!(self, Manager | Admin),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an endpoint requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// One's own profile, password and API tokens.
    OwnAccount,
    /// The list of colleagues (names, staff numbers, departments).
    StaffDirectory,
    /// Creating, changing, disabling and unlocking accounts.
    StaffManage,
    /// Listing departments.
    DepartmentRead,
    /// Creating and renaming departments.
    DepartmentManage,
    /// Reading the audit trail.
    AuditRead,
    /// Running a full verification of the audit hash chain.
    AuditVerify,
    /// Reading customer records (every read is audited).
    CustomerRead,
    /// Creating and changing customer records.
    CustomerWrite,
    /// Deleting customer records.
    CustomerDelete,
    /// Seeing customers' phone numbers unmasked.
    CustomerContactsFull,
    /// Seeing customers' assets unmasked.
    CustomerAssetsFull,
    /// Importing customer files.
    CustomerImport,
    /// Exporting customer segments.
    CustomerExport,
    /// Reading the tiering rules.
    TierRulesRead,
    /// Changing the tiering rules (recomputes every customer's tier).
    TierRulesManage,
    /// Following background jobs.
    JobRead,
    /// Reading call records and promised callbacks.
    ContactRead,
    /// Recording calls, promising and completing callbacks.
    ContactWrite,
    /// Posting telephony (CTI) events.
    TelephonyIngest,
    /// Asking the PBX to ring one's extension and then a customer.
    CallDial,
    /// Taking click-to-dial requests with the numbers in full (a PBX bridge).
    DialPlace,
    /// Reading work orders (handlers: their department's only).
    WorkOrderRead,
    /// Internal notes and customer-visible replies on work orders.
    WorkOrderComment,
    /// Opening work orders.
    WorkOrderCreate,
    /// Dispatching, closing, reopening and cancelling work orders.
    WorkOrderDispatch,
    /// Accepting, transferring and recording results (the department's work).
    WorkOrderHandle,
    /// The customer's name, address, area and number, and the call's 5W2H, on an
    /// order one may read (handlers send a crew with them).
    WorkOrderVisit,
    /// Manager review of a complaint's result.
    WorkOrderReview,
    /// Recording the satisfaction callback.
    WorkOrderCallback,
    /// Reading kinds, routing rules and deadline policies.
    ServiceRulesRead,
    /// Changing kinds, routing rules and deadline policies.
    ServiceRulesManage,
    /// Seeing deadline escalations.
    EscalationRead,
    /// Registering webhooks.
    WebhookManage,
    /// Reading report figures and the dashboard.
    ReportRead,
    /// Creating follow-up campaigns and their target lists.
    CampaignManage,
    /// Reading campaigns and their target lists.
    CampaignRead,
    /// Taking the next call of a campaign and recording attempts.
    CampaignCall,
    /// Recording emergency incidents, choosing the affected, steering notification.
    IncidentManage,
    /// Reading incidents, their board and lists.
    IncidentRead,
    /// Taking the next customer to notify by phone and recording the result.
    IncidentCall,
    /// Reading inspections of calls and their reviews.
    InspectionRead,
    /// Confirming or overriding inspection items.
    InspectionReview,
    /// Reading the phrasebook and the phrase for the moment.
    PhrasebookRead,
    /// Saving a new phrasebook edition.
    PhrasebookManage,
    /// Recording violations and deciding appeals.
    ViolationManage,
    /// Reading violations (agents: their own) and appealing one's own.
    ViolationRead,
    /// Signing in and out of shifts and reading the handover notes.
    ShiftWork,
    /// Reading published knowledge articles and searching.
    KnowledgeRead,
    /// Writing articles, reading drafts and archived ones.
    KnowledgeManage,
    /// Reading and editing the search dictionary (words, synonyms).
    SearchDictionaryManage,
}

impl Permission {
    pub const ALL: [Permission; 51] = [
        Permission::OwnAccount,
        Permission::StaffDirectory,
        Permission::StaffManage,
        Permission::DepartmentRead,
        Permission::DepartmentManage,
        Permission::AuditRead,
        Permission::AuditVerify,
        Permission::CustomerRead,
        Permission::CustomerWrite,
        Permission::CustomerDelete,
        Permission::CustomerContactsFull,
        Permission::CustomerAssetsFull,
        Permission::CustomerImport,
        Permission::CustomerExport,
        Permission::TierRulesRead,
        Permission::TierRulesManage,
        Permission::JobRead,
        Permission::ContactRead,
        Permission::ContactWrite,
        Permission::TelephonyIngest,
        Permission::CallDial,
        Permission::DialPlace,
        Permission::WorkOrderRead,
        Permission::WorkOrderComment,
        Permission::WorkOrderCreate,
        Permission::WorkOrderDispatch,
        Permission::WorkOrderHandle,
        Permission::WorkOrderVisit,
        Permission::WorkOrderReview,
        Permission::WorkOrderCallback,
        Permission::ServiceRulesRead,
        Permission::ServiceRulesManage,
        Permission::EscalationRead,
        Permission::WebhookManage,
        Permission::ReportRead,
        Permission::CampaignManage,
        Permission::CampaignRead,
        Permission::CampaignCall,
        Permission::IncidentManage,
        Permission::IncidentRead,
        Permission::IncidentCall,
        Permission::InspectionRead,
        Permission::InspectionReview,
        Permission::PhrasebookRead,
        Permission::PhrasebookManage,
        Permission::ViolationManage,
        Permission::ViolationRead,
        Permission::ShiftWork,
        Permission::KnowledgeRead,
        Permission::KnowledgeManage,
        Permission::SearchDictionaryManage,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse("root"), Err(UnknownRole("root".to_owned())));
    }

    #[test]
    fn admin_alone_manages_accounts() {
        for role in Role::ALL {
            assert_eq!(role.permits(Permission::StaffManage), role == Role::Admin);
        }
    }

    #[test]
    fn handlers_do_not_browse_customers() {
        assert!(!Role::Handler.permits(Permission::CustomerRead));
        assert!(Role::Agent.permits(Permission::CustomerRead));
    }

    #[test]
    fn handlers_see_what_a_visit_needs_on_their_orders() {
        assert!(Role::Handler.permits(Permission::WorkOrderVisit));
        assert!(!Role::Handler.permits(Permission::CustomerContactsFull));
        assert!(!Role::Admin.permits(Permission::WorkOrderVisit));
    }
}
