//! `kefu bridge freeswitch|asterisk`: one PBX connected to Kefu until Ctrl-C.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use kefu_bridge::client::Kefu;
use kefu_bridge::run::{AsteriskConfig, Bridge, FreeswitchConfig, Outbox, Stats};

use crate::BridgeCommand;
use crate::settings::Settings;

pub async fn run(pbx: BridgeCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let b = &settings.bridge;
    let Some(token) = b.token.as_deref().filter(|t| !t.trim().is_empty()) else {
        bail!(
            "the bridge needs an API token: set KEFU_BRIDGE__TOKEN (an integration account's token)"
        );
    };
    if !b.kefu_url.starts_with("http://") {
        bail!("bridge.kefu_url '{}' is not an http:// address", b.kefu_url);
    }
    let default_source = match pbx {
        BridgeCommand::Freeswitch => "freeswitch",
        BridgeCommand::Asterisk => "asterisk",
    };
    let source = b.source.clone().unwrap_or_else(|| default_source.into());
    if source.is_empty()
        || source.len() > 32
        || !source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("bridge.source '{source}' must be 1–32 letters, digits, '-' or '_'");
    }
    let kefu = Kefu::new(&b.kefu_url, token.trim());
    let outbox = Outbox::start(kefu.clone(), b.lanes.clamp(1, 64));
    let bridge = Bridge {
        kefu,
        source: source.clone(),
        dial_every: Duration::from_millis(b.dial_every_ms.clamp(100, 60_000)),
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let stats = outbox.stats.clone();
    match pbx {
        BridgeCommand::Freeswitch => {
            let fs = &b.freeswitch;
            let Some(password) = fs.password.clone() else {
                bail!("set KEFU_BRIDGE__FREESWITCH__PASSWORD (the event socket's password)");
            };
            println!(
                "bridging FreeSWITCH at {} to {} as '{source}'",
                fs.address, b.kefu_url
            );
            kefu_bridge::run::freeswitch(
                FreeswitchConfig {
                    address: fs.address.clone(),
                    password,
                    naming: kefu_bridge::esl::Naming {
                        agent_variable: fs.agent_variable.clone(),
                    },
                    originate: fs.originate.clone(),
                },
                bridge,
                outbox.clone(),
                stop,
            )
            .await;
        }
        BridgeCommand::Asterisk => {
            let a = &b.asterisk;
            let Some(secret) = a.secret.clone() else {
                bail!("set KEFU_BRIDGE__ASTERISK__SECRET (the manager account's secret)");
            };
            let agent_device = regex::Regex::new(&a.agent_device)
                .with_context(|| format!("bridge.asterisk.agent_device '{}'", a.agent_device))?;
            println!(
                "bridging Asterisk at {} to {} as '{source}'",
                a.address, b.kefu_url
            );
            kefu_bridge::run::asterisk(
                AsteriskConfig {
                    address: a.address.clone(),
                    username: a.username.clone(),
                    secret,
                    naming: kefu_bridge::ami::Naming {
                        agent_device,
                        recording_file: a.recording_file.clone(),
                    },
                    channel: a.channel.clone(),
                    context: a.context.clone(),
                },
                bridge,
                outbox.clone(),
                stop,
            )
            .await;
        }
    }
    // Stopping: what is queued is sent first (for up to ten seconds).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while outbox.pending() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "bridge stopped: {} events applied, {} repeats, {} dropped, {} dials placed, {} left unsent",
        Stats::get(&stats.applied),
        Stats::get(&stats.duplicates),
        Stats::get(&stats.dropped),
        Stats::get(&stats.dials),
        outbox.pending()
    );
    Ok(ExitCode::SUCCESS)
}
