//! Agent states over HTTP: one's own (签入 comes with the seat; 就绪 and 置忙 with
//! a reason here), and the floor for the manager's wallboard: every agent's state
//! and for how long, calls waiting and the longest wait, today's answered and
//! abandoned calls and the service level.

use axum::Json;
use axum::extract::State;
use kefu_domain::Reason;
use kefu_domain::agent_state::{Input, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_state, set_my_state))
        .routes(routes!(floor))
}

/// An agent's state.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StateView {
    /// ready, not_ready, ringing, on_call, wrap_up or signed_out.
    state: String,
    /// For not_ready: why.
    reason: Option<String>,
    since: String,
    /// For wrap_up: when it ends by itself.
    until: Option<String>,
}

impl From<Status> for StateView {
    fn from(s: Status) -> Self {
        StateView {
            state: s.state.code().to_owned(),
            reason: s.reason,
            since: s.since.to_string(),
            until: s.until.map(|u| u.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MyState {
    #[serde(flatten)]
    now: StateView,
    /// The reasons one may give for not_ready.
    reasons: Vec<String>,
    wrap_up_seconds: u32,
}

/// One's own state, and the reasons one may give for 置忙.
#[utoipa::path(get, path = "/api/v1/me/state", tag = "contacts",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = MyState)))]
async fn my_state(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
) -> ApiResult<Json<MyState>> {
    let now = state
        .store
        .agent_state(who.staff.id.0, state.clock.now())
        .await?;
    let rules = state.store.agent_rules();
    Ok(Json(MyState {
        now: now.into(),
        reasons: rules.not_ready_reasons.clone(),
        wrap_up_seconds: rules.wrap_up_secs,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateInput {
    /// ready (就绪) or not_ready (置忙, with a reason).
    #[schema(pattern = r"^(ready|not_ready)$")]
    state: String,
    reason: Option<String>,
}

/// 就绪 or 置忙 (with one of the center's reasons). Needs a seat; not while a
/// call rings or goes on (the PBX moves agents through calls and wrap-up).
#[utoipa::path(put, path = "/api/v1/me/state", tag = "contacts", request_body = StateInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = StateView),
        (status = 409, body = ErrorBody, description = "seat_required or on_a_call"),
        (status = 422, body = ErrorBody)))]
async fn set_my_state(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<StateInput>,
) -> ApiResult<Json<StateView>> {
    let move_to = match input.state.trim() {
        "ready" => Input::Ready,
        "not_ready" => Input::NotReady(
            input
                .reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| ApiError::invalid("reason", Reason::required()))?
                .to_owned(),
        ),
        _ => {
            return Err(ApiError::invalid(
                "state",
                Reason::not_one_of("ready, not_ready"),
            ));
        }
    };
    let status = state
        .store
        .set_agent_state(who.staff.id.0, &move_to, state.clock.now())
        .await
        .map_err(|e| match e {
            // A reason not on the list is the field's fault.
            kefu_store::StoreError::Conflict(r) if r.code() == "not_one_of" => {
                ApiError::invalid("reason", r)
            }
            other => other.into(),
        })?;
    state
        .events
        .publish(crate::events::ConsoleEvent::Floor)
        .await;
    Ok(Json(status.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentOnFloor {
    staff_id: i64,
    staff_no: String,
    name: String,
    extension: Option<String>,
    #[serde(flatten)]
    now: StateView,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FloorView {
    agents: Vec<AgentOnFloor>,
    /// Incoming calls ringing or waiting now.
    waiting: i64,
    /// Seconds the longest-waiting call has waited.
    longest_wait_seconds: Option<i64>,
    answered_today: i64,
    abandoned_today: i64,
    /// Answered within `service_level_seconds` over answered and abandoned, 0–1.
    service_level: Option<f64>,
    service_level_seconds: i64,
}

/// The floor now, for the wallboard (坐席监控).
#[utoipa::path(get, path = "/api/v1/floor", tag = "reports",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = FloorView)))]
async fn floor(
    _who: Authorized<perm::ReportRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<FloorView>> {
    Ok(Json(floor_view(&state).await?))
}

impl FloorView {
    /// Sets the floor's Prometheus gauges (`kefu_agents{state}`, waiting calls,
    /// the longest wait, today's answered and abandoned calls, the service level).
    pub(crate) fn gauges(&self) {
        for s in kefu_domain::agent_state::State::ALL {
            let n = self
                .agents
                .iter()
                .filter(|a| a.now.state == s.code())
                .count();
            metrics::gauge!("kefu_agents", "state" => s.code()).set(n as f64);
        }
        metrics::gauge!("kefu_calls_waiting").set(self.waiting as f64);
        metrics::gauge!("kefu_calls_longest_wait_seconds")
            .set(self.longest_wait_seconds.unwrap_or(0) as f64);
        metrics::gauge!("kefu_calls_answered_today").set(self.answered_today as f64);
        metrics::gauge!("kefu_calls_abandoned_today").set(self.abandoned_today as f64);
        metrics::gauge!("kefu_service_level").set(self.service_level.unwrap_or(1.0));
    }
}

pub(crate) async fn floor_view(state: &AppState) -> Result<FloorView, kefu_store::StoreError> {
    let now = state.clock.now();
    let sl = state.config.service_level_secs;
    let agents = state.store.agents_now(now).await?;
    let floor = state.store.floor(now, sl).await?;
    Ok(FloorView {
        agents: agents
            .into_iter()
            .map(|a| AgentOnFloor {
                staff_id: a.staff_id,
                staff_no: a.staff_no,
                name: a.name,
                extension: a.extension,
                now: a.status.into(),
            })
            .collect(),
        waiting: floor.waiting,
        longest_wait_seconds: floor.longest_wait_secs,
        answered_today: floor.answered,
        abandoned_today: floor.abandoned,
        service_level: floor.service_level(),
        service_level_seconds: sl,
    })
}
