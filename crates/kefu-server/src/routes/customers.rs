//! The customer archive over HTTP: profiles, screen-pop lookup, segments, tier
//! history, timeline. What a role may not see (numbers, assets) is masked here.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::Permission;
use kefu_domain::Reason;
use kefu_domain::customer::{CustomerDraft, CustomerErrors, CustomerInput};
use kefu_domain::phone::PhoneNumber;
use kefu_store::customers::{Customer, CustomerFilter, StoredPhone};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, Principal, perm};
use crate::error::{ApiError, ApiResult, Code, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::Paging;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(lookup))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(add_phone))
        .routes(routes!(tier_history))
        .routes(routes!(timeline))
}

/// A phone number as shown to the caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PhoneView {
    /// phone, mobile or fax.
    label: String,
    /// `138 1234 5678`, or `138****5678` when masked.
    number: String,
    /// Normalised digits for dialling; absent when masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    dial: Option<String>,
}

/// A customer record as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerView {
    id: i64,
    code: String,
    name: String,
    kind: String,
    tier: String,
    tier_name: String,
    phones: Vec<PhoneView>,
    email: Option<String>,
    address: Option<String>,
    service_area: Option<String>,
    occupation: Option<String>,
    birth_date: Option<String>,
    age_band: Option<String>,
    gender: Option<String>,
    position: Option<String>,
    /// Decimal yuan as a string ("250000.00"); null when unknown or masked.
    assets: Option<String>,
    liquidity: Option<String>,
    preferences: Option<String>,
    family: Option<String>,
    needs: Option<String>,
    notes: Option<String>,
    tags: Vec<String>,
    preferred_contact_time: Option<String>,
    behaviour_type: Option<String>,
    /// Fields hidden from the caller's role: "phones", "email", "assets".
    masked: Vec<String>,
    created_at: String,
    updated_at: String,
    /// Send it back with a change; a stale version is refused with 409.
    version: i64,
}

/// What the caller's role may see unmasked.
struct Visibility {
    contacts: bool,
    assets: bool,
}

impl Visibility {
    fn of(principal: &Principal) -> Visibility {
        Visibility {
            contacts: principal.role().permits(Permission::CustomerContactsFull),
            assets: principal.role().permits(Permission::CustomerAssetsFull),
        }
    }
}

pub(crate) fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

fn phone_view(phone: &StoredPhone, full: bool) -> PhoneView {
    PhoneView {
        label: phone.label.code().to_owned(),
        number: phone.shown(full),
        dial: full.then(|| phone.key.clone()),
    }
}

impl CustomerView {
    fn new(c: Customer, see: &Visibility, tier_name: String) -> CustomerView {
        let mut masked = Vec::new();
        if !see.contacts {
            masked.push("phones".to_owned());
            if c.email.is_some() {
                masked.push("email".to_owned());
            }
        }
        if !see.assets && c.assets.is_some() {
            masked.push("assets".to_owned());
        }
        CustomerView {
            id: c.id,
            phones: c
                .phones
                .iter()
                .map(|p| phone_view(p, see.contacts))
                .collect(),
            email: c
                .email
                .map(|e| if see.contacts { e } else { mask_email(&e) }),
            assets: if see.assets {
                c.assets.map(|a| a.to_string())
            } else {
                None
            },
            code: c.code,
            name: c.name,
            kind: c.kind.code().to_owned(),
            tier: c.tier,
            tier_name,
            address: c.address,
            service_area: c.service_area,
            occupation: c.occupation,
            birth_date: c.birth_date.map(|d| d.to_string()),
            age_band: c.age_band.map(|a| a.code().to_owned()),
            gender: c.gender.map(|g| g.code().to_owned()),
            position: c.position,
            liquidity: c.liquidity.map(|l| l.code().to_owned()),
            preferences: c.preferences,
            family: c.family,
            needs: c.needs,
            notes: c.notes,
            tags: c.tags,
            preferred_contact_time: c.preferred_contact_time,
            behaviour_type: c.behaviour_type.map(|b| b.code().to_owned()),
            masked,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            version: c.version,
        }
    }
}

/// Renders customers for the caller, with display names of their tiers.
async fn views(
    state: &AppState,
    principal: &Principal,
    customers: Vec<Customer>,
) -> ApiResult<Vec<CustomerView>> {
    let rules = state.store.tier_rules().await?;
    let see = Visibility::of(principal);
    Ok(customers
        .into_iter()
        .map(|c| {
            let name = rules
                .rules
                .tier(&c.tier)
                .map_or_else(|| c.tier.clone(), |t| t.name.clone());
            CustomerView::new(c, &see, name)
        })
        .collect())
}

/// Invalid customer fields as a 422 listing each of them.
fn invalid_customer(errors: CustomerErrors) -> ApiError {
    ApiError::invalid_fields(Code::ValidationInvalidCustomer, errors.0)
}

fn draft(state: &AppState, input: &CustomerInput) -> ApiResult<CustomerDraft> {
    CustomerDraft::parse(input, state.today(), state.config.area_code.as_deref())
        .map_err(invalid_customer)
}

fn not_found(e: kefu_store::StoreError) -> ApiError {
    or_not_found("customer")(e)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SegmentQuery {
    /// Tier code, e.g. vip.
    tier: Option<String>,
    /// person or organisation.
    kind: Option<String>,
    occupation: Option<String>,
    /// under_25, 25_34, 35_44, 45_54, 55_64, 65_plus.
    age_band: Option<String>,
    /// male or female.
    gender: Option<String>,
    position: Option<String>,
    /// high, medium or low.
    liquidity: Option<String>,
    service_area: Option<String>,
    /// Comma-separated; a customer must have every tag.
    tags: Option<String>,
    #[param(minimum = 0)]
    /// Lists only (an export is the whole segment).
    pub(crate) offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    /// Lists only.
    pub(crate) limit: Option<i64>,
    /// Exports only: csv (UTF-8 with BOM, opens in Excel) or xlsx.
    #[param(pattern = "^(csv|xlsx)$")]
    pub(crate) format: Option<String>,
}

impl SegmentQuery {
    pub(crate) fn filter(&self) -> ApiResult<CustomerFilter> {
        CustomerFilter::parse(&kefu_store::customers::SegmentText {
            tier: self.tier.as_deref(),
            kind: self.kind.as_deref(),
            occupation: self.occupation.as_deref(),
            age_band: self.age_band.as_deref(),
            gender: self.gender.as_deref(),
            position: self.position.as_deref(),
            liquidity: self.liquidity.as_deref(),
            service_area: self.service_area.as_deref(),
            tags: self.tags.as_deref(),
        })
        .map_err(ApiError::from)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerPage {
    items: Vec<CustomerView>,
    /// Matches, counted exactly up to 10 000; beyond that a lower bound.
    total: i64,
    /// false when `total` is a lower bound.
    total_exact: bool,
    offset: i64,
    limit: i64,
}

/// A page of a customer segment; filters combine.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(SegmentQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CustomerPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_customers(
    who: Authorized<perm::CustomerRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SegmentQuery>,
) -> ApiResult<Json<CustomerPage>> {
    if q.format.is_some() {
        return Err(ApiError::invalid("format", Reason::not_applicable()));
    }
    let filter = q.filter()?;
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let found = state
        .store
        .list_customers(
            &who.actor(),
            &filter,
            page,
            state.today(),
            state.clock.now(),
        )
        .await?;
    Ok(Json(CustomerPage {
        items: views(&state, &who, found.items).await?,
        total: found.total,
        total_exact: found.total_exact,
        offset: found.offset,
        limit: found.limit,
    }))
}

/// Creates a customer; the tier follows from the rules in force.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = CustomerInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = CustomerView), (status = 409, body = ErrorBody, description = "code taken"),
        (status = 422, body = ErrorBody, description = "validation.invalid_customer lists every bad field")))]
async fn create_customer(
    who: Authorized<perm::CustomerWrite>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> ApiResult<(StatusCode, Json<CustomerView>)> {
    let draft = draft(&state, &input)?;
    let created = state
        .store
        .create_customer(&who.actor(), &draft, state.clock.now())
        .await?;
    let mut views = views(&state, &who, vec![created]).await?;
    Ok((StatusCode::CREATED, Json(views.remove(0))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupQuery {
    /// Any common format: 13812345678, +86 138-1234-5678, (0531)8888-6666, …
    phone: String,
}

/// A short card for the screen pop.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerCard {
    id: i64,
    code: String,
    name: String,
    kind: String,
    tier: String,
    tier_name: String,
    phones: Vec<PhoneView>,
    address: Option<String>,
    service_area: Option<String>,
    behaviour_type: Option<String>,
    preferred_contact_time: Option<String>,
    tags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LookupResult {
    /// The number as understood, normalised (masked for roles without contacts).
    number: String,
    matches: Vec<CustomerCard>,
}

/// The screen pop: customers with this phone number, in any written format.
#[utoipa::path(get, path = "/api/v1/customers/lookup", tag = "customers", params(LookupQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = LookupResult), (status = 422, body = ErrorBody, description = "not a phone number")))]
async fn lookup(
    who: Authorized<perm::CustomerRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LookupQuery>,
) -> ApiResult<Json<LookupResult>> {
    let number = PhoneNumber::parse(&q.phone, state.config.area_code.as_deref())
        .map_err(|e| ApiError::invalid("phone", e))?;
    let found = state
        .store
        .lookup_by_phone(&who.actor(), number.key(), state.clock.now())
        .await?;
    let see = Visibility::of(&who);
    let matches = cards(&state, &who, found).await?;
    Ok(Json(LookupResult {
        number: if see.contacts {
            number.display()
        } else {
            number.masked()
        },
        matches,
    }))
}

/// Screen-pop cards of customers, masked for the caller.
pub(crate) async fn cards(
    state: &AppState,
    who: &Principal,
    found: Vec<Customer>,
) -> ApiResult<Vec<CustomerCard>> {
    Ok(views(state, who, found)
        .await?
        .into_iter()
        .map(|v| CustomerCard {
            id: v.id,
            code: v.code,
            name: v.name,
            kind: v.kind,
            tier: v.tier,
            tier_name: v.tier_name,
            phones: v.phones,
            address: v.address,
            service_area: v.service_area,
            behaviour_type: v.behaviour_type,
            preferred_contact_time: v.preferred_contact_time,
            tags: v.tags,
        })
        .collect())
}

/// One customer (the read is audited).
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody)))]
async fn get_customer(
    who: Authorized<perm::CustomerRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CustomerView>> {
    let customer = state
        .store
        .read_customer(&who.actor(), id, state.clock.now())
        .await
        .map_err(not_found)?;
    Ok(Json(views(&state, &who, vec![customer]).await?.remove(0)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPhone {
    /// The number in any Chinese format.
    #[schema(min_length = 1, pattern = r"\S")]
    number: String,
    /// 电话, 手机 or 传真 (phone, mobile, fax); default: by the number.
    label: Option<String>,
}

/// Adds a number to a customer (an unknown caller linked to their record at the
/// desk). A number the customer already has is refused.
#[utoipa::path(post, path = "/api/v1/customers/{id}/phones", tag = "customers", params(("id" = i64, Path)),
    request_body = NewPhone, security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = CustomerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_phone(
    who: Authorized<perm::CustomerWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<NewPhone>,
) -> ApiResult<(StatusCode, Json<CustomerView>)> {
    let number =
        kefu_domain::phone::PhoneNumber::parse(&input.number, state.config.area_code.as_deref())
            .map_err(|e| ApiError::invalid("number", e))?;
    let label = match input
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        Some(l) => kefu_domain::customer::PhoneLabel::parse(l)
            .ok_or_else(|| ApiError::invalid("label", Reason::not_one_of("phone, mobile, fax")))?,
        None if number.kind() == kefu_domain::phone::PhoneKind::Mobile => {
            kefu_domain::customer::PhoneLabel::Mobile
        }
        None => kefu_domain::customer::PhoneLabel::Phone,
    };
    let customer = state
        .store
        .add_customer_phone(&who.actor(), id, label, &number, state.clock.now())
        .await
        .map_err(not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(views(&state, &who, vec![customer]).await?.remove(0)),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateCustomer {
    /// The version last read.
    version: i64,
    /// The whole profile as it should be.
    customer: CustomerInput,
}

/// Replaces a customer's profile; refused with 409 if someone changed it meanwhile.
#[utoipa::path(put, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    request_body = UpdateCustomer, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_customer(
    who: Authorized<perm::CustomerWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut body): ApiJson<UpdateCustomer>,
) -> ApiResult<Json<CustomerView>> {
    // A role that sees assets masked cannot know them: a change from it that
    // leaves them out keeps them as they are rather than clearing them (one that
    // gives them sets them).
    if !who.role().permits(Permission::CustomerAssetsFull) && body.customer.assets.is_none() {
        let current = state
            .store
            .read_customer(&who.actor(), id, state.clock.now())
            .await
            .map_err(not_found)?;
        body.customer.assets = current.assets.map(|a| a.to_string());
    }
    let draft = draft(&state, &body.customer)?;
    let updated = state
        .store
        .update_customer(&who.actor(), id, body.version, &draft, state.clock.now())
        .await
        .map_err(not_found)?;
    Ok(Json(views(&state, &who, vec![updated]).await?.remove(0)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionQuery {
    /// The version last read.
    version: i64,
}

/// Deletes a customer record.
#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path), VersionQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_customer(
    who: Authorized<perm::CustomerDelete>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_customer(&who.actor(), id, q.version, state.clock.now())
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TierChangeView {
    at: String,
    from_tier: Option<String>,
    to_tier: String,
    /// created, profile_changed, rules_changed or import.
    reason: String,
    /// The assets evaluated; null when unknown or masked.
    assets: Option<String>,
    threshold: String,
    rules_version: i64,
    actor: String,
}

/// Every change of the customer's tier, oldest first, with the reason.
#[utoipa::path(get, path = "/api/v1/customers/{id}/tier-history", tag = "customers", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<TierChangeView>), (status = 404, body = ErrorBody)))]
async fn tier_history(
    who: Authorized<perm::CustomerRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<TierChangeView>>> {
    // Reading the record first audits the access and answers 404 for unknown ids.
    state
        .store
        .read_customer(&who.actor(), id, state.clock.now())
        .await
        .map_err(not_found)?;
    let see_assets = who.role().permits(Permission::CustomerAssetsFull);
    let history = state.store.tier_history(id).await?;
    Ok(Json(
        history
            .into_iter()
            .map(|h| TierChangeView {
                at: h.at.to_string(),
                from_tier: h.from_tier,
                to_tier: h.to_tier,
                reason: h.reason,
                assets: if see_assets {
                    h.assets.map(|a| a.to_string())
                } else {
                    None
                },
                threshold: h.threshold.to_string(),
                rules_version: h.rules_version,
                actor: h.actor,
            })
            .collect(),
    ))
}

/// One event in a customer's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineEntry {
    at: String,
    /// tier_change; contacts, work orders, follow-ups and notifications join as
    /// their capabilities land.
    kind: String,
    summary: String,
    /// The id of the underlying record, within its kind.
    reference: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Timeline {
    customer_id: i64,
    /// The kinds of events this timeline draws from.
    sources: Vec<String>,
    items: Vec<TimelineEntry>,
}

/// Everything that happened with the customer, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/timeline", tag = "customers", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Timeline), (status = 404, body = ErrorBody)))]
async fn timeline(
    who: Authorized<perm::CustomerRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Timeline>> {
    state
        .store
        .read_customer(&who.actor(), id, state.clock.now())
        .await
        .map_err(not_found)?;
    let mut items: Vec<(jiff::Timestamp, TimelineEntry)> = Vec::new();
    for change in state.store.tier_history(id).await? {
        let summary = match &change.from_tier {
            Some(from) => format!("{from} → {}", change.to_tier),
            None => change.to_tier.clone(),
        };
        items.push((
            change.at,
            TimelineEntry {
                at: change.at.to_string(),
                kind: "tier_change".into(),
                summary,
                reference: None,
            },
        ));
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.0));
    Ok(Json(Timeline {
        customer_id: id,
        sources: vec!["tier_change".into()],
        items: items.into_iter().map(|(_, e)| e).collect(),
    }))
}
