//! Authentication (session cookie or bearer token) and the permission check every
//! endpoint goes through.
//!
//! A handler declares what it needs in its signature: `Authorized<perm::StaffManage>`
//! authenticates the caller and checks [`Role::permits`] before the handler body
//! runs, so no endpoint can forget the check. It must be the handler's first
//! extractor, so that a denied caller learns nothing from validation errors.

use std::marker::PhantomData;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use kefu_domain::audit::Actor;
use kefu_domain::{Permission, Role};
use kefu_store::staff::StaffMember;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::{ApiError, Code};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kefu_session";
/// Bearer tokens start with this, so leaked ones are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "kefu_";

/// Argon2 over this thread's reused memory (19 MiB with the default parameters).
/// Allocating it for each hash, as the crate does, leaked: the allocator kept
/// every 64-byte-aligned 19 MiB block apart and RSS grew by 19 MiB per sign-in.
fn argon2_into(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let n = argon2.params().block_count();
    let mut run = |blocks: &mut Vec<Block>| {
        if blocks.len() != n {
            *blocks = vec![Block::default(); n];
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..])
            .is_ok()
    };
    HASHER_MEMORY.with_borrow_mut(|memory| match memory {
        Some(blocks) => run(blocks),
        // Elsewhere (the command line, a one-off dummy hash) the memory is not kept.
        None => run(&mut Vec::new()),
    })
}

thread_local! {
    /// The memory of a password hashing thread, kept between hashes; None on
    /// other threads.
    static HASHER_MEMORY: std::cell::RefCell<Option<Vec<Block>>> =
        const { std::cell::RefCell::new(None) };
}

/// Hashes a password with Argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let argon2 = Argon2::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    if !argon2_into(&argon2, password.as_bytes(), &salt, &mut out) {
        return Err(ApiError::internal("argon2 refused the password"));
    }
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::default().into()),
        params: ParamsString::try_from(argon2.params()).map_err(ApiError::internal)?,
        salt: Some(Salt::new(&salt).map_err(ApiError::internal)?),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC hash (its own algorithm, version and
/// parameters; compared in constant time). A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    argon2_into(&argon2, password.as_bytes(), salt, &mut out)
        && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// Threads that hash passwords, each keeping its Argon2 memory (19 MiB) for the
/// next hash (see `argon2_into`). One thread bounds that memory to one buffer and
/// a flood of sign-ins to one core (about 25 sign-ins a second here: a whole
/// shift signs in within seconds) instead of the blocking pool's hundreds.
const HASHING_THREADS: usize = 1;

type HashJob = Box<dyn FnOnce() + Send>;

fn hashers() -> &'static std::sync::mpsc::Sender<HashJob> {
    static SENDER: std::sync::OnceLock<std::sync::mpsc::Sender<HashJob>> =
        std::sync::OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..HASHING_THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kefu-password-{n}"))
                .spawn(move || {
                    HASHER_MEMORY.with_borrow_mut(|m| *m = Some(Vec::new()));
                    loop {
                        // The lock is held only while taking a job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        tx
    })
}

/// Runs `work` on a password hashing thread; None if it could not run.
async fn on_hasher<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = tx.send(work());
    });
    hashers().send(job).ok()?;
    rx.await.ok()
}

/// Hashing is slow by design; run it off the async threads.
pub async fn hash_password_blocking(password: String) -> Result<String, ApiError> {
    on_hasher(move || hash_password(&password))
        .await
        .ok_or_else(|| ApiError::internal("password hashing is unavailable"))?
}

pub async fn verify_password_blocking(password: String, phc: String) -> bool {
    on_hasher(move || verify_password(&password, &phc))
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

/// The header a console page sends its session's anti-forgery token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session's anti-forgery token: derived from the cookie's secret, so another
/// site, which can make the browser send the cookie but never read it, cannot know
/// it; and any server instance can check it without storing anything.
pub fn csrf_token(session_secret: &str) -> String {
    secret_hash(&format!("csrf:{session_secret}"))
}

/// The anti-forgery token of the request's session cookie, if it has one.
pub fn csrf_token_of(parts: &Parts) -> Option<String> {
    cookie_value(parts, SESSION_COOKIE).map(csrf_token)
}

/// A request that changes something on the strength of the session cookie alone
/// must carry the session's token (the console's script sends it from the page);
/// a form or script on another site cannot. Bearer tokens are not sent by browsers
/// on their own and need no such proof.
fn check_csrf(parts: &Parts, secret: &str) -> Result<(), ApiError> {
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let expected = csrf_token(secret);
    if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::of(Code::AuthCsrf))
    }
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
            .ok_or_else(|| ApiError::of(Code::AuthBadAuthorization))?;
        let staff = state
            .store
            .token_staff(&secret_hash(token), now)
            .await?
            .ok_or_else(|| ApiError::of(Code::AuthInvalidToken))?;
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
            if !parts.method.is_safe() {
                check_csrf(parts, secret)?;
            }
            return Ok(Principal {
                staff,
                credential: Credential::Session(hash),
            });
        }
        return Err(ApiError::of(Code::AuthSessionExpired));
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
        CallDial,
        DialPlace,
        ReportRead,
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
    // A person who signed in with a one-time password may only change it. The
    // forced change guards interactive sign-in: a token (an integration's) works
    // whatever its account's password state.
    if principal.staff.must_change_password
        && matches!(principal.credential, Credential::Session(_))
        && permission != Permission::OwnAccount
    {
        return Err(ApiError::of(Code::AuthPasswordChangeRequired));
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
    fn hashes_agree_with_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Stored by the crate's hasher (as earlier versions did): verified here.
        let theirs = Argon2::default()
            .hash_password_with_salt(b"kefu-demo-2026", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(verify_password("kefu-demo-2026", &theirs));
        assert!(!verify_password("kefu-demo-2025", &theirs));
        // Made here: the same PHC string for the same salt, verified by the crate.
        let ours = hash_password("kefu-demo-2026").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"kefu-demo-2026", &parsed)
                .is_ok()
        );
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        // Another algorithm's parameters in the string are honoured, not assumed.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"secret", b"0123456789abcdef")
        .unwrap()
        .to_string();
        assert!(verify_password("secret", &argon2i));
        assert!(!verify_password("Secret", &argon2i));
        assert!(!verify_password(
            "secret",
            "$argon2id$v=19$m=19456,t=2,p=1$bad"
        ));
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
