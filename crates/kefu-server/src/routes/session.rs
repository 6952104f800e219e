//! Sign-in and sign-out, one's own account, password and API tokens.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, extract::State};
use kefu_domain::Reason;
use kefu_domain::staff::{NewPassword, StaffNo};
use kefu_store::sessions::ApiToken;
use kefu_store::staff::LoginOutcome;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{
    Authorized, Credential, SESSION_COOKIE, TOKEN_PREFIX, csrf_token, hash_password_blocking,
    new_secret, perm, secret_hash, verify_password_blocking,
};
use crate::error::{ApiError, ApiResult, Code, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::public::ClientAddr;
use crate::routes::staff::StaffView;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_all_tokens))
        .routes(routes!(create_token_for))
        .routes(routes!(revoke_any_token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Staff number 工号.
    staff_no: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    staff: StaffView,
    /// The account holds a one-time password: only changing it is allowed.
    must_change_password: bool,
    /// The session's anti-forgery token: a request that changes something with the
    /// session cookie must send it in the `x-csrf-token` header.
    csrf_token: String,
}

/// The window of the per-address sign-in limit.
const LOGIN_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// A real hash verified when the staff number is unknown or disabled, so the answer
/// takes as long as for a wrong password and does not reveal which numbers exist.
fn dummy_hash() -> String {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        crate::auth::hash_password(&crate::auth::new_secret("")).unwrap_or_default()
    });
    DUMMY.clone()
}

/// Signs in with staff number and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse, description = "signed in; the session cookie is set"),
        (status = 401, body = ErrorBody, description = "auth.invalid_credentials"),
        (status = 423, body = ErrorBody, description = "auth.account_locked"),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited: too many sign-in attempts from this address"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let now = state.clock.now();
    // Guessing across many accounts from one address: refused before any password
    // is checked (each account also locks on its own failures).
    let attempts = state
        .store
        .rate_limit_hit(&format!("login:ip:{client}"), LOGIN_WINDOW, now)
        .await?;
    if attempts > state.config.login_attempts_per_address {
        return Err(ApiError::of(Code::RateLimited));
    }
    let invalid = || ApiError::of(Code::AuthInvalidCredentials);
    let Ok(staff_no) = StaffNo::parse(&req.staff_no) else {
        return Err(invalid());
    };
    let Some(creds) = state.store.staff_credentials(&staff_no).await? else {
        verify_password_blocking(req.password, dummy_hash()).await;
        return Err(invalid());
    };
    // A disabled account, or an integration's that never signs in: the same
    // answer as a wrong password, after as long.
    if !creds.member.active || !creds.member.signs_in {
        verify_password_blocking(req.password, dummy_hash()).await;
        return Err(invalid());
    }
    if creds.login.is_locked(now) {
        state
            .store
            .record_login(&creds.member, creds.login, LoginOutcome::RefusedLocked, now)
            .await?;
        return Err(locked(creds.login.locked_until));
    }
    if !verify_password_blocking(req.password, creds.password_hash).await {
        let after = creds.login.after_failure(&state.config.lockout, now);
        state
            .store
            .record_login(&creds.member, after, LoginOutcome::WrongPassword, now)
            .await?;
        if after.is_locked(now) {
            return Err(locked(after.locked_until));
        }
        return Err(invalid());
    }
    state
        .store
        .record_login(
            &creds.member,
            creds.login.after_success(),
            LoginOutcome::Success,
            now,
        )
        .await?;
    let secret = new_secret("");
    state
        .store
        .create_session(
            creds.member.id,
            &secret_hash(&secret),
            state.config.session_ttl,
            now,
        )
        .await?;
    // No Max-Age: the server ends idle sessions (sliding expiry); the browser drops
    // the cookie when it closes.
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict{}",
        if state.config.cookie_secure {
            "; Secure"
        } else {
            ""
        }
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    let must_change_password = creds.member.must_change_password;
    Ok((
        headers,
        Json(LoginResponse {
            staff: StaffView::from(creds.member),
            must_change_password,
            csrf_token: csrf_token(&secret),
        }),
    ))
}

fn locked(until: Option<jiff::Timestamp>) -> ApiError {
    ApiError::of(Code::AuthAccountLocked)
        .with_details(serde_json::json!({ "locked_until": until.map(|t| t.to_string()) }))
}

/// Ends the current console session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("session" = []), ("bearer" = [])),
    responses((status = 204, description = "signed out"), (status = 401, body = ErrorBody)))]
async fn logout(
    who: Authorized<perm::OwnAccount>,
    State(state): State<AppState>,
) -> ApiResult<impl IntoResponse> {
    if let Credential::Session(hash) = &who.credential {
        state.store.delete_session(hash).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut headers = HeaderMap::new();
    headers.insert(
        SET_COOKIE,
        HeaderValue::from_str(&clear).map_err(ApiError::internal)?,
    );
    Ok((StatusCode::NO_CONTENT, headers))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = StaffView), (status = 401, body = ErrorBody)))]
async fn me(who: Authorized<perm::OwnAccount>) -> Json<StaffView> {
    Json(StaffView::from(who.principal.staff.clone()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// Changes one's own password (required after a one-time password). Other sessions
/// of the account end.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "auth", request_body = ChangePassword,
    security(("session" = []), ("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_password(
    who: Authorized<perm::OwnAccount>,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    let staff_no = StaffNo::parse(&who.staff.staff_no).map_err(ApiError::internal)?;
    let new = NewPassword::parse(&req.new_password, &staff_no)
        .map_err(|e| ApiError::invalid("new_password", e))?;
    let creds = state
        .store
        .staff_credentials(&staff_no)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    if !verify_password_blocking(req.current_password, creds.password_hash).await {
        return Err(ApiError::invalid(
            "current_password",
            Reason::wrong_password(),
        ));
    }
    let hash = hash_password_blocking(new.expose().to_owned()).await?;
    let keep = match &who.credential {
        Credential::Session(h) => Some(h.as_str()),
        Credential::Token => None,
    };
    state
        .store
        .set_password(
            &who.actor(),
            who.staff.id,
            &hash,
            false,
            keep,
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One's own API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "auth", security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<ApiTokenView>), (status = 401, body = ErrorBody)))]
async fn list_tokens(
    who: Authorized<perm::OwnAccount>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ApiTokenView>>> {
    let tokens = state.store.list_api_tokens(who.staff.id).await?;
    Ok(Json(tokens.into_iter().map(ApiTokenView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// What the token is for, e.g. "PBX integration": one line, at most 64
    /// characters once leading and trailing spaces are trimmed.
    #[schema(
        min_length = 1,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    token: ApiTokenView,
    /// The bearer secret. Shown once; only its hash is stored.
    secret: String,
}

/// Creates an API token acting as oneself.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "auth", request_body = CreateToken,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    who: Authorized<perm::OwnAccount>,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    issue_token(&state, &who.principal, who.staff.id, &req.name).await
}

/// Makes a token acting as `owner`; its secret is answered once, only its hash kept.
async fn issue_token(
    state: &AppState,
    by: &crate::auth::Principal,
    owner: kefu_domain::StaffId,
    name: &str,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name =
        kefu_domain::text::display_text(name, 64).map_err(|e| ApiError::invalid("name", e))?;
    let secret = new_secret(TOKEN_PREFIX);
    let token = state
        .store
        .create_api_token(
            &by.actor(),
            owner,
            &name,
            &secret_hash(&secret),
            state.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: token.into(),
            secret,
        }),
    ))
}

/// Revokes one of one's own API tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ApiTokenView), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    who: Authorized<perm::OwnAccount>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ApiTokenView>> {
    let token = state
        .store
        .revoke_api_token(&who.actor(), who.staff.id, id, state.clock.now())
        .await
        .map_err(or_not_found("token"))?;
    Ok(Json(token.into()))
}

/// A token as the administrator's list shows it: with the account it acts as.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OwnedTokenView {
    #[serde(flatten)]
    token: ApiTokenView,
    staff_id: i64,
    staff_no: String,
    staff_name: String,
    /// False for an integration account.
    signs_in: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokensQuery {
    /// Also list revoked tokens.
    include_revoked: Option<bool>,
}

/// Every account's API tokens with their owner, name and last use (never their
/// secrets), newest first.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", params(TokensQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<OwnedTokenView>), (status = 403, body = ErrorBody)))]
async fn list_all_tokens(
    _who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<TokensQuery>,
) -> ApiResult<Json<Vec<OwnedTokenView>>> {
    let tokens = state
        .store
        .list_all_api_tokens(q.include_revoked.unwrap_or(false))
        .await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| OwnedTokenView {
                token: t.token.into(),
                staff_id: t.staff_id.0,
                staff_no: t.staff_no,
                staff_name: t.staff_name,
                signs_in: t.signs_in,
            })
            .collect(),
    ))
}

/// Creates an API token acting as another account (an integration's, typically);
/// the secret is shown once.
#[utoipa::path(post, path = "/api/v1/staff/{id}/tokens", tag = "auth", params(("id" = i64, Path)),
    request_body = CreateToken, security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_token_for(
    who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let owner = state
        .store
        .get_staff(kefu_domain::StaffId(id))
        .await
        .map_err(or_not_found("staff account"))?;
    if !owner.active {
        return Err(ApiError::invalid("staff_id", Reason::not_applicable()));
    }
    issue_token(&state, &who.principal, owner.id, &req.name).await
}

/// Revokes any account's API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ApiTokenView), (status = 404, body = ErrorBody)))]
async fn revoke_any_token(
    who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ApiTokenView>> {
    let token = state
        .store
        .revoke_any_api_token(&who.actor(), id, state.clock.now())
        .await
        .map_err(or_not_found("token"))?;
    Ok(Json(token.into()))
}

/// An API token as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiTokenView {
    id: i64,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

impl From<ApiToken> for ApiTokenView {
    fn from(t: ApiToken) -> Self {
        ApiTokenView {
            id: t.id,
            name: t.name,
            created_at: t.created_at.to_string(),
            last_used_at: t.last_used_at.map(|x| x.to_string()),
            revoked_at: t.revoked_at.map(|x| x.to_string()),
        }
    }
}
