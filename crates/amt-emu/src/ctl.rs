//! `amt-emu ctl …` and `amt-emu host …`: the control API of a running
//! device from the command line. Each verb is one HTTP request to the
//! control port; the JSON answer is printed as it comes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct Target {
    /// Control API address of the device.
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:16990",
        env = "AMT_EMU_CONTROL"
    )]
    control: String,
    /// The control port's token, when it asks for one (a control API
    /// bound to a non-loopback address; docs/dashboard.md).
    #[arg(
        long,
        global = true,
        env = "AMT_EMU_CONTROL_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

#[derive(Args, Debug)]
pub struct CtlArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand, Debug)]
enum CtlCommand {
    /// The whole device state (no private keys).
    State,
    /// Set the BIOS clock: "host", "unset" or an RFC 3339 time.
    Clock { time: String },
    /// Restart the firmware (listeners go down and come back).
    PowerCycle,
    /// Force a full unprovision.
    Unprovision,
    /// Replace the device with a brand-new one.
    FactoryReset,
    /// The machine behind the firmware: power button, plug, power state,
    /// what the host booted into, the event log, device time.
    Machine {
        #[command(subcommand)]
        command: MachineCommand,
    },
    /// MEBx actions.
    Mebx {
        #[command(subcommand)]
        command: MebxCommand,
    },
    /// The emulated network (the LAN and the settings the device holds).
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// Fault injection rules.
    Faults {
        #[command(subcommand)]
        command: FaultsCommand,
    },
    /// The call journal.
    Journal {
        /// Only entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Clear the journal instead of reading it.
        #[arg(long)]
        clear: bool,
    },
    /// User consent: state and policy, or (--code) the six-digit code the
    /// host's screen shows after StartOptIn.
    Consent {
        #[arg(long)]
        code: bool,
    },
}

#[derive(Subcommand, Debug)]
enum MebxCommand {
    /// Change the MEBx password.
    Password { password: String },
    /// Set the PID and PPS of a TLS-PSK setup (AMT 2 to 10).
    Psk { pid: String, pps: String },
    /// Start or stop provisioning.
    Provisioning {
        #[arg(value_parser = ["start", "stop"])]
        action: String,
    },
    /// Enable or disable network access.
    NetworkAccess {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Add a custom root-certificate hash.
    AddHash {
        /// The hash in hex.
        hash: String,
        description: String,
        #[arg(long, default_value = "sha256", value_parser = ["sha1", "sha256", "sha384"])]
        hash_type: String,
    },
    /// Set the PKI DNS suffix (no argument clears it).
    PkiDnsSuffix { suffix: Option<String> },
}

#[derive(Subcommand, Debug)]
enum MachineCommand {
    /// Power state, last boot, pending boot options, alarms, device time.
    Show,
    /// Press the power button (short: on, or ask the OS to shut down).
    PowerButton {
        /// Hold it for four seconds: forces a running host off.
        #[arg(long)]
        long: bool,
    },
    /// Pull the plug: the host loses power; the firmware restarts.
    PullPlug,
    /// The event log (AMT_MessageLog records), decoded.
    EventLog,
    /// Move the device clock forward; alarms due fire.
    AdvanceClock { seconds: i64 },
    /// The host's serial transcript (what SOL carries); with TEXT, type it
    /// at the serial console first (e.g. 'root\r').
    Serial { text: Option<String> },
}

#[derive(Subcommand, Debug)]
enum NetworkCommand {
    /// The LAN and every network setting the device holds.
    Show,
    /// Change the LAN only, as JSON, e.g. '{"dhcp_server":false,"wifi":true}'.
    Lan { lan: String },
    /// Replace the whole network, as JSON (the scenario's [device.network],
    /// with the LAN under "lan").
    Set { network: String },
}

#[derive(Subcommand, Debug)]
enum FaultsCommand {
    /// The rules in force.
    List,
    /// Add a rule, as JSON, e.g. '{"operation":"Get","kind":"delay","ms":500,"times":1}'.
    Add { rule: String },
    /// Remove one rule.
    Remove { id: u32 },
    /// Remove every rule.
    Clear,
}

#[derive(Args, Debug)]
pub struct HostArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: HostCommand,
}

#[derive(Subcommand, Debug)]
enum HostCommand {
    /// The device UUID.
    Uuid,
    /// Provisioning state and control mode.
    Provisioning,
    /// The local system account ($$OsAdmin) for local WS-Man.
    LocalAccount,
    /// The provisioning certificate hashes.
    Hashes,
    /// The DNS suffix provisioning checks.
    DnsSuffix,
    /// Start configuration (provisioning starts).
    StartConfiguration,
}

pub fn run_ctl(args: CtlArgs) -> Result<()> {
    let t = &args.target;
    let (method, path, body) = match args.command {
        CtlCommand::State => ("GET", "/api/device".to_string(), None),
        CtlCommand::Clock { time } => {
            let body = match time.as_str() {
                "host" | "unset" => json!({ "mode": time }),
                at => json!({ "mode": "set", "at": at }),
            };
            ("PUT", "/api/device/bios-clock".into(), Some(body))
        }
        CtlCommand::PowerCycle => ("POST", "/api/device/power-cycle".into(), None),
        CtlCommand::Unprovision => ("POST", "/api/device/unprovision".into(), None),
        CtlCommand::FactoryReset => ("POST", "/api/device/factory-reset".into(), None),
        CtlCommand::Mebx { command } => match command {
            MebxCommand::Password { password } => (
                "POST",
                "/api/mebx/password".into(),
                Some(json!({ "password": password })),
            ),
            MebxCommand::Psk { pid, pps } => (
                "POST",
                "/api/mebx/psk".into(),
                Some(json!({ "pid": pid, "pps": pps })),
            ),
            MebxCommand::Provisioning { action } => {
                ("POST", format!("/api/mebx/provisioning/{action}"), None)
            }
            MebxCommand::NetworkAccess { state } => (
                "PUT",
                "/api/mebx/network-access".into(),
                Some(json!({ "enabled": state == "on" })),
            ),
            MebxCommand::AddHash {
                hash,
                description,
                hash_type,
            } => (
                "POST",
                "/api/mebx/certificate-hashes".into(),
                Some(json!({ "hash": hash, "description": description, "hash_type": hash_type })),
            ),
            MebxCommand::PkiDnsSuffix { suffix } => (
                "PUT",
                "/api/mebx/pki-dns-suffix".into(),
                Some(json!({ "suffix": suffix })),
            ),
        },
        CtlCommand::Machine { command } => match command {
            MachineCommand::Show => ("GET", "/api/machine".into(), None),
            MachineCommand::PowerButton { long } => (
                "POST",
                "/api/machine/power-button".into(),
                Some(json!({ "long": long })),
            ),
            MachineCommand::PullPlug => ("POST", "/api/machine/pull-plug".into(), None),
            MachineCommand::EventLog => ("GET", "/api/machine/event-log".into(), None),
            MachineCommand::AdvanceClock { seconds } => (
                "POST",
                "/api/machine/advance-clock".into(),
                Some(json!({ "seconds": seconds })),
            ),
            MachineCommand::Serial { text: None } => ("GET", "/api/machine/serial".into(), None),
            MachineCommand::Serial { text: Some(text) } => (
                "POST",
                "/api/machine/serial".into(),
                Some(json!({ "text": text })),
            ),
        },
        CtlCommand::Network { command } => match command {
            NetworkCommand::Show => ("GET", "/api/network".into(), None),
            NetworkCommand::Lan { lan } => {
                let v: Value = serde_json::from_str(&lan).context("the LAN must be JSON")?;
                ("PUT", "/api/network/lan".into(), Some(v))
            }
            NetworkCommand::Set { network } => {
                let v: Value =
                    serde_json::from_str(&network).context("the network must be JSON")?;
                ("PUT", "/api/network".into(), Some(v))
            }
        },
        CtlCommand::Faults { command } => match command {
            FaultsCommand::List => ("GET", "/api/faults".into(), None),
            FaultsCommand::Add { rule } => {
                let v: Value = serde_json::from_str(&rule).context("the rule must be JSON")?;
                ("POST", "/api/faults".into(), Some(v))
            }
            FaultsCommand::Remove { id } => ("DELETE", format!("/api/faults/{id}"), None),
            FaultsCommand::Clear => ("DELETE", "/api/faults".into(), None),
        },
        CtlCommand::Journal { after, clear } => {
            if clear {
                ("DELETE", "/api/journal".into(), None)
            } else {
                ("GET", format!("/api/journal?after={after}"), None)
            }
        }
        CtlCommand::Consent { code } => {
            let path = if code {
                "/api/consent/code"
            } else {
                "/api/consent"
            };
            ("GET", path.into(), None)
        }
    };
    call(t, method, &path, body)
}

pub fn run_host(args: HostArgs) -> Result<()> {
    let path = match args.command {
        HostCommand::Uuid => "/api/host/uuid",
        HostCommand::Provisioning => "/api/host/provisioning",
        HostCommand::LocalAccount => "/api/host/local-system-account",
        HostCommand::Hashes => "/api/host/certificate-hashes",
        HostCommand::DnsSuffix => "/api/host/dns-suffix",
        HostCommand::StartConfiguration => {
            return call(&args.target, "POST", "/api/host/start-configuration", None);
        }
    };
    call(&args.target, "GET", path, None)
}

/// One request to the control API; prints the JSON answer and fails on an
/// error status.
fn call(target: &Target, method: &str, path: &str, body: Option<Value>) -> Result<()> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let authorization = target
        .token
        .as_deref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let target = target.control.as_str();
    let mut stream = TcpStream::connect(target)
        .with_context(|| format!("cannot reach the control API at {target}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {target}\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .context("malformed answer from the control API")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("malformed status line from the control API")?;
    let payload = dechunk(head, payload);
    match serde_json::from_str::<Value>(&payload) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) => println!("{payload}"),
    }
    if status >= 400 {
        bail!("the control API answered {status}");
    }
    Ok(())
}

/// The control API answers with a length, but be safe with chunked bodies.
fn dechunk(head: &str, payload: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return payload.to_string();
    }
    let mut out = String::new();
    let mut rest = payload;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
