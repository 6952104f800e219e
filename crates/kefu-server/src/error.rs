//! The one HTTP error type: a status, a stable machine-readable code, an English
//! message made from the message catalog, and the data behind it.
//!
//! Body: `{"error": {"code": "validation.invalid_field", "message": "…", "details":
//! {…}}}`. Codes ([`Code`]) are part of the API contract and never change meaning.
//! A refusal of input also carries its [`Reason`] — a stable reason code and its
//! figures — in `details` (`field`, `reason`, `args`, and `errors` listing every
//! refused field), so a client can say it in its reader's language: the console
//! renders the same catalog entries in Chinese. Internal failures are logged with
//! their cause and answered with a bare `internal` code: no SQL, paths or stack
//! traces leave the server.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_domain::{FieldError, Reason};
use kefu_i18n::{Lang, catalog};
use kefu_store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $status:ident; )*) => {
        /// The API's stable error codes, each with its HTTP status. Each has its
        /// words in the catalogs (`error.<code>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $( $(#[$doc])* $name, )*
        }

        impl Code {
            /// Every code, for the test that each has its words.
            pub const ALL: &[Code] = &[$(Code::$name),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Code::$name => StatusCode::$status,)* }
            }
        }
    };
}

codes! {
    /// No session or token.
    AuthRequired = "auth.required", UNAUTHORIZED;
    /// The role may not do this.
    AuthForbidden = "auth.forbidden", FORBIDDEN;
    /// Wrong staff number or password.
    AuthInvalidCredentials = "auth.invalid_credentials", UNAUTHORIZED;
    /// Too many failed sign-ins.
    AuthAccountLocked = "auth.account_locked", LOCKED;
    /// A one-time password must be changed first (console sessions only).
    AuthPasswordChangeRequired = "auth.password_change_required", FORBIDDEN;
    /// A cookie-authenticated change without the page's token.
    AuthCsrf = "auth.csrf", FORBIDDEN;
    /// An Authorization header that is not `Bearer …`.
    AuthBadAuthorization = "auth.bad_authorization", UNAUTHORIZED;
    /// An unknown, revoked or disabled account's token.
    AuthInvalidToken = "auth.invalid_token", UNAUTHORIZED;
    /// A session that has ended.
    AuthSessionExpired = "auth.session_expired", UNAUTHORIZED;
    /// A body that is not JSON.
    RequestMalformedJson = "request.malformed_json", BAD_REQUEST;
    /// JSON of the wrong shape.
    RequestInvalidBody = "request.invalid_body", UNPROCESSABLE_ENTITY;
    /// A body or file over the limit.
    RequestTooLarge = "request.too_large", PAYLOAD_TOO_LARGE;
    /// A query string that does not parse.
    RequestBadQuery = "request.bad_query", BAD_REQUEST;
    /// A path parameter that does not parse.
    RequestBadPath = "request.bad_path", BAD_REQUEST;
    /// NUL in text.
    RequestNulCharacter = "request.nul_character", BAD_REQUEST;
    /// A body that is not application/json.
    RequestUnsupportedMediaType = "request.unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    /// A body that could not be read.
    RequestUnreadableBody = "request.unreadable_body", BAD_REQUEST;
    /// A method the route does not take.
    RequestMethodNotAllowed = "request.method_not_allowed", METHOD_NOT_ALLOWED;
    /// A field refused; `details` says which and why.
    ValidationInvalidField = "validation.invalid_field", UNPROCESSABLE_ENTITY;
    /// A reference to a record that does not exist.
    ValidationInvalidReference = "validation.invalid_reference", UNPROCESSABLE_ENTITY;
    /// A customer with refused fields; `details.errors` lists them all.
    ValidationInvalidCustomer = "validation.invalid_customer", UNPROCESSABLE_ENTITY;
    /// No such record or endpoint.
    NotFound = "not_found", NOT_FOUND;
    /// The change collides with the data as it is now; `details.reason` says how.
    Conflict = "conflict", CONFLICT;
    /// A workflow command not allowed in the order's state.
    WorkflowIllegalTransition = "workflow.illegal_transition", CONFLICT;
    /// A telephony event for a call never seen ringing.
    TelephonyUnknownCall = "telephony.unknown_call", NOT_FOUND;
    /// A customer file refused as a whole.
    ImportInvalidFile = "import.invalid_file", UNPROCESSABLE_ENTITY;
    /// Too many attempts.
    RateLimited = "rate_limited", TOO_MANY_REQUESTS;
    /// The database or a part is not available.
    Unavailable = "unavailable", SERVICE_UNAVAILABLE;
    /// A failure inside the server.
    Internal = "internal", INTERNAL_SERVER_ERROR;
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub details: Option<Value>,
}

/// The JSON error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `auth.forbidden`, `request.invalid_body`, `conflict`.
    pub code: String,
    /// An English explanation (the `en` catalog's words for the code and reason).
    pub message: String,
    /// For refused input: `field`, `reason` (a stable reason code), `args` (its
    /// figures) and `errors` (every refused field with its reason and figures); for
    /// conflicts: `reason` and `args`; other codes add what explains them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The English words for a reason (the API's messages are English).
fn english(reason: &Reason) -> String {
    catalog(Lang::En).reason(reason)
}

/// A reason as the API's details give it.
pub fn reason_json(reason: &Reason) -> Value {
    let args: serde_json::Map<String, Value> = reason
        .args()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    json!({ "reason": reason.code(), "args": args })
}

fn field_json(e: &FieldError) -> Value {
    let mut v = reason_json(&e.reason);
    v["field"] = Value::String(e.field.clone());
    v
}

impl ApiError {
    /// An error with its code's status and English words.
    pub fn of(code: Code) -> ApiError {
        ApiError {
            status: code.status(),
            code,
            message: catalog(Lang::En).error(code.as_str()),
            details: None,
        }
    }

    /// Adds words of a parser or a peer (English) to the message, e.g. serde's
    /// account of what is wrong with a body.
    pub fn detail(mut self, detail: impl std::fmt::Display) -> ApiError {
        self.message = format!("{}: {detail}", self.message);
        self
    }

    /// Answers with another status than the code's own (a body reader's refusal).
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::of(Code::AuthRequired)
    }

    pub fn forbidden(permission: kefu_domain::Permission) -> ApiError {
        ApiError::of(Code::AuthForbidden).with_details(json!({ "permission": permission }))
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::of(Code::NotFound).with_details(json!({ "what": what }))
    }

    /// A value that parsed but is not acceptable, naming the field and why.
    pub fn invalid(field: &str, reason: impl Into<Reason>) -> ApiError {
        ApiError::invalid_fields(
            Code::ValidationInvalidField,
            vec![FieldError::new(field, reason)],
        )
    }

    /// Several refused fields at once (all the domain found).
    pub fn invalid_fields(code: Code, errors: Vec<FieldError>) -> ApiError {
        let message = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, english(&e.reason)))
            .collect::<Vec<_>>()
            .join("; ");
        let mut details = errors.first().map(field_json).unwrap_or_else(|| json!({}));
        details["errors"] = Value::Array(errors.iter().map(field_json).collect());
        ApiError {
            status: code.status(),
            code,
            message,
            details: Some(details),
        }
    }

    /// The change collides with the data as it is now.
    pub fn conflict(reason: impl Into<Reason>) -> ApiError {
        let reason = reason.into();
        ApiError {
            status: StatusCode::CONFLICT,
            code: Code::Conflict,
            message: english(&reason),
            details: Some(reason_json(&reason)),
        }
    }

    /// An internal failure: logged in full, answered without details.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::of(Code::Internal)
    }

    /// The reason behind a refusal, when it has one (`details.reason`).
    pub fn reason_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("reason")?.as_str()
    }
}

/// Refused fields gathered while reading an input, so that every wrong field is
/// reported at once (a form shows each at its input) rather than the first alone.
#[derive(Default)]
pub struct FieldChecks(Vec<ApiError>);

impl FieldChecks {
    /// The value, or `None` with its refusal kept for [`FieldChecks::finish`].
    pub fn take<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Every refusal gathered, as one answer: the field errors listed together
    /// under the first one's code.
    pub fn finish(self) -> Result<(), ApiError> {
        let mut errors = self.0.into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            let more = e
                .details
                .as_ref()
                .and_then(|d| d.get("errors"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(list) = first
                .details
                .as_mut()
                .and_then(|d| d.get_mut("errors"))
                .and_then(Value::as_array_mut)
            {
                list.extend(more);
            }
            first.message = format!("{}; {}", first.message, e.message);
        }
        Err(first)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        ApiError::invalid_fields(Code::ValidationInvalidField, vec![e])
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("record"),
            StoreError::Conflict(reason) => ApiError::conflict(reason),
            StoreError::InvalidReference(field) => ApiError {
                message: format!("{field}: {}", english(&Reason::unknown_record())),
                details: Some({
                    let e = FieldError::new(field, Reason::unknown_record());
                    let mut d = field_json(&e);
                    d["errors"] = Value::Array(vec![field_json(&e)]);
                    d
                }),
                ..ApiError::of(Code::ValidationInvalidReference)
            },
            StoreError::Transition(refused) => {
                let allowed: Vec<&str> = refused.allowed.iter().map(|c| c.code()).collect();
                let reason = Reason::from(refused.clone());
                let mut details = reason_json(&reason);
                details["state"] = json!(refused.state.code());
                details["command"] = json!(refused.command.code());
                details["allowed"] = json!(allowed);
                ApiError {
                    message: format!(
                        "{}; allowed: {}",
                        english(&reason),
                        if allowed.is_empty() {
                            "none (the order is finished)".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                    details: Some(details),
                    ..ApiError::of(Code::WorkflowIllegalTransition)
                }
            }
            StoreError::Invalid { field, reason } => ApiError::invalid(&field, reason),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Maps the store's "not found" to a 404 naming `what`; other errors as usual.
pub(crate) fn or_not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error code the API can return has its words in both catalogs, and a
    /// refusal's message is the English catalog's words for its field and reason.
    #[test]
    fn every_code_has_words_in_every_language() {
        for lang in [Lang::ZhCn, Lang::En] {
            let t = catalog(lang);
            for code in Code::ALL {
                let key = format!("error.{}", code.as_str());
                assert!(t.has(&key), "{}: {key} is missing", lang.code());
            }
        }
        let e = ApiError::invalid("name", Reason::too_long(64));
        assert_eq!(e.code, Code::ValidationInvalidField);
        assert_eq!(e.message, "name: must be at most 64 characters");
        let d = e.details.unwrap_or_default();
        assert_eq!(
            (
                d["field"].as_str(),
                d["reason"].as_str(),
                d["args"]["max"].as_str()
            ),
            (Some("name"), Some("too_long"), Some("64"))
        );
        assert_eq!(d["errors"][0]["reason"], "too_long");
    }
}
