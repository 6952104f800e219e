//! Authentication (session cookie or bearer token) and the permission check every
//! endpoint goes through.
//!
//! A handler declares what it needs in its signature: `Authorized<perm::StaffManage>`
//! authenticates the caller and checks [`Role::permits`] before the handler body
//! runs, so no endpoint can forget the check. It must be the handler's first
//! extractor, so that a denied caller learns nothing from validation errors.

use std::marker::PhantomData;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use kefu_domain::audit::Actor;
use kefu_domain::{Permission, Role};
use kefu_store::staff::StaffMember;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kefu_session";
/// Bearer tokens start with this, so leaked ones are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "kefu_";

/// Hashes a password with Argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let hash: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(ApiError::internal)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC hash. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Hashing is slow by design; run it off the async threads.
pub async fn hash_password_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
}

pub async fn verify_password_blocking(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

/// A new random secret for a session or API token (256 bits, hex).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What the database stores instead of a session or token secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A one-time password for a new or reset account: 16 characters without look-alikes,
/// mixing letters and digits so it satisfies the password policy.
pub fn one_time_password() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::rng();
    let mut out: Vec<u8> = (0..14)
        .map(|_| LETTERS[rng.random_range(0..LETTERS.len())])
        .collect();
    for _ in 0..2 {
        let at = rng.random_range(0..=out.len());
        out.insert(at, DIGITS[rng.random_range(0..DIGITS.len())]);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The hash of the session cookie's secret.
    Session(String),
    Token,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub staff: StaffMember,
    pub credential: Credential,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor::Staff {
            id: self.staff.id,
            staff_no: self.staff.staff_no.clone(),
        }
    }

    pub fn role(&self) -> Role {
        self.staff.role
    }

    /// The work-order scope: a department handler sees their department's orders
    /// only (none, without a department); everyone else is unrestricted.
    pub fn scope(&self) -> Option<kefu_domain::DepartmentId> {
        (self.staff.role == Role::Handler).then(|| {
            self.staff
                .department_id
                .unwrap_or(kefu_domain::DepartmentId(-1))
        })
    }

    /// Refuses unless the role holds `permission` (for decisions that depend on the
    /// request body, such as which workflow command is asked for).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        check(self, permission)
    }
}

fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Authenticates from `Authorization: Bearer …` or the session cookie.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let now = state.clock.now();
    if let Some(header) = parts.headers.get(AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "auth.bad_authorization",
                    "expected 'Authorization: Bearer <token>'",
                )
            })?;
        let staff = state
            .store
            .token_staff(&secret_hash(token), now)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "auth.invalid_token",
                    "the token is unknown, revoked or its account disabled",
                )
            })?;
        return Ok(Principal {
            staff,
            credential: Credential::Token,
        });
    }
    if let Some(secret) = cookie_value(parts, SESSION_COOKIE) {
        let hash = secret_hash(secret);
        if let Some(staff) = state
            .store
            .session_staff(&hash, state.config.session_ttl, now)
            .await?
        {
            return Ok(Principal {
                staff,
                credential: Credential::Session(hash),
            });
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "auth.session_expired",
            "the session has ended; sign in again",
        ));
    }
    Err(ApiError::unauthenticated())
}

/// A permission as a type, so handlers name it in their signature.
pub trait RequiredPermission: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// Marker types, one per [`Permission`].
pub mod perm {
    use super::RequiredPermission;
    use kefu_domain::Permission;

    macro_rules! markers {
        ($($name:ident),* $(,)?) => {
            $(
                #[doc = concat!("Requires [`Permission::", stringify!($name), "`].")]
                pub struct $name;
                impl RequiredPermission for $name {
                    const PERMISSION: Permission = Permission::$name;
                }
            )*
        };
    }

    markers!(
        OwnAccount,
        StaffDirectory,
        StaffManage,
        DepartmentRead,
        DepartmentManage,
        AuditRead,
        AuditVerify,
        CustomerRead,
        CustomerWrite,
        CustomerDelete,
        CustomerImport,
        CustomerExport,
        TierRulesRead,
        TierRulesManage,
        JobRead,
        ContactRead,
        ContactWrite,
        TelephonyIngest,
        WorkOrderRead,
        WorkOrderComment,
        WorkOrderCreate,
        ServiceRulesRead,
        ServiceRulesManage,
        EscalationRead,
        WebhookManage,
        CampaignManage,
        CampaignRead,
        CampaignCall,
        IncidentManage,
        IncidentRead,
        IncidentCall,
        InspectionRead,
        InspectionReview,
        PhrasebookRead,
        PhrasebookManage,
        ViolationManage,
        ViolationRead,
        ShiftWork,
        KnowledgeRead,
        KnowledgeManage,
        SearchDictionaryManage,
    );
}

/// An authenticated caller whose role holds `P`.
pub struct Authorized<P: RequiredPermission> {
    pub principal: Principal,
    _permission: PhantomData<P>,
}

impl<P: RequiredPermission> std::ops::Deref for Authorized<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<P: RequiredPermission> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = authenticate(parts, state).await?;
        check(&principal, P::PERMISSION)?;
        Ok(Authorized {
            principal,
            _permission: PhantomData,
        })
    }
}

/// The permission decision for one request.
fn check(principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    if !principal.role().permits(permission) {
        return Err(ApiError::forbidden(permission));
    }
    // An account with a one-time password may only change it.
    if principal.staff.must_change_password && permission != Permission::OwnAccount {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.password_change_required",
            "set a new password first (PUT /api/v1/me/password)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_domain::staff::{NewPassword, StaffNo};

    #[test]
    fn password_hash_round_trip() {
        let phc = hash_password("correct-horse-9").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct-horse-9", &phc));
        assert!(!verify_password("correct-horse-8", &phc));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn one_time_passwords_meet_the_policy_and_differ() {
        let no = StaffNo::parse("KF1001").unwrap();
        let a = one_time_password();
        assert!(NewPassword::parse(&a, &no).is_ok(), "{a}");
        assert_ne!(a, one_time_password());
    }

    #[test]
    fn secrets_are_prefixed_and_hashed() {
        let s = new_secret(TOKEN_PREFIX);
        assert!(s.starts_with("kefu_") && s.len() == 5 + 64);
        assert_eq!(secret_hash(&s).len(), 64);
        assert_ne!(secret_hash(&s), s);
    }
}
