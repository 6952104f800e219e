//! Kefu's HTTP server: the JSON API under `/api/v1`, health and metrics endpoints
//! and the OpenAPI document, built by [`app`] from an [`AppState`].
//!
//! Handlers are thin: they parse input into domain values, call the store (or a
//! domain function), and render JSON. Authentication and the permission check live
//! in [`auth`]; errors in [`error`]; only this crate knows about HTTP.

pub mod auth;
pub mod error;
pub mod events;
pub mod extract;
pub mod import;
pub mod jobs;
pub mod labelled;
pub mod listen;
mod middleware;
pub mod notices;
pub mod openapi;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::lockout::LockoutPolicy;
use kefu_store::Store;

pub use routes::staff::{CreatedStaff, SignIn, create_account};

/// Settings of the HTTP layer, loaded once by the binary.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub lockout: LockoutPolicy,
    /// A console session ends after this long without use.
    pub session_ttl: SignedDuration,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Largest accepted import file.
    pub import_limit_bytes: usize,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub cookie_secure: bool,
    /// Requests taking longer are answered 503.
    pub request_timeout: Duration,
    /// A connection that has not sent a request's headers within this is closed.
    pub header_timeout: Duration,
    /// Sign-in attempts allowed per client address per 15 minutes.
    pub login_attempts_per_address: i64,
    /// The center's time zone: "today" for age bands, business calendars.
    pub time_zone: jiff::tz::TimeZone,
    /// Completes local landline numbers written without area code (e.g. "0531").
    pub area_code: Option<String>,
    /// The enterprise's name as agents say it, filled into phrases.
    pub center_name: String,
    /// Working hours, statutory holidays and 调休 days for business-time deadlines.
    pub calendar: kefu_domain::calendar::BusinessCalendar,
    /// How often the escalation sweep looks for breached deadlines.
    pub sweep_interval: Duration,
    /// Self-service lookups allowed per client address and per order number per hour.
    pub public_lookups_per_hour: i64,
    /// Incident notices: gateways, hotline, the dispatcher's lease.
    pub notices: crate::notices::NoticeConfig,
    /// The service level counts calls answered within this many seconds.
    pub service_level_secs: i64,
    /// Where a call's recording is fetched from: `{file}` (the reference the PBX
    /// reported) and `{call_id}` are filled in, e.g.
    /// `http://10.0.0.1:8080/recordings/{file}`. References that are http URLs
    /// already are used as they are.
    pub recording_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            lockout: LockoutPolicy::default(),
            session_ttl: SignedDuration::from_hours(8),
            body_limit_bytes: 1024 * 1024,
            import_limit_bytes: 64 * 1024 * 1024,
            cookie_secure: false,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            login_attempts_per_address: 100,
            time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC),
            area_code: None,
            center_name: String::new(),
            calendar: kefu_domain::calendar::BusinessCalendar::default_cn(),
            sweep_interval: Duration::from_secs(30),
            public_lookups_per_hour: 20,
            notices: crate::notices::NoticeConfig::default(),
            service_level_secs: 20,
            recording_url: None,
        }
    }
}

/// Where handlers get the current time; tests substitute a fixed clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    pub clock: Arc<dyn Clock>,
    /// The calendar and time zone deadlines are computed in: the calendar saved in
    /// the console (the latest edition), else the configured file's.
    calendar: Arc<std::sync::RwLock<CalendarInForce>>,
    /// Live events for console screens.
    pub events: events::EventHub,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig) -> AppState {
        AppState::with_clock(store, config, Arc::new(SystemClock))
    }

    pub fn with_clock(store: Store, config: ServerConfig, clock: Arc<dyn Clock>) -> AppState {
        let calendar = Arc::new(std::sync::RwLock::new(CalendarInForce {
            version: 0,
            sla: Arc::new(kefu_store::workorders::SlaContext {
                calendar: config.calendar.clone(),
                tz: config.time_zone.clone(),
            }),
        }));
        AppState {
            events: events::EventHub::start(store.clone()),
            store,
            config: Arc::new(config),
            clock,
            calendar,
        }
    }

    /// The business calendar in force, with the center's time zone.
    pub fn sla(&self) -> Arc<kefu_store::workorders::SlaContext> {
        match self.calendar.read() {
            Ok(c) => c.sla.clone(),
            Err(poisoned) => poisoned.into_inner().sla.clone(),
        }
    }

    /// The version of the calendar in force (0: the configured file's).
    pub fn calendar_version(&self) -> i64 {
        match self.calendar.read() {
            Ok(c) => c.version,
            Err(poisoned) => poisoned.into_inner().version,
        }
    }

    /// Puts `calendar` (saved as `version`) in force in this process.
    pub fn set_calendar(&self, version: i64, calendar: kefu_domain::calendar::BusinessCalendar) {
        let next = CalendarInForce {
            version,
            sla: Arc::new(kefu_store::workorders::SlaContext {
                calendar,
                tz: self.config.time_zone.clone(),
            }),
        };
        match self.calendar.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// Reads the latest saved calendar and puts it in force when it is newer than
    /// the one in force (other instances save too; `kefu serve` asks every minute).
    pub async fn reload_calendar(&self) -> Result<(), kefu_store::StoreError> {
        let stored = self.store.business_calendar().await?;
        if stored.version != self.calendar_version() {
            self.set_calendar(
                stored.version,
                stored
                    .calendar
                    .unwrap_or_else(|| self.config.calendar.clone()),
            );
        }
        Ok(())
    }

    /// Today's date in the center's time zone.
    pub fn today(&self) -> jiff::civil::Date {
        self.clock
            .now()
            .to_zoned(self.config.time_zone.clone())
            .date()
    }
}

/// The business calendar in force and its saved version.
struct CalendarInForce {
    version: i64,
    sla: Arc<kefu_store::workorders::SlaContext>,
}

/// The application with `pages` beside the JSON API (the console, in the binary):
/// one router behind one middleware stack, ready to serve or to test with
/// `oneshot`.
pub fn app_with(state: AppState, pages: Router<AppState>) -> Router {
    routes::system::metrics_handle();
    let (api, _doc) = routes::api_router(&state.config).split_for_parts();
    let api = api.with_state(state.clone());
    let system = routes::system::router()
        .merge(pages)
        .with_state(state.clone());
    middleware::wrap(Router::new().merge(api).merge(system), &state.config)
}

/// The JSON API and system endpoints alone.
pub fn api_app(state: AppState) -> Router {
    app_with(state, Router::new())
}

const LANG_COOKIE: &str = "kefu_lang";

/// The language a person chose (the `kefu_lang` cookie the console sets), else zh-CN:
/// pages and labelled downloads speak it.
pub fn lang_of(headers: &axum::http::HeaderMap) -> kefu_i18n::Lang {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .and_then(|(_, v)| kefu_i18n::Lang::parse(v))
        .unwrap_or(kefu_i18n::Lang::ZhCn)
}

/// The `Set-Cookie` value that makes `lang` the person's language.
pub fn lang_cookie(lang: kefu_i18n::Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.code()
    )
}

/// Local time as staff read it: `2026-11-26 09:30`.
pub fn local_time(tz: &jiff::tz::TimeZone, at: Timestamp) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}
