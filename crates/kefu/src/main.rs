//! `kefu`: the command line of the Kefu customer-service center.
//!
//! Parses arguments, loads settings once, sets up logging, runs one command and
//! turns its outcome into an exit code (0 ok, 1 error, 2 audit log broken).

mod bench;
mod bench_pbx;
mod bridge;
mod commands;
mod inspect;
mod load;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::settings::{Overrides, Settings};

#[derive(Debug, Parser)]
#[command(name = "kefu", version, about = "Kefu 客服 — customer-service center")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Settings file (TOML). Default: ./kefu.toml if it exists.
    #[arg(long, global = true, env = "KEFU_CONFIG")]
    config: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB [env: KEFU_DATABASE_URL]
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Directory for the embedded database [env: KEFU_DATA_DIR; default: data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum BridgeCommand {
    /// FreeSWITCH through its event socket (mod_event_socket, inbound).
    Freeswitch,
    /// Asterisk through its manager interface (AMI).
    Asterisk,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve {
        /// HOST:PORT to listen on [env: KEFU_LISTEN; default: 127.0.0.1:8080]
        #[arg(long)]
        listen: Option<String>,
        /// Fill an empty database with demo staff and customers, and print the logins.
        #[arg(long)]
        demo: bool,
        /// Customers to generate with --demo.
        #[arg(long, default_value_t = 10_000, requires = "demo")]
        demo_customers: u64,
        /// For rehearsals and benchmarks only: the server's clock starts at this
        /// instant (e.g. 2026-12-01T10:00:00+08:00) and runs on from there.
        #[arg(long)]
        clock_start: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Write a consistent copy of the database while servers keep running: SQLite
    /// through `VACUUM INTO` (one snapshot, integrity-checked), PostgreSQL through
    /// `pg_dump --format=custom` of Kefu's schema (restore with `pg_restore`).
    Backup {
        /// The file to write; never overwritten.
        #[arg(long)]
        output: PathBuf,
    },
    /// Rebuild the search index with the search dictionary in force (after the
    /// center's words changed), batch by batch; search keeps answering meanwhile.
    Reindex {
        /// Only this kind: article, work_order, contact or customer.
        #[arg(long)]
        kind: Option<String>,
        /// Records per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: i64,
    },
    /// Inspect one call against the service standard and print the itemised result:
    /// FILE is a transcript (.json, .srt, .vtt; timing rules are then skipped) or a
    /// call as JSON with its timings ({"call": {...}, "turns": [...]}).
    Inspect {
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// A phrasebook edition (TOML) instead of the shipped one.
        #[arg(long)]
        phrasebook: Option<PathBuf>,
        /// Inspection rules (TOML: thresholds and `[rules.NAME]` enabled/points;
        /// what is left out keeps its default).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Run only the incident notice dispatcher (no HTTP), e.g. as its own process
    /// beside the servers; it resumes where any stopped dispatcher left off.
    Dispatch {
        /// Seconds to wait when there is nothing to send.
        #[arg(long, default_value_t = 1)]
        idle_secs: u64,
        /// Stop once nothing is left to send or reconcile (for scripts and tests).
        #[arg(long)]
        until_idle: bool,
    },
    /// Connect a PBX to Kefu, as its own process beside the servers (several may
    /// run side by side): the PBX's call events become Kefu's telephony events
    /// (screen pops, call records) and Kefu's click-to-dial requests are placed
    /// through the PBX. Settings: [bridge] in the settings file; the token and the
    /// PBX's password from the environment.
    Bridge {
        #[command(subcommand)]
        pbx: BridgeCommand,
    },
    /// Generate realistic Chinese demo data (staff, departments, customers, work
    /// orders, calls, knowledge articles); counts are what must exist afterwards.
    Demo {
        /// A dataset size: small (10k customers, 10k orders, 50k calls, 100
        /// articles), medium (100k, 100k, 500k, 1k) or large (1M, 1M, 5M, 10k).
        #[arg(long, value_enum)]
        profile: Option<commands::DemoProfile>,
        /// Number of customers to make sure exist [default: 10 000].
        #[arg(long)]
        customers: Option<u64>,
        /// Number of work orders to make sure exist (over the past year) [default: 2 000].
        #[arg(long)]
        work_orders: Option<u64>,
        /// Number of contacts (call records) to make sure exist (over the past year)
        /// [default: 5 000].
        #[arg(long)]
        contacts: Option<u64>,
        /// Number of knowledge-base articles to make sure exist [default: 67, the hand-written handbook].
        #[arg(long)]
        articles: Option<u64>,
        /// Seed of the generator: the same seed gives the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Measure performance through the HTTP API on loopback (prints figures).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Import records from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Export records to files.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// API tokens for integrations.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// HTTP load generator: N concurrent clients repeat the chosen scenarios against
    /// servers it starts on loopback (over this database) or against --base-url;
    /// prints p50/p95/p99, throughput and the servers' memory. Needs the demo
    /// accounts (`kefu demo`).
    Load(LoadArgs),
    /// Follow-up campaigns: building a large target list from a combined selection,
    /// and next-call with 16 agents pulling at once (data from `kefu demo`).
    Campaigns {
        /// Size of the random sample.
        #[arg(long, default_value_t = 100_000)]
        targets: usize,
        /// Next-call requests in all (a third each burst, busy and paced).
        #[arg(long, default_value_t = 4_800)]
        requests: usize,
    },
    /// Emergency incidents: selecting the affected customers of one service area (of
    /// all in the database) and enqueuing their notices, the board, the lists as
    /// files (data from `kefu demo`).
    Incidents {
        /// The service area hit (the demo spreads customers over eight).
        #[arg(long, default_value = "历下区")]
        area: String,
    },
    /// A PBX bridge end to end in this process: generated calls on a FreeSWITCH
    /// event socket on loopback, the bridge, the server, the agent's desk (event
    /// stream and pop page): ring-to-pop latency at a steady rate, then events per
    /// second of a burst through one bridge (data from `kefu demo`).
    Pbx {
        /// Calls at the steady rate.
        #[arg(long, default_value_t = 300)]
        calls: usize,
        /// The steady rate, calls per minute.
        #[arg(long, default_value_t = 200)]
        per_minute: u32,
        /// Calls in the burst (five events each).
        #[arg(long, default_value_t = 2_000)]
        burst: usize,
    },
    /// Console pages through HTTP: the manager's dashboard, work-order list, inbox,
    /// agent desk, screen pop and customer search (data from `kefu demo`).
    Console {
        /// Requests per page.
        #[arg(long, default_value_t = 400)]
        requests: usize,
    },
    /// Work orders and calls: creation with 1, 8 and 32 clients, department inbox
    /// pages, the deadline sweep, telephony ringing → screen pop (make the data with
    /// `kefu demo --customers N --work-orders M`).
    WorkOrders {
        /// Requests per scenario.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        /// The seed the demo data was made with.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Full-text search at scale: work-order and contact documents of generated
    /// Chinese text indexed in bulk (docs/s, index size), then single-word,
    /// two-word, phrase and partial-number queries (p50/p95/p99). Documents are kept
    /// for the next run (kinds bench_order / bench_contact).
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        work_orders: u64,
        #[arg(long, default_value_t = 5_000_000)]
        contacts: u64,
        /// Queries per kind of query.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Remove the documents of an earlier run and index them again.
        #[arg(long)]
        fresh: bool,
    },
    /// Automatic inspection of 5-minute calls on one core (no database): calls per
    /// second, over several runs.
    Inspection {
        /// Calls inspected per run.
        #[arg(long, default_value_t = 2_000)]
        calls: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Screen-pop lookups, segment pages and a GBK CSV import against the customers in
    /// the database (make them with `kefu demo --customers N`).
    Customers {
        /// Requests per query scenario.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Rows of the import file (0 skips the import).
        #[arg(long, default_value_t = 100_000)]
        import_rows: usize,
        /// The seed the demo data was made with.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// A running server to load (repeat for several instances); none: start
    /// --instances servers of this program on loopback over the database given.
    #[arg(long)]
    base_url: Vec<String>,
    /// Servers to start when no --base-url is given (on PostgreSQL, several share
    /// the database).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Scenarios, in order (default: all but mixed).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenario: Vec<load::Scenario>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// At most this many steps per scenario.
    #[arg(long, default_value_t = 2_000)]
    requests: usize,
    /// At most this many seconds per scenario.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// The demo accounts' password.
    #[arg(long, default_value = "kefu-demo-2026")]
    password: String,
    /// Targets of the next-call scenario's campaign.
    #[arg(long, default_value_t = 10_000)]
    targets: usize,
    /// Service area of the fan-out scenario.
    #[arg(long, default_value = "历下区")]
    area: String,
    /// Print p99 and the servers' memory every this many seconds.
    #[arg(long)]
    interval: Option<u64>,
    /// The instant the servers' clock shows (servers started by this run are
    /// started at it; default: tomorrow 10:00 in Asia/Shanghai for started servers,
    /// now for --base-url), so calling windows are open.
    #[arg(long)]
    clock_start: Option<String>,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import customers from CSV (UTF-8, BOM, GBK/GB18030) or XLSX. Exit 0 when every
    /// row was imported, 3 when some were rejected (the others are committed), 1 when
    /// the file could not be imported at all.
    Customers {
        file: PathBuf,
        /// utf-8, gbk or gb18030 (detected when absent).
        #[arg(long)]
        encoding: Option<String>,
        /// csv or xlsx (detected when absent).
        #[arg(long)]
        format: Option<String>,
        /// Extra column names, e.g. "手机号码=mobile,单位名称=name".
        #[arg(long)]
        header_map: Option<String>,
        /// Write every rejected row to this CSV file.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Export a customer segment (at most 100 000 customers) to CSV (UTF-8 with BOM,
    /// opens in Excel) or XLSX, in the layout imports read back; the same filters
    /// as the console's customer list. Audited as an export.
    Customers {
        /// The file to write (never overwritten); its extension gives the format.
        #[arg(long)]
        output: PathBuf,
        /// csv or xlsx (from the output's extension when absent).
        #[arg(long)]
        format: Option<String>,
        /// Tier code, e.g. vip.
        #[arg(long)]
        tier: Option<String>,
        /// person or organisation (个人, 单位).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        occupation: Option<String>,
        /// under_25, 25_34, 35_44, 45_54, 55_64 or 65_plus.
        #[arg(long)]
        age_band: Option<String>,
        /// male or female.
        #[arg(long)]
        gender: Option<String>,
        #[arg(long)]
        position: Option<String>,
        /// high, medium or low.
        #[arg(long)]
        liquidity: Option<String>,
        #[arg(long)]
        service_area: Option<String>,
        /// Comma-separated; a customer must have every tag.
        #[arg(long)]
        tags: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a staff account; prints its one-time password.
    Create {
        #[arg(long)]
        staff_no: String,
        #[arg(long)]
        name: String,
        /// agent, handler, manager or admin.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Department code (required for handlers).
        #[arg(long)]
        department: Option<String>,
        /// An integration account (a PBX bridge): no password, no interactive
        /// sign-in; it works with tokens from `kefu token create`.
        #[arg(long)]
        no_password: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a bearer token acting as a staff member; prints it as the last line.
    Create {
        #[arg(long)]
        staff_no: String,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 0 when intact, 2 naming the first bad row.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Inspection needs neither settings nor a database.
    if let Command::Bench {
        command: BenchCommand::Inspection { calls, runs },
    } = &cli.command
    {
        bench::inspection(*calls, *runs);
        return ExitCode::SUCCESS;
    }
    if let Command::Bench {
        command: BenchCommand::Load(args),
    } = &cli.command
    {
        return load_command(&cli.global, args);
    }
    if let Command::Inspect {
        file,
        json,
        phrasebook,
        rules,
    } = &cli.command
    {
        return match inspect::run(file, *json, phrasebook.as_deref(), rules.as_deref()) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        listen,
        database_url: cli.global.database_url.clone(),
        data_dir: cli.global.data_dir.clone(),
    };
    let settings = match Settings::load(cli.global.config.as_deref(), &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    commands::init_logging(&settings);
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(commands::run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `kefu bench load`: needs no database of its own; servers it starts get the
/// global options given here.
fn load_command(global: &GlobalArgs, args: &LoadArgs) -> ExitCode {
    let mut server_args = Vec::new();
    if let Some(config) = &global.config {
        server_args.extend(["--config".to_owned(), config.display().to_string()]);
    }
    if let Some(url) = &global.database_url {
        server_args.extend(["--database-url".to_owned(), url.clone()]);
    }
    if let Some(dir) = &global.data_dir {
        server_args.extend(["--data-dir".to_owned(), dir.display().to_string()]);
    }
    let clock = match load::clock_start(args.clock_start.as_deref(), args.base_url.is_empty()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    let options = load::LoadOptions {
        base_urls: args.base_url.clone(),
        instances: args.instances,
        server_args,
        scenarios: if args.scenario.is_empty() {
            load::Scenario::ALL.to_vec()
        } else {
            args.scenario.clone()
        },
        clients: args.clients,
        requests: args.requests,
        duration: std::time::Duration::from_secs(args.duration),
        password: args.password.clone(),
        targets: args.targets,
        area: args.area.clone(),
        interval: args.interval.map(std::time::Duration::from_secs),
        clock,
        seed: args.seed,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(load::load(options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("some requests failed (see above)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(1)
        })
}
