//! Kefu's business rules, free of IO.
//!
//! Nothing in this crate touches a database, the network, the file system or the
//! clock: every function that depends on time takes `now` as a parameter. That keeps
//! the rules deterministic and property-testable; the storage and server crates feed
//! them validated values and persist what they return.

pub mod access;
pub mod agent_state;
pub mod assessment;
pub mod audit;
pub mod calendar;
pub mod campaign;
pub mod contact;
pub mod customer;
pub mod greeting;
pub mod ids;
pub mod incident;
pub mod inspection;
pub mod knowledge;
pub mod lockout;
pub mod money;
pub mod phone;
pub mod phrasebook;
pub mod problem;
pub mod sla;
pub mod staff;
pub mod survey;
pub mod text;
pub mod tiering;
pub mod transcript;
pub mod workflow;
pub mod workorder;

pub use access::{Permission, Role};
pub use ids::{DepartmentId, StaffId};
pub use problem::{FieldError, Reason};
