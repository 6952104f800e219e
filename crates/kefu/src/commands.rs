//! What each command does.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::staff::StaffNo;
use kefu_server::auth::{TOKEN_PREFIX, hash_password_blocking, new_secret, secret_hash};
use kefu_server::{AppState, create_account};
use kefu_store::audit::AuditVerdict;
use kefu_store::{DatabaseUrl, Store, demo};
use tracing_subscriber::EnvFilter;

use crate::settings::Settings;
use crate::{
    AdminCommand, AuditCommand, BenchCommand, Command, ExportCommand, ImportCommand, TokenCommand,
};

/// SQLite page cache for bulk commands (demo data, imports), in MiB.
const BULK_CACHE_MIB: u32 = 128;

/// The password of every demo account (demo mode only).
const DEMO_PASSWORD: &str = "kefu-demo-2026";

pub fn init_logging(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    // Flags checked before the database is opened (and perhaps migrated).
    let clock_start = match &command {
        Command::Serve {
            clock_start: Some(raw),
            ..
        } => Some(parse_clock_start(raw)?),
        _ => None,
    };
    // A bridge talks to Kefu's API, not to the database.
    if let Command::Bridge { pbx } = command {
        return crate::bridge::run(pbx, &settings).await;
    }
    // Bulk commands get a larger SQLite cache: index maintenance dominates them.
    let bulk = matches!(
        command,
        Command::Demo { .. }
            | Command::Import { .. }
            | Command::Bench {
                command: BenchCommand::Search { .. }
            }
    );
    let store = open(&settings, bulk).await?;
    // Text is segmented with the center's words wherever it is written or searched.
    store.apply_search_dictionary().await?;
    let result = match command {
        Command::Serve {
            demo,
            demo_customers,
            ..
        } => {
            serve(
                &store,
                &settings,
                demo.then_some(demo_customers),
                clock_start,
            )
            .await
        }
        Command::Bridge { pbx } => crate::bridge::run(pbx, &settings).await,
        Command::Dispatch {
            idle_secs,
            until_idle,
        } => dispatch(&store, &settings, idle_secs, until_idle).await,
        Command::Inspect {
            file,
            json,
            phrasebook,
            rules,
        } => crate::inspect::run(&file, json, phrasebook.as_deref(), rules.as_deref()),
        Command::Reindex { kind, batch } => reindex(&store, kind.as_deref(), batch).await,
        Command::Backup { output } => backup(&store, &settings, &output).await,
        Command::Migrate => {
            let (known, applied) = store.migration_status().await?;
            println!(
                "database {}: {applied} of {known} migrations applied",
                settings.database_url()?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            profile,
            customers,
            work_orders,
            contacts,
            articles,
            seed,
        } => {
            let base = profile.map_or(DemoSize::DEFAULT, DemoProfile::size);
            let size = DemoSize {
                customers: customers.unwrap_or(base.customers),
                work_orders: work_orders.unwrap_or(base.work_orders),
                contacts: contacts.unwrap_or(base.contacts),
                articles: articles.unwrap_or(base.articles),
            };
            demo_data(&store, &settings, size, seed).await
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    staff_no,
                    name,
                    role,
                    department,
                    no_password,
                },
        } => {
            admin_create(
                &store,
                &staff_no,
                &name,
                &role,
                department.as_deref(),
                no_password,
            )
            .await
        }
        Command::Bench {
            command:
                BenchCommand::Search {
                    work_orders,
                    contacts,
                    queries,
                    fresh,
                },
        } => crate::bench::search(&store, work_orders, contacts, queries, fresh)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench {
            command: BenchCommand::Campaigns { targets, requests },
        } => crate::bench::campaigns(&store, &settings, targets, requests)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench {
            command: BenchCommand::Load(_),
        } => bail!("`kefu bench load` runs without opening the database"),
        Command::Bench {
            command: BenchCommand::Inspection { calls, runs },
        } => {
            crate::bench::inspection(calls, runs);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Pbx {
                    calls,
                    per_minute,
                    burst,
                },
        } => crate::bench_pbx::run(&store, &settings, calls, per_minute, burst)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench {
            command: BenchCommand::Incidents { area },
        } => crate::bench::incidents(&store, &settings, &area)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench {
            command: BenchCommand::Console { requests },
        } => crate::bench::console(&store, &settings, requests)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench {
            command: BenchCommand::WorkOrders { requests, seed },
        } => crate::bench::work_orders(&store, &settings, requests, seed)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench {
            command:
                BenchCommand::Customers {
                    requests,
                    concurrency,
                    import_rows,
                    seed,
                },
        } => {
            let options = crate::bench::BenchOptions {
                requests,
                concurrency,
                import_rows,
                seed,
            };
            crate::bench::customers(&store, &settings, options)
                .await
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Export {
            command:
                ExportCommand::Customers {
                    output,
                    format,
                    tier,
                    kind,
                    occupation,
                    age_band,
                    gender,
                    position,
                    liquidity,
                    service_area,
                    tags,
                },
        } => {
            let filter = customer_filter(SegmentArgs {
                tier,
                kind,
                occupation,
                age_band,
                gender,
                position,
                liquidity,
                service_area,
                tags,
            })?;
            export_customers(&store, &settings, &output, format.as_deref(), &filter).await
        }
        Command::Import {
            command:
                ImportCommand::Customers {
                    file,
                    encoding,
                    format,
                    header_map,
                    report,
                },
        } => {
            import_customers(
                &store,
                &settings,
                &file,
                encoding.as_deref(),
                format.as_deref(),
                header_map.as_deref(),
                report.as_deref(),
            )
            .await
        }
        Command::Token {
            command: TokenCommand::Create { staff_no, name },
        } => token_create(&store, &staff_no, &name).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(&store).await,
    };
    store.close().await;
    result
}

/// Opens and migrates the database every command works on.
async fn open(settings: &Settings, bulk: bool) -> anyhow::Result<Store> {
    let url = settings.database_url()?;
    let mut options = settings.store_options();
    if bulk {
        options.sqlite_cache_mib = options.sqlite_cache_mib.max(BULK_CACHE_MIB);
    }
    let store = Store::connect(&url, &options)
        .await
        .with_context(|| format!("opening {url}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("migrating {url}"))?;
    Ok(store)
}

async fn serve(
    store: &Store,
    settings: &Settings,
    demo_customers: Option<u64>,
    clock_start: Option<Timestamp>,
) -> anyhow::Result<ExitCode> {
    let addr = settings.listen_addr()?;
    let clock: Arc<dyn kefu_server::Clock> = match clock_start {
        Some(start) => {
            tracing::warn!(%start, "the server's clock is shifted (rehearsal or benchmark)");
            Arc::new(ShiftedClock(start.duration_since(Timestamp::now())))
        }
        None => Arc::new(kefu_server::SystemClock),
    };
    // Bind first: a taken port should fail before any data is generated.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let now = Timestamp::now();
    let mut banner = Vec::new();
    if let Some(n) = demo_customers {
        let accounts_created = seed_demo(
            store,
            settings,
            DemoSize {
                customers: n,
                work_orders: n / 5,
                contacts: n / 2,
                articles: 300,
            },
            2026,
        )
        .await?;
        if accounts_created {
            banner.push(format!("demo logins (password {DEMO_PASSWORD}):"));
            for (no, name, role, _) in demo::STAFF {
                banner.push(format!("  {no:<8} {name} ({role})"));
            }
        } else {
            banner.push(
                "demo data added; sign in with the accounts this database already has".into(),
            );
        }
    } else if store.count_staff().await? == 0 {
        let created = create_account(
            store,
            &Actor::System("first-start".into()),
            "admin",
            "系统管理员",
            "admin",
            None,
            kefu_server::SignIn::Password,
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code.as_str(), e.message))?;
        banner.push("first start: created administrator 'admin'".into());
        banner.push(format!(
            "  one-time password: {} (change it at first sign-in)",
            created.one_time_password.unwrap_or_default()
        ));
    }
    kefu_store::search::warm_up();
    let state = AppState::with_clock(store.clone(), settings.server_config(), clock);
    state
        .reload_calendar()
        .await
        .context("reading the business calendar saved in the console")?;
    for job in kefu_server::jobs::resume(&state).await? {
        println!(
            "resuming job {} ({}, {} of {} done)",
            job.id, job.kind, job.done, job.total
        );
    }
    tokio::spawn(purge_sessions(store.clone()));
    tokio::spawn(follow_search_dictionary(store.clone()));
    tokio::spawn(follow_calendar(state.clone()));
    kefu_server::jobs::spawn_deadline_sweep(state.clone());
    kefu_server::jobs::spawn_webhook_dispatcher(state.clone());
    kefu_server::notices::spawn_notice_dispatcher(state.clone(), std::time::Duration::from_secs(1));
    let url = format!("http://{}", listener.local_addr()?);
    println!(
        "Kefu is serving on {url}  (database: {})",
        settings.database_url()?
    );
    println!("  console: {url}/console   (customers' status page: {url}/status)");
    println!("  API: {url}/api/v1   OpenAPI: {url}/api/openapi.json   health: {url}/healthz");
    for line in banner {
        println!("{line}");
    }
    let header_timeout = state.config.header_timeout;
    kefu_server::listen::serve(
        listener,
        kefu_console::app(state),
        header_timeout,
        Duration::from_secs(30),
        shutdown_signal(),
    )
    .await;
    Ok(ExitCode::SUCCESS)
}

/// `--clock-start`: an instant with its offset, e.g. 2026-12-01T10:00:00+08:00.
pub fn parse_clock_start(raw: &str) -> anyhow::Result<Timestamp> {
    raw.parse::<Timestamp>().with_context(|| {
        format!("--clock-start '{raw}' is not a time like 2026-12-01T10:00:00+08:00")
    })
}

/// A clock running at real speed, ahead of (or behind) the real one by its offset.
pub struct ShiftedClock(pub jiff::SignedDuration);

impl kefu_server::Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp::now() + self.0
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down");
}

/// Removes expired sessions every hour.
/// Picks up a search dictionary saved through another server instance (the
/// instance that saved it applied it at once).
async fn follow_search_dictionary(store: Store) {
    let mut applied = store.search_dictionary().await.map(|d| d.version).ok();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match store.search_dictionary().await {
            Ok(d) if Some(d.version) != applied => {
                kefu_store::search::set_dictionary(&d.dictionary.words, &d.dictionary.synonyms);
                tracing::info!(version = d.version, "search dictionary applied");
                applied = Some(d.version);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the search dictionary failed"),
        }
    }
}

/// Follows calendar editions saved by other instances (this one puts its own in
/// force as it saves them).
async fn follow_calendar(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = state.reload_calendar().await {
            tracing::warn!(error = %e, "reading the business calendar failed");
        }
    }
}

/// `kefu reindex`: every kind (or one), with a progress bar each.
async fn reindex(store: &Store, kind: Option<&str>, batch: i64) -> anyhow::Result<ExitCode> {
    let kinds: Vec<&str> = match kind {
        Some(k) => {
            if !kefu_store::indexing::KINDS
                .iter()
                .any(|(known, _)| *known == k)
            {
                bail!(
                    "--kind {k}: must be one of {}",
                    kefu_store::indexing::KINDS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            vec![k]
        }
        None => kefu_store::indexing::KINDS
            .iter()
            .map(|(k, _)| *k)
            .collect(),
    };
    if !(1..=10_000).contains(&batch) {
        anyhow::bail!("--batch: between 1 and 10000");
    }
    let version = store.search_dictionary().await?.version;
    println!("search dictionary version {version}");
    for kind in kinds {
        let total = store.count_indexable(kind).await?;
        let bar = ProgressBar::new(u64::try_from(total).unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template("{msg:12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(kind.to_owned());
        let started = std::time::Instant::now();
        let done = store
            .reindex(kind, batch, Timestamp::now(), |n| bar.set_position(n))
            .await?;
        bar.finish();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{kind}: {done} documents in {secs:.1} s ({:.0}/s)",
            done as f64 / secs.max(0.001)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn purge_sessions(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match store.purge_expired_sessions(Timestamp::now()).await {
            Ok(n) if n > 0 => tracing::info!(n, "expired sessions removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging sessions failed"),
        }
    }
}

/// Seeds the demo data; true when the demo accounts were created now (a database
/// that already has accounts keeps them and gets no demo logins).
async fn seed_demo(
    store: &Store,
    settings: &Settings,
    size: DemoSize,
    seed: u64,
) -> anyhow::Result<bool> {
    let DemoSize {
        customers,
        work_orders,
        contacts,
        articles,
    } = size;
    let hash = hash_password_blocking(DEMO_PASSWORD.to_owned())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    // The demo center was set up before the year of orders and calls it holds.
    let established = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(400 * 24))
        .unwrap_or_else(|_| Timestamp::now());
    let accounts_created = demo::seed_organisation(store, &hash, established).await?;
    if accounts_created {
        println!(
            "demo: created {} departments and {} staff accounts",
            demo::DEPARTMENTS.len(),
            demo::STAFF.len()
        );
    } else {
        println!(
            "demo: the database already has staff accounts; they are kept and no demo accounts were created"
        );
    }
    let existing = u64::try_from(store.count_customers().await?).unwrap_or(0);
    if existing < customers {
        let bar = progress_bar(customers, "customers");
        let today = Timestamp::now().to_zoned(settings.time_zone()?).date();
        demo::generate_customers(store, customers, seed, today, Timestamp::now(), |done| {
            bar.set_position(done)
        })
        .await?;
        bar.finish();
    }
    let config = settings.server_config();
    // The calendar saved in the console, if one is, else the configured file's.
    let ctx = kefu_store::workorders::SlaContext {
        calendar: store
            .business_calendar()
            .await?
            .calendar
            .unwrap_or(config.calendar),
        tz: config.time_zone,
    };
    let existing = u64::try_from(store.count_work_orders().await?).unwrap_or(0);
    if existing < work_orders {
        let bar = progress_bar(work_orders - existing, "work orders");
        demo::generate_work_orders(
            store,
            work_orders - existing,
            seed,
            &ctx,
            Timestamp::now(),
            |done| bar.set_position(done),
        )
        .await?;
        bar.finish();
    }
    demo::seed_integration_history(store, Timestamp::now()).await?;
    let existing = u64::try_from(store.count_contacts().await?).unwrap_or(0);
    if existing < contacts {
        let bar = progress_bar(contacts - existing, "contacts");
        demo::generate_contacts(store, contacts - existing, seed, Timestamp::now(), |done| {
            bar.set_position(done)
        })
        .await?;
        bar.finish();
    }
    let existing = u64::try_from(store.count_articles().await?).unwrap_or(0);
    if existing < articles {
        let bar = progress_bar(articles - existing, "articles");
        demo::generate_articles(store, articles - existing, seed, Timestamp::now(), |done| {
            bar.set_position(done)
        })
        .await?;
        bar.finish();
    }
    if demo::seed_center_life(store, &ctx, Timestamp::now()).await? {
        println!(
            "demo: shifts, complaints at every step, a follow-up campaign with its calls, two emergencies, inspected calls and violations"
        );
    }
    let escalated = demo::seed_escalations(store, Timestamp::now()).await?;
    if escalated > 0 {
        println!("demo: the deadline sweep escalated {escalated} late orders over the past week");
    }
    Ok(accounts_created)
}

fn progress_bar(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what);
    bar
}

/// How much demo data must exist.
#[derive(Clone, Copy, Debug)]
pub struct DemoSize {
    pub customers: u64,
    pub work_orders: u64,
    pub contacts: u64,
    pub articles: u64,
}

impl DemoSize {
    pub const DEFAULT: DemoSize = DemoSize {
        customers: 10_000,
        work_orders: 2_000,
        contacts: 5_000,
        articles: 67,
    };
}

/// The benchmark datasets: each ten times the one before.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DemoProfile {
    Small,
    Medium,
    Large,
}

impl DemoProfile {
    pub fn size(self) -> DemoSize {
        let scale = match self {
            DemoProfile::Small => 1,
            DemoProfile::Medium => 10,
            DemoProfile::Large => 100,
        };
        DemoSize {
            customers: 10_000 * scale,
            work_orders: 10_000 * scale,
            contacts: 50_000 * scale,
            articles: 100 * scale,
        }
    }
}

async fn demo_data(
    store: &Store,
    settings: &Settings,
    size: DemoSize,
    seed: u64,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    seed_demo(store, settings, size, seed).await?;
    let elapsed = started.elapsed();
    let total = store.count_customers().await?;
    let orders = store.count_work_orders().await?;
    let calls = store.count_contacts().await?;
    let articles = store.count_articles().await?;
    let size = store.size_bytes().await?;
    println!(
        "demo: {total} customers, {orders} work orders, {calls} contacts and {articles} articles in the database; this run took {:.1} s; database size {:.1} MiB",
        elapsed.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0)
    );
    println!("demo logins use the password {DEMO_PASSWORD}");
    Ok(ExitCode::SUCCESS)
}

async fn admin_create(
    store: &Store,
    staff_no: &str,
    name: &str,
    role: &str,
    department: Option<&str>,
    no_password: bool,
) -> anyhow::Result<ExitCode> {
    let department_id = match department {
        Some(code) => {
            let all = store.list_departments().await?;
            match all.iter().find(|d| d.code == code) {
                Some(d) => Some(d.id.0),
                None => bail!("no department with code '{code}'"),
            }
        }
        None => None,
    };
    let created = create_account(
        store,
        &Actor::System("cli".into()),
        staff_no,
        name,
        role,
        department_id,
        if no_password {
            kefu_server::SignIn::TokensOnly
        } else {
            kefu_server::SignIn::Password
        },
        Timestamp::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!("created {} {} ({role})", created.staff.staff_no, name);
    match created.one_time_password {
        Some(password) => {
            println!("one-time password (must be changed at first sign-in):");
            println!("{password}");
        }
        None => println!(
            "integration account: no password; make its token with `kefu token create --staff-no {}`",
            created.staff.staff_no
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn token_create(store: &Store, staff_no: &str, name: &str) -> anyhow::Result<ExitCode> {
    let no = StaffNo::parse(staff_no).map_err(|e| anyhow::anyhow!("staff number: {e}"))?;
    let creds = store
        .staff_credentials(&no)
        .await?
        .with_context(|| format!("no staff account '{staff_no}'"))?;
    if !creds.member.active {
        bail!("account '{staff_no}' is disabled");
    }
    let name =
        kefu_domain::text::display_text(name, 64).map_err(|e| anyhow::anyhow!("name: {e}"))?;
    let secret = new_secret(TOKEN_PREFIX);
    let token = store
        .create_api_token(
            &Actor::System("cli".into()),
            creds.member.id,
            &name,
            &secret_hash(&secret),
            Timestamp::now(),
        )
        .await?;
    println!(
        "token {} '{}' for {staff_no} ({}):",
        token.id, token.name, creds.member.role
    );
    println!("{secret}");
    Ok(ExitCode::SUCCESS)
}

/// `kefu backup`: a consistent copy, SQLite by `VACUUM INTO`, PostgreSQL by pg_dump.
async fn backup(store: &Store, settings: &Settings, output: &Path) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    match settings.database_url()? {
        DatabaseUrl::Sqlite(_) => store.backup_sqlite(output).await?,
        DatabaseUrl::Postgres(url) => {
            if output.exists() {
                bail!(
                    "{} exists already; a backup never overwrites a file",
                    output.display()
                );
            }
            let status = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(output)
                .args(["--schema", store.schema()])
                .arg(libpq_url(&url))
                .status()
                .context("running pg_dump (install postgresql-client)")?;
            if !status.success() {
                let _ = std::fs::remove_file(output);
                bail!("pg_dump failed ({status}); no backup was written");
            }
        }
    }
    let size = std::fs::metadata(output)?.len();
    println!(
        "backup written to {} ({:.1} MiB in {:.1} s)",
        output.display(),
        size as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// A PostgreSQL URL as libpq reads it: the driver's own parameters (`options[…]`,
/// the statement cache) left out; the schema is passed to pg_dump separately.
pub(crate) fn libpq_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("options") && !p.starts_with("statement-cache"))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// The segment filters as given on the command line.
struct SegmentArgs {
    tier: Option<String>,
    kind: Option<String>,
    occupation: Option<String>,
    age_band: Option<String>,
    gender: Option<String>,
    position: Option<String>,
    liquidity: Option<String>,
    service_area: Option<String>,
    tags: Option<String>,
}

fn customer_filter(a: SegmentArgs) -> anyhow::Result<kefu_store::customers::CustomerFilter> {
    kefu_store::customers::CustomerFilter::parse(&kefu_store::customers::SegmentText {
        tier: a.tier.as_deref(),
        kind: a.kind.as_deref(),
        occupation: a.occupation.as_deref(),
        age_band: a.age_band.as_deref(),
        gender: a.gender.as_deref(),
        position: a.position.as_deref(),
        liquidity: a.liquidity.as_deref(),
        service_area: a.service_area.as_deref(),
        tags: a.tags.as_deref(),
    })
    .map_err(|e| {
        anyhow::anyhow!(
            "--{} {}",
            e.field.replace('_', "-"),
            kefu_i18n::catalog(kefu_i18n::Lang::En).reason(&e.reason)
        )
    })
}

/// `kefu export customers`: a segment as a file, unmasked (the command line is the
/// operator's), audited as an export by `cli`.
async fn export_customers(
    store: &Store,
    settings: &Settings,
    output: &Path,
    format: Option<&str>,
    filter: &kefu_store::customers::CustomerFilter,
) -> anyhow::Result<ExitCode> {
    use kefu_server::import::ExportFormat;
    let format = match format.or_else(|| output.extension().and_then(|e| e.to_str())) {
        Some(f) if f.eq_ignore_ascii_case("csv") => ExportFormat::Csv,
        Some(f) if f.eq_ignore_ascii_case("xlsx") => ExportFormat::Xlsx,
        Some(other) => bail!("--format '{other}' is not csv or xlsx"),
        None => bail!("say the format: --format csv or xlsx, or an output ending in .csv or .xlsx"),
    };
    if output.exists() {
        bail!(
            "{} exists already; an export never overwrites a file",
            output.display()
        );
    }
    let started = Instant::now();
    let today = Timestamp::now().to_zoned(settings.time_zone()?).date();
    let bytes = kefu_server::import::export_customers(
        store,
        &Actor::System("cli".into()),
        kefu_domain::Role::Manager,
        filter,
        format,
        today,
        Timestamp::now(),
    )
    .await
    .map_err(|e| match e {
        kefu_server::import::ImportFailure::Store(kefu_store::StoreError::Conflict(reason)) => {
            anyhow::anyhow!(
                "{}",
                kefu_i18n::catalog(kefu_i18n::Lang::En).reason(&reason)
            )
        }
        kefu_server::import::ImportFailure::Store(e) => anyhow::anyhow!(e),
        kefu_server::import::ImportFailure::File(e) => anyhow::anyhow!(e),
    })?;
    std::fs::write(output, &bytes).with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "exported customers to {} ({} bytes, {:.1} s)",
        output.display(),
        bytes.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

async fn audit_verify(store: &Store) -> anyhow::Result<ExitCode> {
    match store.verify_audit().await? {
        AuditVerdict::Intact { rows } => {
            println!("audit log intact: {rows} records verified");
            Ok(ExitCode::SUCCESS)
        }
        AuditVerdict::Broken {
            first_bad_seq,
            reason,
            ..
        } => {
            println!("audit log BROKEN at record {first_bad_seq}: {reason}");
            Ok(ExitCode::from(2))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn import_customers(
    store: &Store,
    settings: &Settings,
    file: &std::path::Path,
    encoding: Option<&str>,
    format: Option<&str>,
    header_map: Option<&str>,
    report: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use kefu_files::{FileFormat, Limits, TextEncoding};
    let limits = Limits {
        max_bytes: settings.http.import_limit_mib * 1024 * 1024,
        ..Limits::default()
    };
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > limits.max_bytes as u64 {
        bail!(
            "{} is {size} bytes; at most {} bytes are accepted (http.import_limit_mib); nothing was imported",
            file.display(),
            limits.max_bytes
        );
    }
    let options = kefu_server::import::ImportOptions {
        encoding: encoding
            .map(|e| {
                TextEncoding::parse(e)
                    .with_context(|| format!("--encoding '{e}' is not utf-8, gbk or gb18030"))
            })
            .transpose()?,
        format: match format {
            None => None,
            Some("csv") => Some(FileFormat::Csv),
            Some("xlsx") => Some(FileFormat::Xlsx),
            Some(other) => bail!("--format '{other}' is not csv or xlsx"),
        },
        header_map: header_map
            .map(kefu_files::customers::parse_header_map)
            .transpose()?
            .unwrap_or_default(),
        limits,
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let started = Instant::now();
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("importing {}", file.display()));
    bar.enable_steady_tick(Duration::from_millis(120));
    let now = Timestamp::now();
    let today = now.to_zoned(settings.time_zone()?).date();
    let actor = Actor::System("cli-import".into());
    let result = kefu_server::import::import_customer_file(
        store,
        &actor,
        bytes,
        options,
        today,
        settings.center.area_code.as_deref(),
        now,
        &mut |done| bar.set_message(format!("checked {done} rows")),
    )
    .await;
    bar.finish_and_clear();
    let summary = match result {
        Ok(r) => r,
        Err(kefu_server::import::ImportFailure::File(e)) => {
            bail!("{}: {e}; nothing was imported", file.display())
        }
        Err(kefu_server::import::ImportFailure::Store(e)) => {
            return Err(e).context("import failed; nothing was imported");
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} rows ({}{}) in {secs:.1} s ({:.0} rows/s)",
        file.display(),
        summary.rows,
        summary.format,
        summary
            .encoding
            .as_deref()
            .map(|e| format!(", {e}"))
            .unwrap_or_default(),
        summary.rows as f64 / secs.max(1e-9)
    );
    println!(
        "  inserted {}, updated {}, unchanged {}, rejected {}",
        summary.inserted, summary.updated, summary.unchanged, summary.rejected
    );
    if !summary.ignored_columns.is_empty() {
        println!("  ignored columns: {}", summary.ignored_columns.join(", "));
    }
    const SHOWN: usize = 50;
    for e in summary.errors.iter().take(SHOWN) {
        match &e.column {
            Some(c) => println!("  row {} [{c}]: {}", e.row, e.message),
            None => println!("  row {}: {}", e.row, e.message),
        }
    }
    if summary.errors.len() > SHOWN {
        println!(
            "  … and {} more (use --report FILE for all)",
            summary.errors.len() - SHOWN
        );
    }
    if let Some(path) = report {
        let rows = summary.errors.iter().map(|e| {
            vec![
                e.row.to_string(),
                e.column.clone().unwrap_or_default(),
                // The report file is for the office staff who correct the rows.
                e.reason()
                    .map(|r| kefu_i18n::catalog(kefu_i18n::Lang::ZhCn).reason(&r))
                    .unwrap_or_else(|| e.message.clone()),
            ]
        });
        let bytes = kefu_files::write_csv(&["行号", "列", "原因"], rows)?;
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!("  rejected rows written to {}", path.display());
    }
    Ok(if summary.rejected > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// `kefu dispatch`: the notice dispatcher alone.
async fn dispatch(
    store: &Store,
    settings: &Settings,
    idle_secs: u64,
    until_idle: bool,
) -> anyhow::Result<ExitCode> {
    let state = AppState::new(store.clone(), settings.server_config());
    let dispatchers = kefu_server::notices::ChannelDispatcher::configured(&state.config.notices);
    if dispatchers.is_empty() {
        anyhow::bail!(
            "no gateway is configured: set [notices.sms] or [notices.email] in the settings"
        );
    }
    println!(
        "dispatching incident notices as {} ({})",
        state.config.notices.dispatcher,
        dispatchers
            .iter()
            .map(|d| d.gateway.describe())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut total = 0usize;
    loop {
        let mut round = 0;
        let mut failed = false;
        for d in &dispatchers {
            // A failed round (the database unreachable, a deadlock) loses nothing:
            // its sends stay held until their lease ends and are then reconciled by
            // key. The dispatcher carries on.
            match kefu_server::notices::dispatch_once(&state, d).await {
                Ok(n) => round += n,
                Err(e) => {
                    tracing::warn!(error = %e, channel = d.gateway.channel().code(), "notice dispatch round failed");
                    failed = true;
                }
            }
        }
        total += round;
        if round == 0 {
            let mut outstanding = failed;
            for d in &dispatchers {
                match store.notices_outstanding(d.gateway.channel()).await {
                    Ok(left) => outstanding |= left,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell whether notices are left");
                        outstanding = true;
                    }
                }
            }
            if until_idle && !outstanding {
                println!("nothing left to send: {total} sends handled");
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(std::time::Duration::from_secs(idle_secs)).await;
        }
    }
}
