//! The fleet provisioning benchmark (`amt-bench --fleet N --activation`,
//! docs/benchmarks.md): N new (unprovisioned) devices, each with its local
//! (LMS) face, and N concurrent flows of what RPS and rpc-go do to a new
//! machine:
//!
//! 1. CCM activation over the local face, as the local system account:
//!    `AMT_GeneralSettings` Get (the realm), `IPS_HostBasedSetupService`
//!    Get, `Setup(2, MD5(admin:realm:password))`;
//! 2. TLS configuration over the network, as `admin` (rpc-go's flow with a
//!    console-made key): `AddKey`, `AddCertificate` (the key's certificate
//!    from the console's CA), `AMT_TLSCredentialContext` Create (Put where
//!    the firmware already has one), `AMT_TLSSettingData` Put, the time
//!    sync, `CommitChanges`;
//! 3. one `AMT_GeneralSettings` Get over the new TLS face.
//!
//! Every flow starts at once; the figures are each flow's time, first
//! request to last reply, and the errors. One key and one certificate
//! serve every device (the console's side is not what is measured).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::face::{element, handle, returned_zero, Face, Wire};
use crate::histogram::{Histogram, LatencySummary};
use crate::GENERAL_SETTINGS_GET;

const HBS_GET: &str = include_str!("../requests/IPS_HostBasedSetupService.Get.xml");
const HBS_SETUP: &str = include_str!("../requests/IPS_HostBasedSetupService.Setup.xml");
const ADD_KEY: &str = include_str!("../requests/AMT_PublicKeyManagementService.AddKey.xml");
const ADD_CERTIFICATE: &str =
    include_str!("../requests/AMT_PublicKeyManagementService.AddCertificate.xml");
const TLS_CONTEXT_CREATE: &str = include_str!("../requests/AMT_TLSCredentialContext.Create.xml");
const TLS_SETTINGS_PUT: &str = include_str!("../requests/AMT_TLSSettingData.Put.xml");
const TIME_GET: &str =
    include_str!("../requests/AMT_TimeSynchronizationService.GetLowAccuracyTimeSynch.xml");
const TIME_SET: &str =
    include_str!("../requests/AMT_TimeSynchronizationService.SetHighAccuracyTimeSynch.xml");
const COMMIT: &str = include_str!("../requests/AMT_SetupAndConfigurationService.CommitChanges.xml");

/// What a provisioning run does.
#[derive(Debug, Clone)]
pub struct ActivationConfig {
    pub count: u32,
    pub first: std::net::Ipv4Addr,
    pub seed: Option<u64>,
    pub password: String,
    pub timeout: Duration,
}

#[derive(Debug, Serialize)]
pub struct ActivationReport {
    pub devices: u32,
    pub concurrent_flows: u32,
    /// Fleet started (ports bound), every device made.
    pub ready_s: f64,
    /// First flow started to last flow done.
    pub all_flows_s: f64,
    pub flows_per_s: f64,
    /// One flow, first request to last reply.
    pub flow_latency: LatencySummary,
    /// The activation part alone (local face).
    pub activation_latency: LatencySummary,
    pub requests_per_flow: u32,
    pub cpu_ms_per_flow: Option<f64>,
    pub errors: u64,
    pub error_examples: Vec<String>,
}

impl ActivationReport {
    pub fn passed(&self) -> bool {
        self.errors == 0
    }
}

/// The console's key (PKCS#8, and the PKCS#1 public half for the CA) and
/// its CA-signed certificate for `amt.example.test`.
struct ConsoleKey {
    pkcs8_b64: String,
    certificate_b64: String,
}

fn openssl(args: &[&str], input: &[u8]) -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("running openssl")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    let out = child.wait_with_output()?;
    anyhow::ensure!(out.status.success(), "openssl {args:?} failed");
    Ok(out.stdout)
}

fn console_key() -> anyhow::Result<ConsoleKey> {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let pkcs8 = openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
        ],
        b"",
    )?;
    let pkcs1_public = openssl(
        &[
            "rsa",
            "-inform",
            "DER",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ],
        &pkcs8,
    )?;
    let ca = amt_testkit::TestCa::new("amt-bench console CA");
    let cert = ca.sign_server_cert(
        &amt_testkit::DevicePublicKey::from_pkcs1(pkcs1_public),
        "amt.example.test",
    );
    Ok(ConsoleKey {
        pkcs8_b64: b64(&pkcs8),
        certificate_b64: b64(&cert),
    })
}

fn md5_hex(s: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

/// Requests a flow sends (the CredentialContext Put counts when used).
const REQUESTS_PER_FLOW: u32 = 11;

/// One device's flow; the time of its activation part.
async fn flow(
    local: &mut Face,
    remote: &mut Face,
    password: &str,
    key: &ConsoleKey,
) -> Result<Duration, String> {
    let started = Instant::now();
    let gs = local
        .call(GENERAL_SETTINGS_GET)
        .await
        .map_err(|e| format!("local GeneralSettings: {e}"))?;
    let realm = element(&gs, "DigestRealm").ok_or("no DigestRealm")?;
    let hbs = local
        .call(HBS_GET)
        .await
        .map_err(|e| format!("HBS Get: {e}"))?;
    if element(&hbs, "CurrentControlMode").as_deref() != Some("0") {
        return Err(format!("already activated: {hbs}"));
    }
    let hash = md5_hex(&format!("admin:{realm}:{password}"));
    let setup = local
        .call(&HBS_SETUP.replace("@DIGEST_HASH@", &hash))
        .await
        .map_err(|e| format!("Setup: {e}"))?;
    returned_zero(&setup, "Setup")?;
    let activated = started.elapsed();

    let r = remote
        .call(&ADD_KEY.replace("@KEY_BLOB@", &key.pkcs8_b64))
        .await
        .map_err(|e| format!("AddKey: {e}"))?;
    returned_zero(&r, "AddKey")?;
    let r = remote
        .call(&ADD_CERTIFICATE.replace("@CERTIFICATE_BLOB@", &key.certificate_b64))
        .await
        .map_err(|e| format!("AddCertificate: {e}"))?;
    returned_zero(&r, "AddCertificate")?;
    let cert = handle(&r).ok_or("AddCertificate: no handle")?;
    let create = TLS_CONTEXT_CREATE.replace("@HANDLE@", &cert.to_string());
    let (status, _) = remote
        .call_accepting(&create, &[400])
        .await
        .map_err(|e| format!("TLSCredentialContext Create: {e}"))?;
    if status == 400 {
        // The firmware ships a context (CSME 16.1): rpc-go puts it.
        let put = create.replace(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put",
        );
        remote
            .call(&put)
            .await
            .map_err(|e| format!("TLSCredentialContext Put: {e}"))?;
    }
    remote
        .call(TLS_SETTINGS_PUT)
        .await
        .map_err(|e| format!("TLSSettingData Put: {e}"))?;
    let t = remote
        .call(TIME_GET)
        .await
        .map_err(|e| format!("time Get: {e}"))?;
    let ta0 = element(&t, "Ta0").ok_or("no Ta0")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let set = TIME_SET
        .replace("111111111", &ta0)
        .replace("222222222", &now)
        .replace("333333333", &now);
    let r = remote
        .call(&set)
        .await
        .map_err(|e| format!("time Set: {e}"))?;
    returned_zero(&r, "SetHighAccuracyTimeSynch")?;
    let r = remote
        .call(COMMIT)
        .await
        .map_err(|e| format!("CommitChanges: {e}"))?;
    returned_zero(&r, "CommitChanges")?;
    remote
        .call(GENERAL_SETTINGS_GET)
        .await
        .map_err(|e| format!("GeneralSettings over the new TLS: {e}"))?;
    Ok(activated)
}

pub async fn run_activation(config: ActivationConfig) -> anyhow::Result<ActivationReport> {
    use amt_server::fleet::{Addressing, FleetConfig, GroupConfig};
    anyhow::ensure!(config.count > 0, "--fleet must be at least 1");
    anyhow::ensure!(
        config.first.is_loopback(),
        "--fleet-first must be a loopback address"
    );
    let key = Arc::new(console_key()?);
    let started = Instant::now();
    let fleet = amt_server::Fleet::start(
        FleetConfig {
            addressing: Addressing::Loopback,
            listen: std::net::IpAddr::V4(config.first),
            ports: amt_server::Ports::ephemeral(),
            lms: Some(amt_server::Ports::ephemeral()),
            seed: config.seed,
            groups: vec![GroupConfig::new("new", config.count)],
            // A thousand flows on two cores queue for the CPU: a connection
            // waiting its turn is not a slow client, so the device's
            // slow-client limits are raised to the bench's own exchange
            // bound (docs/benchmarks.md).
            limits: amt_server::ServerLimits {
                header_timeout: config.timeout,
                handshake_timeout: config.timeout,
                body_timeout: config.timeout,
                ..amt_server::ServerLimits::default()
            },
            ..FleetConfig::default()
        },
        |_, _| {},
    )
    .await
    .context("starting the fleet")?;
    let mut faces = Vec::new();
    let tls = Arc::new(crate::client::no_verify_client(rustls::DEFAULT_VERSIONS)?);
    for m in fleet.members() {
        let host = m
            .host()
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", m.id))?;
        let local = host
            .addrs_of(amt_server::Interface::Local)
            .http
            .context("a device without a local face")?;
        let remote = host
            .addrs_of(amt_server::Interface::Remote)
            .tls
            .context("a device without a TLS port")?;
        let (user, pass) = host.with_device(|d| {
            let (u, p) = d.local_system_account();
            (u.to_string(), p.to_string())
        });
        faces.push((
            Face::new(local, Wire::Plain, &user, &pass, config.timeout),
            Face::new(
                remote,
                Wire::Tls(tokio_rustls::TlsConnector::from(tls.clone())),
                "admin",
                &config.password,
                config.timeout,
            ),
        ));
    }
    let ready = started.elapsed();

    let cpu0 = crate::fleet::process_cpu();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (i, (mut local, mut remote)) in faces.into_iter().enumerate() {
        let (key, password) = (key.clone(), config.password.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = flow(&mut local, &mut remote, &password, &key).await;
            (i, r.map(|a| (t.elapsed(), a)))
        }));
    }
    let (mut flows, mut activation) = (Histogram::default(), Histogram::default());
    let (mut errors, mut error_examples) = (0u64, Vec::new());
    for t in tasks {
        match t.await {
            Ok((_, Ok((whole, activated)))) => {
                flows.record(whole);
                activation.record(activated);
            }
            Ok((i, Err(e))) => {
                errors += 1;
                if error_examples.len() < 10 {
                    error_examples.push(format!("device {i}: {e}"));
                }
            }
            Err(e) => {
                errors += 1;
                error_examples.push(format!("flow task: {e}"));
            }
        }
    }
    let all = t0.elapsed();
    let cpu1 = crate::fleet::process_cpu();
    fleet.shutdown().await;
    Ok(ActivationReport {
        devices: config.count,
        concurrent_flows: config.count,
        ready_s: ready.as_secs_f64(),
        all_flows_s: all.as_secs_f64(),
        flows_per_s: f64::from(config.count) / all.as_secs_f64().max(1e-9),
        flow_latency: flows.summary(),
        activation_latency: activation.summary(),
        requests_per_flow: REQUESTS_PER_FLOW,
        cpu_ms_per_flow: cpu0
            .zip(cpu1)
            .map(|(a, b)| (b - a).as_secs_f64() * 1000.0 / f64::from(config.count)),
        errors,
        error_examples,
    })
}

impl std::fmt::Display for ActivationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "amt-bench activation: {} devices, {} concurrent CCM activation + TLS configuration flows ({} requests each)",
            self.devices, self.concurrent_flows, self.requests_per_flow
        )?;
        writeln!(
            f,
            "  fleet ready (every device made): {:.2} s",
            self.ready_s
        )?;
        writeln!(
            f,
            "  all flows: {:.2} s, {:.1} flows/s, CPU {} per flow (devices and consoles)",
            self.all_flows_s,
            self.flows_per_s,
            self.cpu_ms_per_flow
                .map_or("n/a".into(), |v| format!("{v:.1} ms"))
        )?;
        writeln!(
            f,
            "  flow: p50 {:.1} ms, p99 {:.1} ms; activation part: p50 {:.1} ms, p99 {:.1} ms",
            self.flow_latency.p50_ms,
            self.flow_latency.p99_ms,
            self.activation_latency.p50_ms,
            self.activation_latency.p99_ms
        )?;
        write!(f, "  errors: {}", self.errors)?;
        for e in &self.error_examples {
            write!(f, "\n    {e}")?;
        }
        Ok(())
    }
}
