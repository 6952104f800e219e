//! Work-order workflows as declared state machines, one per kind.
//!
//! A workflow is data: the transitions `(from, command, to)` a kind allows. Applying
//! a command either moves the order along a declared transition (and yields the
//! event to record) or is refused with an error naming the current state and the
//! commands it allows. The complaint workflow follows the utility standard (S4):
//! dispatch → investigation → result → manager review (rejected → back to the
//! department) → satisfaction callback (not satisfied → reopened, counted).

use jiff::Timestamp;
use serde::Serialize;
use thiserror::Error;

/// Where a work order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Recorded, not yet sent to a department.
    New,
    /// Sent to a department, not yet taken up.
    Dispatched,
    /// The department is working on it (investigating a complaint).
    InProgress,
    /// The department recorded its result; a complaint's result awaits review.
    ResultRecorded,
    /// The manager approved a complaint's result; the satisfaction callback is due.
    AwaitingCallback,
    /// Done and replied to the customer (a complaint: archived in the complaint file).
    Closed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 7] = [
        State::New,
        State::Dispatched,
        State::InProgress,
        State::ResultRecorded,
        State::AwaitingCallback,
        State::Closed,
        State::Cancelled,
    ];

    /// The stable code stored and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            State::New => "new",
            State::Dispatched => "dispatched",
            State::InProgress => "in_progress",
            State::ResultRecorded => "result_recorded",
            State::AwaitingCallback => "awaiting_callback",
            State::Closed => "closed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == raw.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            State::New => "新建",
            State::Dispatched => "已派单",
            State::InProgress => "处理中",
            State::ResultRecorded => "已出结果",
            State::AwaitingCallback => "待回访",
            State::Closed => "已办结",
            State::Cancelled => "已撤销",
        }
    }
}

/// What someone does to a work order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Dispatch,
    /// Hand over to another department (keeps the state, records the reason).
    Transfer,
    Accept,
    RecordResult,
    /// Manager review 经理审查: approve the department's result.
    Approve,
    /// Manager review: send the result back to the department.
    Reject,
    /// Satisfaction callback: the customer is satisfied.
    ConfirmSatisfied,
    /// Satisfaction callback: not satisfied; reopened to the department.
    ReportUnsatisfied,
    /// Close after replying to the customer (non-complaint kinds).
    Close,
    /// Reopen a resolved order (non-complaint kinds).
    Reopen,
    Cancel,
}

impl Command {
    pub const ALL: [Command; 11] = [
        Command::Dispatch,
        Command::Transfer,
        Command::Accept,
        Command::RecordResult,
        Command::Approve,
        Command::Reject,
        Command::ConfirmSatisfied,
        Command::ReportUnsatisfied,
        Command::Close,
        Command::Reopen,
        Command::Cancel,
    ];

    /// Whether the command sends the order back to work after a result (counted as a
    /// reopen).
    pub fn reopens(self) -> bool {
        matches!(self, Command::ReportUnsatisfied | Command::Reopen)
    }
}

/// A declared workflow: its name and transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    pub name: &'static str,
    pub transitions: &'static [(State, Command, State)],
}

use Command as C;
use State as S;

/// 投诉: the complaint chain of S4.
pub const COMPLAINT: Workflow = Workflow {
    name: "complaint",
    transitions: &[
        (S::New, C::Dispatch, S::Dispatched),
        (S::New, C::Cancel, S::Cancelled),
        (S::Dispatched, C::Transfer, S::Dispatched),
        (S::Dispatched, C::Accept, S::InProgress),
        (S::Dispatched, C::Cancel, S::Cancelled),
        (S::InProgress, C::Transfer, S::Dispatched),
        (S::InProgress, C::RecordResult, S::ResultRecorded),
        (S::ResultRecorded, C::Approve, S::AwaitingCallback),
        (S::ResultRecorded, C::Reject, S::InProgress),
        (S::AwaitingCallback, C::ConfirmSatisfied, S::Closed),
        (S::AwaitingCallback, C::ReportUnsatisfied, S::InProgress),
    ],
};

/// 报修, 业务受理 and configurable kinds: dispatched, done, replied, reopenable.
pub const SERVICE: Workflow = Workflow {
    name: "service",
    transitions: &[
        (S::New, C::Dispatch, S::Dispatched),
        (S::New, C::Cancel, S::Cancelled),
        (S::Dispatched, C::Transfer, S::Dispatched),
        (S::Dispatched, C::Accept, S::InProgress),
        (S::Dispatched, C::Cancel, S::Cancelled),
        (S::InProgress, C::Transfer, S::Dispatched),
        (S::InProgress, C::RecordResult, S::ResultRecorded),
        (S::ResultRecorded, C::Close, S::Closed),
        (S::ResultRecorded, C::Reopen, S::InProgress),
        (S::Closed, C::Reopen, S::InProgress),
    ],
};

/// 咨询回复 and 建议: an answer prepared by a department, replied, closed.
pub const ANSWER: Workflow = Workflow {
    name: "answer",
    transitions: &[
        (S::New, C::Dispatch, S::Dispatched),
        (S::New, C::Cancel, S::Cancelled),
        (S::Dispatched, C::Transfer, S::Dispatched),
        (S::Dispatched, C::RecordResult, S::ResultRecorded),
        (S::Dispatched, C::Cancel, S::Cancelled),
        (S::ResultRecorded, C::Close, S::Closed),
        (S::ResultRecorded, C::Reopen, S::Dispatched),
    ],
};

/// A refused command: what was asked, where the order stands, what it allows.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot {command:?} a work order in state {state:?}; allowed: {allowed:?}")]
pub struct TransitionError {
    pub state: State,
    pub command: Command,
    pub allowed: Vec<Command>,
}

impl From<TransitionError> for crate::Reason {
    fn from(e: TransitionError) -> crate::Reason {
        crate::Reason::illegal_transition(e.state.code(), e.command.code())
    }
}

/// One recorded step: who did what, when, from which state to which, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionEvent {
    pub command: Command,
    pub from: State,
    pub to: State,
    pub at: Timestamp,
    pub actor: String,
    pub note: String,
}

impl Workflow {
    /// The state `command` leads to from `state`, if declared.
    pub fn next(&self, state: State, command: Command) -> Option<State> {
        self.transitions
            .iter()
            .find(|(f, c, _)| *f == state && *c == command)
            .map(|(_, _, t)| *t)
    }

    /// The commands `state` allows, in a stable order.
    pub fn allowed(&self, state: State) -> Vec<Command> {
        let mut commands: Vec<Command> = self
            .transitions
            .iter()
            .filter(|(f, _, _)| *f == state)
            .map(|(_, c, _)| *c)
            .collect();
        commands.sort();
        commands.dedup();
        commands
    }

    /// Every state the workflow can be in.
    pub fn states(&self) -> Vec<State> {
        let mut states: Vec<State> = self
            .transitions
            .iter()
            .flat_map(|(f, _, t)| [*f, *t])
            .collect();
        states.sort();
        states.dedup();
        states
    }
}

/// A work order's position in its workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub state: State,
    /// Times the order went back to work after a result (unsatisfied callbacks,
    /// reopens).
    pub reopen_count: u32,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            state: State::New,
            reopen_count: 0,
        }
    }

    /// Applies `command` under `workflow`: the new progress and the event to record,
    /// or a refusal that changes nothing.
    pub fn apply(
        &self,
        workflow: &Workflow,
        command: Command,
        actor: &str,
        note: &str,
        at: Timestamp,
    ) -> Result<(Progress, TransitionEvent), TransitionError> {
        let to = workflow
            .next(self.state, command)
            .ok_or_else(|| TransitionError {
                state: self.state,
                command,
                allowed: workflow.allowed(self.state),
            })?;
        let reopen_count = self.reopen_count + u32::from(command.reopens());
        Ok((
            Progress {
                state: to,
                reopen_count,
            },
            TransitionEvent {
                command,
                from: self.state,
                to,
                at,
                actor: actor.to_owned(),
                note: note.to_owned(),
            },
        ))
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t() -> Timestamp {
        Timestamp::from_second(1_790_000_000).unwrap()
    }

    fn run(workflow: &Workflow, commands: &[Command]) -> Result<Progress, TransitionError> {
        let mut p = Progress::new();
        for c in commands {
            p = p.apply(workflow, *c, "tester", "", t())?.0;
        }
        Ok(p)
    }

    #[test]
    fn the_complaint_chain_with_rejection_and_reopen() {
        use Command::*;
        let p = run(
            &COMPLAINT,
            &[
                Dispatch,
                Accept,
                RecordResult,
                Reject,
                RecordResult,
                Approve,
                ReportUnsatisfied,
                RecordResult,
                Approve,
                ConfirmSatisfied,
            ],
        )
        .unwrap();
        assert_eq!(
            p,
            Progress {
                state: State::Closed,
                reopen_count: 1
            }
        );
    }

    #[test]
    fn refusals_name_the_state_and_the_allowed_commands() {
        let err = run(&COMPLAINT, &[Command::Dispatch, Command::Approve]).unwrap_err();
        assert_eq!(err.state, State::Dispatched);
        assert_eq!(
            err.allowed,
            vec![Command::Transfer, Command::Accept, Command::Cancel]
        );
        assert!(err.to_string().contains("Dispatched"));
        // A complaint cannot skip the manager review or the callback.
        assert!(
            run(
                &COMPLAINT,
                &[
                    Command::Dispatch,
                    Command::Accept,
                    Command::RecordResult,
                    Command::Close
                ]
            )
            .is_err()
        );
    }

    #[test]
    fn every_workflow_reaches_closed_from_new() {
        for w in [&COMPLAINT, &SERVICE, &ANSWER] {
            // Breadth-first over declared transitions.
            let mut seen = vec![State::New];
            let mut i = 0;
            while i < seen.len() {
                for (f, _, to) in w.transitions {
                    if *f == seen[i] && !seen.contains(to) {
                        seen.push(*to);
                    }
                }
                i += 1;
            }
            assert!(seen.contains(&State::Closed), "{}", w.name);
            assert_eq!(
                seen.len(),
                w.states().len(),
                "{}: every state is reachable",
                w.name
            );
        }
    }

    proptest! {
        /// Random command sequences never reach an undeclared state; every accepted
        /// command is a declared transition, every refused one changes nothing, and
        /// the reopen count counts exactly the reopening transitions.
        #[test]
        fn machines_only_take_declared_steps(
            which in 0usize..3,
            commands in proptest::collection::vec(proptest::sample::select(Command::ALL.to_vec()), 0..60),
        ) {
            let w = [&COMPLAINT, &SERVICE, &ANSWER][which];
            let states = w.states();
            let mut p = Progress::new();
            let mut events = Vec::new();
            for c in commands {
                match p.apply(w, c, "x", "", t()) {
                    Ok((next, event)) => {
                        prop_assert!(w.transitions.contains(&(event.from, event.command, event.to)));
                        prop_assert_eq!(event.from, p.state);
                        prop_assert!(states.contains(&next.state));
                        events.push(event);
                        p = next;
                    }
                    Err(e) => {
                        prop_assert_eq!(e.state, p.state);
                        prop_assert!(!e.allowed.contains(&c));
                    }
                }
            }
            prop_assert_eq!(p.reopen_count as usize, events.iter().filter(|e| e.command.reopens()).count());
            prop_assert_eq!(events.last().map_or(State::New, |e| e.to), p.state);
        }
    }
}
