//! Settings: defaults, then a TOML file, then `KEFU_` environment variables, then
//! command-line flags; loaded and validated once in `main`, then split into the
//! per-component structs the libraries take.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jiff::SignedDuration;
use kefu_domain::lockout::LockoutPolicy;
use kefu_server::ServerConfig;
use kefu_store::{DatabaseUrl, StoreOptions};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://…`; default: `kefu.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Where the embedded database and other local files live.
    pub data_dir: PathBuf,
    /// `text` or `json`.
    pub log_format: String,
    /// A tracing filter such as `info` or `kefu_server=debug,info`.
    pub log_level: String,
    pub auth: AuthSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub center: CenterSettings,
    pub notices: NoticeSettings,
    pub bridge: BridgeSettings,
}

/// Incident notices: the service hotline named in messages and the gateways.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoticeSettings {
    pub hotline: String,
    /// Seconds a dispatcher holds a send; longer than any gateway timeout.
    pub lease_secs: i64,
    pub max_attempts: u32,
    /// An SMS gateway speaking Kefu's JSON protocol (see ARCHITECTURE.md); none: no SMS.
    pub sms: Option<SmsSettings>,
    /// An SMTP relay for e-mail notices; none: no e-mail.
    pub email: Option<EmailSettings>,
}

/// Plain SMTP to the center's relay (which forwards with TLS and authentication
/// where the provider needs them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender, e.g. "客服中心 <notice@example.com>".
    pub from: String,
    #[serde(default = "default_email_rate")]
    pub per_second: u32,
    #[serde(default = "default_sms_timeout")]
    pub timeout_secs: u64,
    /// A delivery log answering by Message-ID key (Kefu's key-query protocol); without
    /// one, a send whose outcome is unclear waits for a manager's decision.
    pub delivery_log_url: Option<String>,
    pub delivery_log_token: Option<String>,
}

fn default_smtp_port() -> u16 {
    25
}

fn default_email_rate() -> u32 {
    20
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub send_url: String,
    pub lookup_url: String,
    pub token: Option<String>,
    #[serde(default = "default_sms_rate")]
    pub per_second: u32,
    #[serde(default = "default_sms_timeout")]
    pub timeout_secs: u64,
}

impl SmsSettings {
    fn url_is_https(&self) -> bool {
        self.send_url.starts_with("https://") || self.lookup_url.starts_with("https://")
    }
}

impl EmailSettings {
    fn relay(&self) -> Result<kefu_server::notices::SmtpRelay, kefu_server::notices::BadMessage> {
        kefu_server::notices::SmtpRelay::new(
            self.host.trim(),
            self.port,
            &self.from,
            self.per_second,
            Duration::from_secs(self.timeout_secs.max(1)),
            self.delivery_log_url
                .as_ref()
                .map(|url| kefu_server::notices::DeliveryLog {
                    url: url.clone(),
                    token: self.delivery_log_token.clone(),
                }),
        )
    }
}

fn default_sms_rate() -> u32 {
    50
}

fn default_sms_timeout() -> u64 {
    10
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            hotline: "12345".into(),
            lease_secs: 120,
            max_attempts: 5,
            sms: None,
            email: None,
        }
    }
}

/// `kefu bridge …`: a PBX's events into Kefu, Kefu's click-to-dial into the PBX.
/// Secrets come from the environment: `KEFU_BRIDGE__TOKEN` (an integration
/// account's API token), `KEFU_BRIDGE__FREESWITCH__PASSWORD`,
/// `KEFU_BRIDGE__ASTERISK__SECRET`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeSettings {
    /// The Kefu server the bridge talks to (plain HTTP).
    pub kefu_url: String,
    pub token: Option<String>,
    /// This PBX's name in Kefu's call ids (`<source>:<PBX call id>`); default:
    /// `freeswitch` or `asterisk`.
    pub source: Option<String>,
    /// How often to take click-to-dial requests, in milliseconds.
    pub dial_every_ms: u64,
    /// Events posted side by side (a call's events always in one lane, in order).
    pub lanes: usize,
    pub freeswitch: FreeswitchSettings,
    pub asterisk: AsteriskSettings,
}

impl Default for BridgeSettings {
    fn default() -> Self {
        BridgeSettings {
            kefu_url: "http://127.0.0.1:8080".into(),
            token: None,
            source: None,
            dial_every_ms: 500,
            lanes: 4,
            freeswitch: FreeswitchSettings::default(),
            asterisk: AsteriskSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FreeswitchSettings {
    /// mod_event_socket's host:port.
    pub address: String,
    pub password: Option<String>,
    /// The channel variable naming the agent's extension on the leg to an
    /// agent's phone (`dialed_user` when agents are reached as `user/8001`).
    pub agent_variable: String,
    /// The originate command for click-to-dial; `$DIAL`, `$EXTENSION` and
    /// `$NUMBER` are filled in. The legs must carry `kefu_dial`.
    pub originate: String,
}

impl Default for FreeswitchSettings {
    fn default() -> Self {
        FreeswitchSettings {
            address: "127.0.0.1:8021".into(),
            password: None,
            agent_variable: "dialed_user".into(),
            originate: "originate {kefu_dial=$DIAL,origination_caller_id_number=$EXTENSION}user/$EXTENSION \
                        &bridge({kefu_dial=$DIAL}sofia/gateway/hotline/$NUMBER)"
                .into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsteriskSettings {
    /// The manager interface's host:port.
    pub address: String,
    pub username: String,
    pub secret: Option<String>,
    /// A regular expression matching the device of an agent's phone (`8001` in
    /// `PJSIP/8001-0000002a`).
    pub agent_device: String,
    /// The agent's phone, rung first on click-to-dial.
    pub channel: String,
    /// The dialplan context that dials the customer's number.
    pub context: String,
    /// The file MixMonitor records a call to, with `{linkedid}` and `{uniqueid}`
    /// filled in (Asterisk's MixMonitorStop does not name it); none: recordings are
    /// not reported.
    pub recording_file: Option<String>,
}

impl Default for AsteriskSettings {
    fn default() -> Self {
        AsteriskSettings {
            address: "127.0.0.1:5038".into(),
            username: "kefu".into(),
            secret: None,
            agent_device: "^[0-9]{3,6}$".into(),
            channel: "PJSIP/$EXTENSION".into(),
            context: "from-internal".into(),
            recording_file: None,
        }
    }
}

/// Facts about the service center itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CenterSettings {
    /// The enterprise's name as agents say it (e.g. 泉城燃气), filled into phrases.
    pub name: String,
    /// IANA time zone of the center's business day.
    pub time_zone: String,
    /// Area code completing local landline numbers written without one, e.g. "0531".
    pub area_code: Option<String>,
    /// The business calendar (working hours, holidays, 调休 days); default: the
    /// shipped one with the 2025 and 2026 official schedules.
    pub calendar_file: Option<PathBuf>,
    /// Seconds between escalation sweeps over breached deadlines.
    pub sweep_interval_secs: u64,
    /// The service level counts calls answered within this many seconds.
    pub service_level_secs: i64,
    /// 话后处理: seconds of wrap-up after a call before the agent is ready again.
    pub wrap_up_secs: u32,
    /// The reasons agents may give for 置忙.
    pub not_ready_reasons: Vec<String>,
    /// Where call recordings are fetched from for playing: `{file}` (the
    /// reference the PBX reported) and `{call_id}` are filled in, e.g.
    /// "http://10.0.0.1:8080/recordings/{file}".
    pub recording_url: Option<String>,
}

impl Default for CenterSettings {
    fn default() -> Self {
        CenterSettings {
            name: String::new(),
            time_zone: "Asia/Shanghai".into(),
            area_code: None,
            calendar_file: None,
            sweep_interval_secs: 30,
            service_level_secs: 20,
            wrap_up_secs: 30,
            not_ready_reasons: kefu_domain::agent_state::StateRules::default().not_ready_reasons,
            recording_url: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Consecutive failed sign-ins that lock an account.
    pub max_failed_logins: u32,
    pub lockout_minutes: i64,
    /// A console session ends after this many hours without use.
    pub session_hours: i64,
    /// Set the cookie's Secure flag (when served over HTTPS).
    pub cookie_secure: bool,
    /// Sign-in attempts allowed from one client address per 15 minutes (against
    /// guessing across many accounts; each account also locks on its own).
    pub logins_per_address: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub body_limit_kib: usize,
    /// Largest customer file accepted for import.
    pub import_limit_mib: usize,
    pub request_timeout_secs: u64,
    /// A client must send a request's headers within this many seconds (slow or
    /// idle connections are closed, so they cannot hold the server's sockets).
    pub header_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub max_connections: u32,
    /// SQLite page cache per connection, in MiB. Small by default: every pooled
    /// connection fills its own, the operating system caches the file for all of
    /// them, and a 16 MiB cache made a 1M-customer server grow past 150 MiB
    /// without being faster (bulk commands use a larger one).
    pub sqlite_cache_mib: u32,
    /// SQLite commits survive power loss (synchronous=FULL). false trades that for
    /// faster commits that survive only a crash of the process (NORMAL).
    pub sqlite_power_safe: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from("data"),
            log_format: "text".into(),
            log_level: "info".into(),
            auth: AuthSettings::default(),
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            center: CenterSettings::default(),
            notices: NoticeSettings::default(),
            bridge: BridgeSettings::default(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            max_failed_logins: 5,
            lockout_minutes: 15,
            session_hours: 8,
            cookie_secure: false,
            logins_per_address: 100,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit_kib: 1024,
            import_limit_mib: 64,
            request_timeout_secs: 30,
            header_timeout_secs: 10,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            max_connections: 10,
            sqlite_cache_mib: 4,
            sqlite_power_safe: true,
        }
    }
}

/// Flags that override the file and the environment.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Loads settings from `file` (required if named; `kefu.toml` if present
    /// otherwise), the environment and `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    bail!("configuration file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("kefu.toml")),
        }
        let settings: Settings = figment
            .merge(Env::prefixed("KEFU_").split("__").filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                // KEFU_CONFIG names the file; KEFU_TEST_* configure the test suite.
                !key.starts_with("test_") && key != "config"
            }))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        self.database_url()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!(
                "log_format must be 'text' or 'json', not '{}'",
                self.log_format
            );
        }
        if self.auth.max_failed_logins == 0 {
            bail!("auth.max_failed_logins must be at least 1");
        }
        if self.auth.lockout_minutes <= 0 || self.auth.session_hours <= 0 {
            bail!("auth.lockout_minutes and auth.session_hours must be positive");
        }
        if self.http.body_limit_kib == 0
            || self.http.import_limit_mib == 0
            || self.http.request_timeout_secs == 0
            || self.http.header_timeout_secs == 0
            || self.auth.logins_per_address <= 0
        {
            bail!(
                "http.body_limit_kib, http.request_timeout_secs, http.header_timeout_secs and \
                 auth.logins_per_address must be positive"
            );
        }
        if self.database.max_connections == 0 {
            bail!("database.max_connections must be at least 1");
        }
        self.time_zone()?;
        self.calendar()?;
        if self.center.sweep_interval_secs == 0 {
            bail!("center.sweep_interval_secs must be at least 1");
        }
        if !(1..=600).contains(&self.center.service_level_secs) {
            bail!("center.service_level_secs must be 1–600");
        }
        if self.center.wrap_up_secs > 600 {
            bail!("center.wrap_up_secs must be at most 600");
        }
        if self.center.not_ready_reasons.is_empty()
            || self
                .center
                .not_ready_reasons
                .iter()
                .any(|r| r.trim().is_empty() || r.chars().count() > 10)
        {
            bail!("center.not_ready_reasons must list reasons of 1–10 characters");
        }
        if let Some(url) = &self.center.recording_url
            && !url.starts_with("http://")
        {
            bail!(
                "center.recording_url '{url}' is not an http:// address (put a TLS relay in front for https)"
            );
        }
        if let Some(code) = &self.center.area_code {
            let valid = code.starts_with('0')
                && (3..=4).contains(&code.len())
                && code.chars().all(|c| c.is_ascii_digit())
                && kefu_domain::phone::PhoneNumber::parse(&format!("{code}88886666"), None).is_ok();
            if !valid {
                bail!("center.area_code '{code}' is not a Chinese area code such as 010 or 0531");
            }
        }
        if let Some(sms) = &self.notices.sms {
            for (name, url) in [("send_url", &sms.send_url), ("lookup_url", &sms.lookup_url)] {
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.parse::<hyper::Uri>().is_err()
                {
                    bail!("notices.sms.{name} '{url}' is not an http(s) address");
                }
            }
            if sms.url_is_https() {
                bail!(
                    "notices.sms: https gateways need a TLS front (e.g. a local relay); give an http address"
                );
            }
            if sms.timeout_secs == 0 {
                bail!("notices.sms.timeout_secs must be at least 1");
            }
            if self.notices.lease_secs <= i64::try_from(sms.timeout_secs).unwrap_or(i64::MAX) * 2 {
                bail!("notices.lease_secs must be more than twice notices.sms.timeout_secs");
            }
        }
        if let Some(email) = &self.notices.email {
            if email.host.trim().is_empty() || email.port == 0 {
                bail!("notices.email needs the SMTP server's host and port");
            }
            if let Err(e) = email.relay() {
                bail!("notices.email.from: {e}");
            }
            if let Some(url) = &email.delivery_log_url
                && (!url.starts_with("http://") || url.parse::<hyper::Uri>().is_err())
            {
                bail!("notices.email.delivery_log_url '{url}' is not an http address");
            }
            if email.timeout_secs == 0 {
                bail!("notices.email.timeout_secs must be at least 1");
            }
            // A send takes up to three timeouts (connecting, the commands before the
            // message, its answer) and starts only while twice that is left of the
            // lease.
            if self.notices.lease_secs <= i64::try_from(email.timeout_secs).unwrap_or(i64::MAX) * 6
            {
                bail!("notices.lease_secs must be more than six times notices.email.timeout_secs");
            }
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| {
            format!(
                "listen address '{}' is not HOST:PORT (e.g. 127.0.0.1:8080)",
                self.listen
            )
        })
    }

    pub fn database_url(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(raw) => Ok(DatabaseUrl::parse(raw)?),
            None => Ok(DatabaseUrl::default_in(&self.data_dir)),
        }
    }

    pub fn time_zone(&self) -> anyhow::Result<jiff::tz::TimeZone> {
        jiff::tz::TimeZone::get(&self.center.time_zone).with_context(|| {
            format!(
                "center.time_zone '{}' is not a known time zone",
                self.center.time_zone
            )
        })
    }

    /// The business calendar: the file named in the settings, or the shipped one.
    pub fn calendar(&self) -> anyhow::Result<kefu_domain::calendar::BusinessCalendar> {
        match &self.center.calendar_file {
            None => Ok(kefu_domain::calendar::BusinessCalendar::default_cn()),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read center.calendar_file {}", path.display())
                })?;
                kefu_domain::calendar::BusinessCalendar::parse(&text)
                    .with_context(|| format!("center.calendar_file {}", path.display()))
            }
        }
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.database.max_connections,
            sqlite_cache_mib: self.database.sqlite_cache_mib,
            sqlite_power_safe: self.database.sqlite_power_safe,
            time_zone: self.time_zone().unwrap_or(jiff::tz::TimeZone::UTC),
            agent_states: kefu_domain::agent_state::StateRules {
                wrap_up_secs: self.center.wrap_up_secs,
                not_ready_reasons: self
                    .center
                    .not_ready_reasons
                    .iter()
                    .map(|r| r.trim().to_owned())
                    .collect(),
            },
            ..StoreOptions::default()
        }
    }

    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            lockout: LockoutPolicy {
                max_failures: self.auth.max_failed_logins,
                lock_for: SignedDuration::from_mins(self.auth.lockout_minutes),
            },
            session_ttl: SignedDuration::from_hours(self.auth.session_hours),
            body_limit_bytes: self.http.body_limit_kib * 1024,
            import_limit_bytes: self.http.import_limit_mib * 1024 * 1024,
            cookie_secure: self.auth.cookie_secure,
            request_timeout: Duration::from_secs(self.http.request_timeout_secs),
            header_timeout: Duration::from_secs(self.http.header_timeout_secs),
            login_attempts_per_address: self.auth.logins_per_address,
            time_zone: self.time_zone().unwrap_or(jiff::tz::TimeZone::UTC),
            area_code: self.center.area_code.clone(),
            center_name: self.center.name.trim().to_owned(),
            // Validated at load; the shipped calendar if the file changed since.
            calendar: self
                .calendar()
                .unwrap_or_else(|_| kefu_domain::calendar::BusinessCalendar::default_cn()),
            sweep_interval: Duration::from_secs(self.center.sweep_interval_secs),
            service_level_secs: self.center.service_level_secs,
            recording_url: self.center.recording_url.clone(),
            notices: kefu_server::notices::NoticeConfig {
                sms: self
                    .notices
                    .sms
                    .as_ref()
                    .map(|s| kefu_server::notices::SmsGateway {
                        send_url: s.send_url.clone(),
                        lookup_url: s.lookup_url.clone(),
                        token: s.token.clone(),
                        per_second: s.per_second,
                        timeout: Duration::from_secs(s.timeout_secs.max(1)),
                    }),
                email: self.notices.email.as_ref().and_then(|e| e.relay().ok()),
                hotline: self.notices.hotline.clone(),
                lease: SignedDuration::from_secs(self.notices.lease_secs),
                max_attempts: self.notices.max_attempts.max(1),
                ..kefu_server::notices::NoticeConfig::default()
            },
            ..ServerConfig::default()
        }
    }
}
