//! Service language and quality inspection over HTTP (S7): call transcripts (a
//! completed call is inspected as its transcript is stored), inspections on demand,
//! the inspection queue, reviewers' verdicts, the phrasebook and the phrase for the
//! moment.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::Permission;
use kefu_domain::Reason;
use kefu_domain::inspection::{
    Inspection, InspectionRules, Verdict, inspect, is_call_json, parse_call_json,
};
use kefu_domain::phrasebook::{Phrasebook, SITUATIONS};
use kefu_domain::transcript::{self, Format, Transcript};
use kefu_store::inspections::{InspectionFilter, Review, StoredInspection, final_score};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, Principal, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(attach_transcript))
        .routes(routes!(preview_inspection))
        .routes(routes!(list_inspections))
        .routes(routes!(get_inspection))
        .routes(routes!(review_inspection))
        .routes(routes!(reinspect))
        .routes(routes!(get_phrasebook, put_phrasebook))
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(suggest_phrase))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TranscriptInput {
    /// json, srt or vtt.
    #[schema(pattern = "^(json|srt|vtt)$")]
    format: String,
    /// The file's text as the speech-to-text engine wrote it.
    text: String,
}

fn parse_transcript(input: &TranscriptInput) -> ApiResult<(Format, Transcript)> {
    let format = Format::from_extension(&input.format)
        .ok_or_else(|| ApiError::invalid("format", Reason::not_one_of("json, srt, vtt")))?;
    let parsed =
        transcript::parse(format, &input.text).map_err(|e| ApiError::invalid("text", e))?;
    Ok((format, parsed))
}

/// An inspection as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InspectionView {
    id: i64,
    contact_id: i64,
    agent_id: Option<i64>,
    phrasebook_version: i64,
    /// automatic or on_demand.
    origin: String,
    reviewed: bool,
    created_at: String,
    /// Score, pass/fail and items with their evidence.
    #[schema(value_type = Object)]
    result: Inspection,
}

impl From<StoredInspection> for InspectionView {
    fn from(i: StoredInspection) -> InspectionView {
        InspectionView {
            id: i.id,
            contact_id: i.contact_id,
            agent_id: i.agent_id,
            phrasebook_version: i.phrasebook_version,
            origin: i.origin,
            reviewed: i.reviewed,
            created_at: i.created_at.to_string(),
            result: i.result,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttachedView {
    turns: usize,
    /// The inspection made now (the call has ended), or none yet.
    inspection: Option<InspectionView>,
}

/// Stores a call's transcript (from the speech-to-text engine); a call that has
/// ended is inspected at once. A malformed file is refused with its line.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/transcript", tag = "inspection",
    params(("id" = i64, Path)), request_body = TranscriptInput, security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = AttachedView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn attach_transcript(
    who: Authorized<perm::TelephonyIngest>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TranscriptInput>,
) -> ApiResult<(StatusCode, Json<AttachedView>)> {
    let (format, parsed) = parse_transcript(&input)?;
    let code = match format {
        Format::Json => "json",
        Format::Srt => "srt",
        Format::WebVtt => "vtt",
    };
    let made = state
        .store
        .attach_transcript(&who.actor(), id, code, &parsed, state.clock.now())
        .await
        .map_err(or_not_found("contact"))?;
    Ok((
        StatusCode::CREATED,
        Json(AttachedView {
            turns: parsed.turns.len(),
            inspection: made.map(Into::into),
        }),
    ))
}

/// Inspects a transcript (or a call JSON with its timings) without storing it.
#[utoipa::path(post, path = "/api/v1/inspections/preview", tag = "inspection",
    request_body = TranscriptInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
async fn preview_inspection(
    _who: Authorized<perm::InspectionRead>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TranscriptInput>,
) -> ApiResult<Json<Inspection>> {
    let book = state.store.phrasebook().await?;
    let (_, rules) = state.store.inspection_rules().await?;
    let (transcript, facts) = if input.format == "json" && is_call_json(&input.text) {
        let (t, f) = parse_call_json(&input.text).map_err(|e| ApiError::invalid("text", e))?;
        (t, Some(f))
    } else {
        (Some(parse_transcript(&input)?.1), None)
    };
    Ok(Json(inspect(
        transcript.as_ref(),
        facts.as_ref(),
        &book,
        &rules,
    )))
}

/// Inspects a call again with the phrasebook and rules in force now (after either
/// changed, or a call without a transcript on its timings alone); the earlier
/// inspections stay.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/inspections", tag = "inspection",
    params(("id" = i64, Path)), security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = InspectionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reinspect(
    who: Authorized<perm::InspectionReview>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<InspectionView>)> {
    let made = state
        .store
        .reinspect(&who.actor(), id, state.clock.now())
        .await
        .map_err(or_not_found("contact"))?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct QueueQuery {
    agent_id: Option<i64>,
    passed: Option<bool>,
    reviewed: Option<bool>,
    /// The smallest id of the previous page.
    before: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueRow {
    id: i64,
    contact_id: i64,
    agent_id: Option<i64>,
    score: u32,
    passed: bool,
    deductions: usize,
    reviewed: bool,
    created_at: String,
}

/// The inspection queue, newest first (e.g. failed and not yet reviewed).
#[utoipa::path(get, path = "/api/v1/inspections", tag = "inspection", params(QueueQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<QueueRow>), (status = 422, body = ErrorBody)))]
async fn list_inspections(
    who: Authorized<perm::InspectionRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> ApiResult<Json<Vec<QueueRow>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", Reason::out_of_range(1, 200)));
    }
    let rows = state
        .store
        .list_inspections(&InspectionFilter {
            agent_id: if who.role().permits(Permission::InspectionReview) {
                q.agent_id
            } else {
                Some(who.principal.staff.id.0)
            },
            passed: q.passed,
            reviewed: q.reviewed,
            before: q.before,
            limit,
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|i| QueueRow {
                id: i.id,
                contact_id: i.contact_id,
                agent_id: i.agent_id,
                score: i.result.score,
                passed: i.result.passed,
                deductions: i.result.deductions().count(),
                reviewed: i.reviewed,
                created_at: i.created_at.to_string(),
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReviewView {
    rule: String,
    /// confirm or override.
    verdict: String,
    points: u32,
    comment: Option<String>,
    reviewer: String,
    at: String,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> ReviewView {
        ReviewView {
            rule: r.rule,
            verdict: r.verdict,
            points: r.points,
            comment: r.comment,
            reviewer: r.reviewer,
            at: r.at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InspectionDetail {
    inspection: InspectionView,
    /// The reviewers' verdicts, beside the automatic ones.
    reviews: Vec<ReviewView>,
    /// The final score: the automatic points, replaced by the latest reviewer's
    /// points for each reviewed item.
    final_score: u32,
    #[schema(value_type = Option<Object>)]
    transcript: Option<Transcript>,
}

/// An inspection with its reviews; agents only see their own calls'.
async fn detail(state: &AppState, who: &Principal, id: i64) -> ApiResult<InspectionDetail> {
    let inspection = state
        .store
        .get_inspection(id)
        .await
        .map_err(or_not_found("inspection"))?;
    if !who.role().permits(Permission::InspectionReview)
        && inspection.agent_id != Some(who.staff.id.0)
    {
        return Err(ApiError::from(kefu_store::StoreError::NotFound));
    }
    let reviews = state.store.inspection_reviews(id).await?;
    let transcript = state.store.transcript(inspection.contact_id).await?;
    Ok(InspectionDetail {
        final_score: final_score(&inspection.result, &reviews),
        inspection: inspection.into(),
        reviews: reviews.into_iter().map(Into::into).collect(),
        transcript,
    })
}

/// One inspection with its evidence, the reviews and the transcript.
#[utoipa::path(get, path = "/api/v1/inspections/{id}", tag = "inspection", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = InspectionDetail), (status = 404, body = ErrorBody)))]
async fn get_inspection(
    who: Authorized<perm::InspectionRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<InspectionDetail>> {
    Ok(Json(detail(&state, &who.principal, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewItem {
    rule: String,
    /// confirm (the automatic verdict stands) or override.
    verdict: String,
    /// For override: the points the item costs instead (0 clears it).
    points: Option<u32>,
    /// Required for override.
    comment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewInput {
    #[schema(min_items = 1, max_items = 20)]
    items: Vec<ReviewItem>,
}

/// A reviewer confirms or overrides items of an inspection; both verdicts are kept.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/reviews", tag = "inspection", params(("id" = i64, Path)),
    request_body = ReviewInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = InspectionDetail), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_inspection(
    who: Authorized<perm::InspectionReview>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ReviewInput>,
) -> ApiResult<Json<InspectionDetail>> {
    let inspection = state
        .store
        .get_inspection(id)
        .await
        .map_err(or_not_found("inspection"))?;
    if input.items.is_empty() || input.items.len() > 20 {
        return Err(ApiError::invalid("items", Reason::out_of_range(1, 20)));
    }
    let mut verdicts = Vec::with_capacity(input.items.len());
    for (i, item) in input.items.iter().enumerate() {
        let field = |name: &str| format!("items[{i}].{name}");
        let Some(auto) = inspection.result.item(&item.rule) else {
            return Err(ApiError::invalid(
                &field("rule"),
                Reason::unknown_value(&item.rule),
            ));
        };
        if auto.verdict == Verdict::Skipped {
            return Err(ApiError::invalid(&field("rule"), Reason::item_skipped()));
        }
        let comment = item
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
            return Err(ApiError::invalid(&field("comment"), Reason::too_long(500)));
        }
        let points = match item.verdict.as_str() {
            "confirm" => auto.points,
            "override" => {
                let points = item
                    .points
                    .ok_or_else(|| ApiError::invalid(&field("points"), Reason::required()))?;
                if points > 100 {
                    return Err(ApiError::invalid(&field("points"), Reason::at_most(100)));
                }
                if comment.is_none() {
                    return Err(ApiError::invalid(&field("comment"), Reason::required()));
                }
                points
            }
            _ => {
                return Err(ApiError::invalid(
                    &field("verdict"),
                    Reason::not_one_of("confirm, override"),
                ));
            }
        };
        verdicts.push((item.rule.clone(), item.verdict.clone(), points, comment));
    }
    state
        .store
        .review_inspection(&who.actor(), id, &verdicts, state.clock.now())
        .await
        .map_err(or_not_found("inspection"))?;
    Ok(Json(detail(&state, &who.principal, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PhrasebookView {
    version: u32,
    /// The edition: greetings, phrases, markers, forbidden expressions.
    #[schema(value_type = Object)]
    edition: serde_json::Value,
}

/// The phrasebook in force.
#[utoipa::path(get, path = "/api/v1/phrasebook", tag = "inspection",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = PhrasebookView)))]
async fn get_phrasebook(
    _who: Authorized<perm::PhrasebookRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<PhrasebookView>> {
    let book = state.store.phrasebook().await?;
    Ok(Json(PhrasebookView {
        version: book.version,
        edition: book.to_json(),
    }))
}

/// Saves an edited phrasebook as the next version; a wrong edition is refused
/// whole, naming the part that is wrong.
#[utoipa::path(put, path = "/api/v1/phrasebook", tag = "inspection", request_body = Object,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = PhrasebookView), (status = 422, body = ErrorBody)))]
async fn put_phrasebook(
    who: Authorized<perm::PhrasebookManage>,
    State(state): State<AppState>,
    ApiJson(edition): ApiJson<serde_json::Value>,
) -> ApiResult<Json<PhrasebookView>> {
    let book = Phrasebook::from_json(edition).map_err(ApiError::from)?;
    let saved = state
        .store
        .save_phrasebook(&who.actor(), book, state.clock.now())
        .await?;
    Ok(Json(PhrasebookView {
        version: saved.version,
        edition: saved.to_json(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InspectionRulesView {
    /// 1: the shipped defaults; each saved edit is the next version.
    version: i64,
    /// Thresholds, the pass score and each rule's switch and points.
    #[schema(value_type = Object)]
    rules: InspectionRules,
}

/// The inspection rules in force.
#[utoipa::path(get, path = "/api/v1/inspection-rules", tag = "inspection",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = InspectionRulesView)))]
async fn get_rules(
    _who: Authorized<perm::PhrasebookRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<InspectionRulesView>> {
    let (version, rules) = state.store.inspection_rules().await?;
    Ok(Json(InspectionRulesView { version, rules }))
}

/// Saves edited inspection rules as the next version (every field optional: the
/// shipped default stands for one left out); wrong rules are refused whole.
/// Later inspections use them; earlier results stay as computed.
#[utoipa::path(put, path = "/api/v1/inspection-rules", tag = "inspection", request_body = Object,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = InspectionRulesView), (status = 422, body = ErrorBody)))]
async fn put_rules(
    who: Authorized<perm::PhrasebookManage>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<InspectionRulesView>> {
    let rules = parse_rules(body)?;
    let version = state
        .store
        .save_inspection_rules(&who.actor(), &rules, state.clock.now())
        .await?;
    Ok(Json(InspectionRulesView { version, rules }))
}

/// Rules from JSON; a rule missing from `rules` keeps its default setting.
pub(crate) fn parse_rules(body: serde_json::Value) -> ApiResult<InspectionRules> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "rules",
            Reason::file_syntax("not an object"),
        ));
    }
    let rules = serde_json::from_value::<InspectionRules>(body)
        .map_err(|e| ApiError::invalid("rules", Reason::file_syntax(e)))?
        .completed();
    rules.validate().map_err(|e| {
        ApiError::from(kefu_domain::FieldError::new(
            format!("rules.{}", e.field),
            e.reason,
        ))
    })?;
    Ok(rules)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SuggestQuery {
    /// opening_inbound, opening_outbound, hold, return_from_hold, confirm, apology,
    /// transfer, closing, silent_line, noise, wrong_number, out_of_scope, read_back.
    situation: String,
    /// How to address the customer (outbound openings).
    customer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PhraseView {
    situation: String,
    text: String,
}

/// The phrase for the moment: time of day, weekend or holiday from the business
/// calendar, the caller's staff number.
#[utoipa::path(get, path = "/api/v1/phrasebook/suggest", tag = "inspection", params(SuggestQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = PhraseView), (status = 422, body = ErrorBody)))]
async fn suggest_phrase(
    who: Authorized<perm::PhrasebookRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SuggestQuery>,
) -> ApiResult<Json<PhraseView>> {
    if !SITUATIONS.contains(&q.situation.as_str()) {
        return Err(ApiError::invalid(
            "situation",
            Reason::not_one_of(SITUATIONS.join(", ")),
        ));
    }
    let customer = q
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if customer.is_some_and(|c| c.chars().count() > 40) {
        return Err(ApiError::invalid("customer", Reason::too_long(40)));
    }
    let book = state.store.phrasebook().await?;
    let slot = kefu_domain::greeting::greeting_slot(
        state.clock.now(),
        &state.config.time_zone,
        &state.sla().calendar,
    );
    let text = book
        .suggest(
            &q.situation,
            &slot,
            &state.config.center_name,
            &who.principal.staff.staff_no,
            customer,
        )
        .ok_or_else(|| ApiError::invalid("situation", Reason::unknown_value(&q.situation)))?;
    Ok(Json(PhraseView {
        situation: q.situation,
        text,
    }))
}
