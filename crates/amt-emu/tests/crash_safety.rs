//! Crash safety of the real binary: `amt-emu serve` is driven with
//! state-changing calls and killed with SIGKILL at a random moment, then
//! restarted, again and again. After every kill:
//!
//! (a) the state file loads: `amt-emu state show` succeeds and the server
//!     starts again;
//! (b) no acknowledged change is lost: the stored state is the one after
//!     the last acknowledged call, or after the call in flight at the kill;
//! (c) the certificate served on 16993+N (and on the LMS TLS port when the
//!     local interface has TLS on) is the stored state's active TLS
//!     certificate, and the CA-signed one when a committed credential
//!     context names it.
//!
//! The device starts fresh (pre-provisioning; no `--admin-password`, which
//! would provision it again at every start) with the local interface open
//! (`--lms-listen 127.0.0.2`, same offset). Calls are a random mix of:
//!
//! - control API: `PUT /api/mebx/pki-dns-suffix` with a counter,
//!   `POST /api/mebx/certificate-hashes` (at most 3 custom hashes), else
//!   `POST /api/device/unprovision`, `PUT /api/device/bios-clock`, and now
//!   and then `POST /api/device/factory-reset` (a whole new device);
//! - WS-Man, every request built by Intel's wsman-messages
//!   (`tests/clients/wsman-request.js`, once per run, as templates) and
//!   posted with `curl --digest`: host-based `Setup` as `$$OsAdmin` on the
//!   LMS face, then as `admin` over TLS `GenerateKeyPair`, `AddCertificate`
//!   (signed by a test CA for that key), `AMT_TLSCredentialContext` Create
//!   (refused: AlreadyExists) and Put, `AMT_TLSSettingData` Put of the LMS
//!   instance (Enabled on/off, non-TLS kept open), `CommitChanges`,
//!   `SetAdminAclEntryEx` (switching between two passwords) and
//!   `Unprovision(1)`, which brings the device back to pre-provisioning so
//!   the cycle repeats.
//!
//! What "acknowledged" means for each call, and what must hold after a
//! restart, is on [`Op::send`] and [`Op::apply`]; kills are timed, or aimed at
//! a flash write in progress or just renamed ([`Kill`]).
//!
//! `crash_safety_20_kills` runs in the normal suite; the long run is
//! `just crash-safety [KILLS]` (the ignored `crash_safety_long`, kill count
//! from `CRASH_SAFETY_KILLS`, default 200).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use amt_testkit::{DevicePublicKey, TestCa};
use base64::Engine;
use serde_json::Value;

/// The two admin passwords: Setup sets the first, `SetAdminAclEntryEx`
/// switches between them.
const PASSWORDS: [&str; 2] = ["P@ssw0rd", "Pa55-w0rd!"];
const LOCAL_TLS: &str = "Intel(r) AMT LMS TLS Settings";
const CERT_ID: &str = "Intel(r) AMT Certificate: Handle: ";
const KEY_ID: &str = "Intel(r) AMT Key: Handle: ";
/// How long any client subprocess may run (curl bounds itself at 20 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Kills the server even when the test fails.
struct Server(Arc<Mutex<Child>>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_amt-emu")
}

/// A port offset whose control, TLS and LMS ports are all free now.
fn free_offset() -> u16 {
    let mut seed = std::process::id() as u64 ^ now_nanos();
    for _ in 0..200 {
        seed = splitmix(seed);
        // Below the kernel's ephemeral range (32768+), clear of the other
        // binary tests (offsets 9000-10700).
        let offset = 11_000 + (seed % 4_700) as u16;
        let free = [
            ("127.0.0.1", 16990u16),
            ("127.0.0.1", 16992),
            ("127.0.0.1", 16993),
            ("127.0.0.2", 16992),
            ("127.0.0.2", 16993),
        ]
        .iter()
        .all(|(ip, p)| TcpListener::bind((*ip, p + offset)).is_ok());
        if free {
            return offset;
        }
    }
    panic!("no free port offset found");
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn start(dir: &Path, offset: u16) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .expect("log file");
    let child = Command::new(bin())
        .args(["serve", "--state-dir"])
        .arg(dir.join("state"))
        .args(["--port-offset", &offset.to_string()])
        .args(["--lms-listen", "127.0.0.2"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("amt-emu starts");
    Server(Arc::new(Mutex::new(child)))
}

/// Waits until the control API answers; false if the process exited or
/// did not come up in time.
fn wait_ready(server: &Server, offset: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.0.lock().unwrap().try_wait() {
            return false;
        }
        if let Ok((200, _)) = http(offset, "GET", "/api/device", None) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One HTTP/1.1 exchange with the control API (Connection: close).
fn http(
    offset: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", 16990 + offset))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let status = reply
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {reply:?}")))?;
    Ok((status, reply))
}

fn state_show(dir: &Path) -> Result<Value, String> {
    let mut cmd = Command::new(bin());
    cmd.args(["state", "show", "--state-dir"])
        .arg(dir.join("state"));
    let out = support::run(cmd, CLIENT_TIMEOUT);
    if !out.success {
        return Err(out.stderr);
    }
    serde_json::from_str(&out.stdout).map_err(|e| e.to_string())
}

// ---- WS-Man: requests built once by wsman-messages, posted with curl. ----

/// `(name, namespace, class, method, args)`; `@…@` marks what each call
/// fills in.
const TEMPLATES: [(&str, &str, &str, &str, &str); 14] = [
    ("general_settings", "AMT", "GeneralSettings", "Get", ""),
    (
        "setup",
        "IPS",
        "HostBasedSetupService",
        "Setup",
        r#"[2,"@HA1@"]"#,
    ),
    (
        "generate_key_pair",
        "AMT",
        "PublicKeyManagementService",
        "GenerateKeyPair",
        r#"[{"KeyAlgorithm":0,"KeyLength":2048}]"#,
    ),
    (
        "key_enumerate",
        "AMT",
        "PublicPrivateKeyPair",
        "Enumerate",
        "",
    ),
    (
        "key_pull",
        "AMT",
        "PublicPrivateKeyPair",
        "Pull",
        r#"["@CTX@"]"#,
    ),
    (
        "cert_enumerate",
        "AMT",
        "PublicKeyCertificate",
        "Enumerate",
        "",
    ),
    (
        "cert_pull",
        "AMT",
        "PublicKeyCertificate",
        "Pull",
        r#"["@CTX@"]"#,
    ),
    (
        "add_certificate",
        "AMT",
        "PublicKeyManagementService",
        "AddCertificate",
        r#"[{"CertificateBlob":"@BLOB@"}]"#,
    ),
    (
        "context_create",
        "AMT",
        "TLSCredentialContext",
        "Create",
        r#"["Intel(r) AMT Certificate: Handle: @HANDLE@"]"#,
    ),
    (
        "local_tls_on",
        "AMT",
        "TLSSettingData",
        "Put",
        r#"[{"AcceptNonSecureConnections":true,"ElementName":"Intel(r) AMT LMS TLS Settings","Enabled":true,"InstanceID":"Intel(r) AMT LMS TLS Settings","MutualAuthentication":false}]"#,
    ),
    (
        "local_tls_off",
        "AMT",
        "TLSSettingData",
        "Put",
        r#"[{"AcceptNonSecureConnections":true,"ElementName":"Intel(r) AMT LMS TLS Settings","Enabled":false,"InstanceID":"Intel(r) AMT LMS TLS Settings","MutualAuthentication":false}]"#,
    ),
    (
        "commit",
        "AMT",
        "SetupAndConfigurationService",
        "CommitChanges",
        "",
    ),
    (
        "set_admin_acl",
        "AMT",
        "AuthorizationService",
        "SetAdminACLEntryEx",
        r#"["admin","@DIGEST@"]"#,
    ),
    (
        "unprovision",
        "AMT",
        "SetupAndConfigurationService",
        "Unprovision",
        "[1]",
    ),
];

/// The requests of [`TEMPLATES`], built once per test process (node in
/// parallel threads).
fn templates() -> &'static HashMap<&'static str, String> {
    static T: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    T.get_or_init(|| {
        let dir = support::clients_dir();
        assert!(
            dir.join("node_modules/@device-management-toolkit/wsman-messages")
                .exists(),
            "wsman-messages is not installed: run .ci/install-clients"
        );
        std::thread::scope(|s| {
            let handles: Vec<_> = TEMPLATES
                .iter()
                .map(|&(name, ns, class, method, args)| {
                    let args = (!args.is_empty()).then_some(args);
                    s.spawn(move || (name, support::wsman_messages(ns, class, method, args)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("wsman-request.js"))
                .collect()
        })
    })
}

fn request(name: &str) -> String {
    templates()[name].clone()
}

/// Who calls, where.
struct Caller {
    url: String,
    user: String,
    password: String,
}

/// Posts `xml` with `curl --digest` (-k: the harness checks certificates
/// itself). `Err` when curl saw no complete reply: the server died, or was
/// not there.
fn wsman(dir: &Path, caller: &Caller, xml: &str) -> Result<(u16, String), String> {
    let file = dir.join("request.xml");
    std::fs::write(&file, xml).expect("write request");
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-k",
        "--max-time",
        "20",
        "--connect-timeout",
        "5",
        "--digest",
        "-u",
    ])
    .arg(format!("{}:{}", caller.user, caller.password))
    .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
    .arg("--data-binary")
    .arg(format!("@{}", file.display()))
    .args(["-w", "\n%{http_code}"])
    .arg(&caller.url);
    let out = support::run(cmd, CLIENT_TIMEOUT);
    let (body, code) = out.stdout.rsplit_once('\n').unwrap_or(("", &out.stdout));
    match code.trim().parse::<u16>() {
        Ok(status) if out.success && status != 0 => Ok((status, body.to_string())),
        _ => Err(format!("curl: {} {}", out.stderr.trim(), code.trim())),
    }
}

/// The text of the first `<p:name>` element, whatever the prefix.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!(":{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find('<')? + start;
    Some(xml[start..end].to_string())
}

fn return_value(body: &str) -> Option<u32> {
    element(body, "ReturnValue")?.parse().ok()
}

/// The N of the first `Handle: N` in a reply.
fn handle_in(body: &str) -> Option<u64> {
    let start = body.find("Handle: ")? + 8;
    let end = body[start..].find('<')? + start;
    body[start..end].parse().ok()
}

fn md5(text: &str) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// What the driver needs besides the model: where the device is, the
/// console's CA, a scratch directory.
struct Console {
    offset: u16,
    dir: PathBuf,
    ca: TestCa,
}

impl Console {
    fn admin(&self, password: usize) -> Caller {
        Caller {
            url: format!("https://127.0.0.1:{}/wsman", 16993 + self.offset),
            user: "admin".into(),
            password: PASSWORDS[password].into(),
        }
    }

    /// `$$OsAdmin` on the LMS face (plain HTTP stays open: the harness
    /// never turns AcceptNonSecureConnections off there), with the password
    /// the host reads over HECI (`GET /api/host/local-system-account`).
    fn local_system(&self) -> Result<Caller, String> {
        let (status, reply) = http(self.offset, "GET", "/api/host/local-system-account", None)
            .map_err(|e| e.to_string())?;
        let json = reply
            .find('{')
            .and_then(|s| reply.rfind('}').map(|e| &reply[s..=e]))
            .ok_or_else(|| format!("{status}: {reply}"))?;
        let account: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Ok(Caller {
            url: format!("http://127.0.0.2:{}/wsman", 16992 + self.offset),
            user: account["username"].as_str().unwrap_or_default().into(),
            password: account["password"].as_str().unwrap_or_default().into(),
        })
    }

    fn post(&self, caller: &Caller, xml: &str) -> Result<(u16, String), String> {
        wsman(&self.dir, caller, xml)
    }

    /// DigestRealm from `AMT_GeneralSettings`, the step before every HA1.
    fn realm(&self, caller: &Caller) -> Result<String, Sent> {
        let (status, body) = self
            .post(caller, &request("general_settings"))
            .map_err(|_| Sent::Lost)?;
        match (status, element(&body, "DigestRealm")) {
            (200, Some(realm)) => Ok(realm),
            _ => Err(Sent::Refused(format!(
                "Get AMT_GeneralSettings: {status} {body}"
            ))),
        }
    }

    /// The items of an Enumerate + Pull (`kind` "key" or "cert"), as RPS
    /// reads the store.
    fn pull(&self, caller: &Caller, kind: &str) -> Result<Vec<String>, Sent> {
        let (status, body) = self
            .post(caller, &request(&format!("{kind}_enumerate")))
            .map_err(|_| Sent::Lost)?;
        let ctx = element(&body, "EnumerationContext")
            .filter(|_| status == 200)
            .ok_or_else(|| Sent::Refused(format!("Enumerate {kind}: {status} {body}")))?;
        let pull = request(&format!("{kind}_pull")).replace("@CTX@", &ctx);
        let (status, body) = self.post(caller, &pull).map_err(|_| Sent::Lost)?;
        if status != 200 {
            return Err(Sent::Refused(format!("Pull {kind}: {status} {body}")));
        }
        let class = if kind == "key" {
            "<h:AMT_PublicPrivateKeyPair>"
        } else {
            "<h:AMT_PublicKeyCertificate>"
        };
        Ok(body.split(class).skip(1).map(str::to_string).collect())
    }

    /// `DERKey` (PKCS#1) of key `handle`.
    fn der_key(&self, caller: &Caller, handle: u64) -> Result<Vec<u8>, Sent> {
        let id = format!("{KEY_ID}{handle}<");
        self.pull(caller, "key")?
            .iter()
            .find(|item| item.contains(&id))
            .and_then(|item| element(item, "DERKey"))
            .and_then(|k| unb64(&k))
            .ok_or_else(|| Sent::Refused(format!("no DERKey for key {handle}")))
    }

    /// The handle of the read-only (self-signed) certificate.
    fn self_signed_handle(&self, caller: &Caller) -> Result<u64, Sent> {
        self.pull(caller, "cert")?
            .iter()
            .find(|item| element(item, "ReadOnlyCertificate").as_deref() == Some("true"))
            .and_then(|item| handle_in(item))
            .ok_or_else(|| Sent::Refused("no read-only certificate in the store".into()))
    }

    /// Which password logs `admin` in now (a Get of AMT_GeneralSettings),
    /// trying `first` first.
    fn probe_admin(&self, first: usize) -> Option<usize> {
        [first, 1 - first].into_iter().find(|&i| {
            matches!(
                self.post(&self.admin(i), &request("general_settings")),
                Ok((200, _))
            )
        })
    }
}

// ---- The model: what the test checks of the stored state. ----

/// A certificate a credential context (or the active TLS) names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cert {
    /// The read-only self-signed one (its handle changes with every
    /// provisioning start and unprovision).
    SelfSigned,
    /// A CA-signed one the harness added.
    Ca(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct CaCert {
    handle: u64,
    key: u64,
    /// The DER in base64, as `state show` has it between the PEM lines.
    pem: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    pki_dns_suffix: Option<String>,
    /// Descriptions of the custom certificate hashes, in order.
    custom_hashes: Vec<String>,
    provisioning_state: u64,
    control_mode: u64,
    admin_password_set: bool,
    /// Which of [`PASSWORDS`] logs `admin` in (probed after a restart).
    admin_password: Option<usize>,
    read_only_certificates: usize,
    /// Keys other than the self-signed certificate's, by handle.
    keys: Vec<u64>,
    /// Certificates other than the read-only one, by handle.
    certs: Vec<CaCert>,
    staged_context: Option<Cert>,
    active_context: Option<Cert>,
    active_certificate: Option<Cert>,
    staged_local_tls: bool,
    active_local_tls: bool,
}

impl Model {
    /// A new device: pre-provisioning, TLS on the self-signed certificate.
    fn factory() -> Model {
        Model {
            pki_dns_suffix: None,
            custom_hashes: Vec::new(),
            provisioning_state: 0,
            control_mode: 0,
            admin_password_set: false,
            admin_password: None,
            read_only_certificates: 1,
            keys: Vec::new(),
            certs: Vec::new(),
            staged_context: Some(Cert::SelfSigned),
            active_context: Some(Cert::SelfSigned),
            active_certificate: Some(Cert::SelfSigned),
            staged_local_tls: false,
            active_local_tls: false,
        }
    }

    /// After an unprovision: back to factory, MEBx's PKI DNS suffix kept.
    fn unprovisioned(&self) -> Model {
        Model {
            pki_dns_suffix: self.pki_dns_suffix.clone(),
            ..Model::factory()
        }
    }

    fn of(state: &Value, admin_password: Option<usize>) -> Model {
        let certs: Vec<&Value> = state["certificates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["trusted_root"] != Value::Bool(true))
            .collect();
        let read_only: Vec<&Value> = certs
            .iter()
            .copied()
            .filter(|c| c["read_only"] == Value::Bool(true))
            .collect();
        let ro_handle = |h: u64| read_only.iter().any(|c| c["handle"].as_u64() == Some(h));
        let cert = |v: &Value| {
            v.as_u64().map(|h| {
                if ro_handle(h) {
                    Cert::SelfSigned
                } else {
                    Cert::Ca(h)
                }
            })
        };
        let mut keys: Vec<u64> = state["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["handle"].as_u64())
            .filter(|h| {
                !read_only
                    .iter()
                    .any(|c| c["key_handle"].as_u64() == Some(*h))
            })
            .collect();
        keys.sort_unstable();
        let mut ca: Vec<CaCert> = certs
            .iter()
            .filter(|c| c["read_only"] != Value::Bool(true))
            .map(|c| CaCert {
                handle: c["handle"].as_u64().unwrap_or(u64::MAX),
                key: c["key_handle"].as_u64().unwrap_or(u64::MAX),
                pem: c["pem"].as_str().and_then(pem_body).unwrap_or_default(),
            })
            .collect();
        ca.sort_by_key(|c| c.handle);
        let local = |v: &Value| v["local"]["enabled"] == Value::Bool(true);
        Model {
            pki_dns_suffix: state["pki_dns_suffix"].as_str().map(str::to_string),
            custom_hashes: state["provisioning_hashes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|h| h["is_default"] == Value::Bool(false))
                .filter_map(|h| h["description"].as_str().map(str::to_string))
                .collect(),
            provisioning_state: state["provisioning_state_value"].as_u64().unwrap_or(99),
            control_mode: state["control_mode_value"].as_u64().unwrap_or(99),
            admin_password_set: state["admin_password_set"] == Value::Bool(true),
            admin_password,
            read_only_certificates: read_only.len(),
            keys,
            certs: ca,
            staged_context: cert(&state["tls_credential_context"]),
            active_context: cert(&state["active_tls"]["credential_context"]),
            active_certificate: cert(&state["active_tls_certificate"]),
            staged_local_tls: local(&state["tls_settings"]),
            active_local_tls: local(&state["active_tls"]["settings"]),
        }
    }

    fn tls_pending(&self) -> bool {
        self.staged_context != self.active_context || self.staged_local_tls != self.active_local_tls
    }

    /// Keys the harness generated that no certificate uses yet.
    fn key_without_certificate(&self) -> Option<u64> {
        self.keys
            .iter()
            .copied()
            .find(|k| !self.certs.iter().any(|c| c.key == *k))
    }
}

#[derive(Clone, Debug)]
enum Op {
    // Control API.
    Suffix(u64),
    AddHash(u64),
    ControlUnprovision,
    BiosClock(u64),
    FactoryReset,
    // WS-Man.
    Setup,
    GenerateKeyPair,
    /// A certificate for this key; `pem` once it is signed.
    AddCertificate {
        key: u64,
        pem: Option<String>,
    },
    /// RPS's Create of a credential context: refused, one exists.
    CreateContext(u64),
    /// Put of the credential context naming this certificate.
    PutContext(Cert),
    PutLocalTls(bool),
    Commit,
    SetAdminAcl(usize),
    Unprovision,
}

/// What a call came back with.
enum Sent {
    /// Acknowledged, with the handle it created (if any).
    Ack(Option<u64>),
    /// Answered, but not as expected.
    Refused(String),
    /// No complete reply: the server died (the call is "in flight").
    Lost,
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Suffix(_) => "control: pki-dns-suffix",
            Op::AddHash(_) => "control: certificate-hashes",
            Op::ControlUnprovision => "control: unprovision",
            Op::BiosClock(_) => "control: bios-clock",
            Op::FactoryReset => "control: factory-reset",
            Op::Setup => "wsman: Setup",
            Op::GenerateKeyPair => "wsman: GenerateKeyPair",
            Op::AddCertificate { .. } => "wsman: AddCertificate",
            Op::CreateContext(_) => "wsman: TLSCredentialContext Create (AlreadyExists)",
            Op::PutContext(_) => "wsman: TLSCredentialContext Put",
            Op::PutLocalTls(_) => "wsman: TLSSettingData Put",
            Op::Commit => "wsman: CommitChanges",
            Op::SetAdminAcl(_) => "wsman: SetAdminAclEntryEx",
            Op::Unprovision => "wsman: Unprovision",
        }
    }

    /// The stored state after this call was acknowledged, `created` being
    /// the handle its reply named. What must then hold after a restart:
    ///
    /// - Setup: provisioning state 2, control mode 1 (client), an admin
    ///   password that is `PASSWORDS[0]` (admin logs in with it), staged
    ///   and active credential context on the (new) self-signed cert;
    /// - GenerateKeyPair: key `created` exists;
    /// - AddCertificate: certificate `created` exists, is not read-only,
    ///   belongs to the key it was signed for and is the DER that was sent;
    /// - TLSCredentialContext Put: the staged context names that
    ///   certificate (the active one does not change);
    /// - TLSSettingData Put: the staged LMS `Enabled` is the value put;
    /// - CommitChanges: the active context and LMS `Enabled` are the staged
    ///   ones, `active_tls_certificate` is the context's certificate (and
    ///   check (c) then wants the CA-signed certificate served);
    /// - SetAdminAclEntryEx: admin logs in with the new password only;
    /// - Unprovision (WS-Man or control API): factory state (state 0, mode
    ///   0, no admin password, no keys or certificates but a new
    ///   self-signed one, factory TLS, no custom hashes), PKI DNS suffix
    ///   kept;
    /// - a refused Create: nothing changes.
    fn apply(&self, m: &Model, created: Option<u64>) -> Model {
        let mut m = m.clone();
        match self {
            Op::Suffix(n) => m.pki_dns_suffix = Some(format!("m{n}.example.com")),
            Op::AddHash(n) => m.custom_hashes.push(format!("h{n}")),
            Op::ControlUnprovision | Op::Unprovision => m = m.unprovisioned(),
            Op::BiosClock(_) | Op::CreateContext(_) => {}
            Op::FactoryReset => m = Model::factory(),
            Op::Setup => {
                m.provisioning_state = 2;
                m.control_mode = 1;
                m.admin_password_set = true;
                m.admin_password = Some(0);
            }
            Op::GenerateKeyPair => {
                m.keys.extend(created);
                m.keys.sort_unstable();
            }
            Op::AddCertificate { key, pem } => {
                if let Some(handle) = created {
                    m.certs.push(CaCert {
                        handle,
                        key: *key,
                        pem: pem.clone().unwrap_or_default(),
                    });
                    m.certs.sort_by_key(|c| c.handle);
                }
            }
            Op::PutContext(cert) => m.staged_context = Some(cert.clone()),
            Op::PutLocalTls(on) => m.staged_local_tls = *on,
            Op::Commit => {
                m.active_context = m.staged_context.clone();
                m.active_certificate = m.staged_context.clone();
                m.active_local_tls = m.staged_local_tls;
            }
            Op::SetAdminAcl(i) => m.admin_password = Some(*i),
        }
        m
    }

    /// Whether `stored` is the state after this call, which was in flight
    /// at the kill (its reply, and so any handle it made, unseen).
    fn applied_in_flight(&self, before: &Model, stored: &Model) -> bool {
        match self {
            Op::GenerateKeyPair => {
                let new: Vec<u64> = stored
                    .keys
                    .iter()
                    .copied()
                    .filter(|k| !before.keys.contains(k))
                    .collect();
                new.len() == 1 && self.apply(before, Some(new[0])) == *stored
            }
            Op::AddCertificate { key, pem } => {
                let new: Vec<&CaCert> = stored
                    .certs
                    .iter()
                    .filter(|c| !before.certs.contains(c))
                    .collect();
                new.len() == 1
                    && new[0].key == *key
                    && pem.as_ref() == Some(&new[0].pem)
                    && self.apply(before, Some(new[0].handle)) == *stored
            }
            _ => self.apply(before, None) == *stored,
        }
    }

    /// Sends the call. "Acknowledged" is, per call:
    ///
    /// - control API: HTTP 200;
    /// - Setup, GenerateKeyPair, AddCertificate, CommitChanges,
    ///   SetAdminAclEntryEx, Unprovision: HTTP 200 and `ReturnValue` 0
    ///   (and for GenerateKeyPair / AddCertificate the new handle in the
    ///   reply's EPR);
    /// - TLSCredentialContext Put: HTTP 200 naming the certificate;
    /// - TLSSettingData Put: HTTP 200 with the `Enabled` put;
    /// - TLSCredentialContext Create: the fault expected, HTTP 400
    ///   `e:AlreadyExists`.
    ///
    /// The reads a console makes before a call (realm, local account, key
    /// pull) are part of it: if the server dies during them, the call is
    /// in flight too (and nothing was sent).
    fn send(&mut self, c: &Console, model: &Model) -> Sent {
        let control = |r: std::io::Result<(u16, String)>| match r {
            Ok((200, _)) => Sent::Ack(None),
            Ok((status, reply)) => Sent::Refused(format!("{status}: {reply}")),
            Err(_) => Sent::Lost,
        };
        let admin = || c.admin(model.admin_password.unwrap_or(0));
        // 200 and ReturnValue 0.
        let method = |r: Result<(u16, String), String>| match r {
            Ok((200, body)) if return_value(&body) == Some(0) => Sent::Ack(handle_in(&body)),
            Ok((status, body)) => Sent::Refused(format!("{status}: {body}")),
            Err(_) => Sent::Lost,
        };
        match self {
            Op::Suffix(n) => control(http(
                c.offset,
                "PUT",
                "/api/mebx/pki-dns-suffix",
                Some(&format!(r#"{{"suffix":"m{n}.example.com"}}"#)),
            )),
            Op::AddHash(n) => {
                let mut h = *n;
                let hash: String = (0..4)
                    .map(|_| {
                        h = splitmix(h);
                        format!("{h:016x}")
                    })
                    .collect();
                control(http(
                    c.offset,
                    "POST",
                    "/api/mebx/certificate-hashes",
                    Some(&format!(
                        r#"{{"hash_type":"sha256","hash":"{hash}","description":"h{n}"}}"#
                    )),
                ))
            }
            Op::ControlUnprovision => {
                control(http(c.offset, "POST", "/api/device/unprovision", None))
            }
            Op::BiosClock(n) => control(http(
                c.offset,
                "PUT",
                "/api/device/bios-clock",
                Some(&format!(
                    r#"{{"mode":"set","at":"2025-01-01T00:{:02}:{:02}Z"}}"#,
                    *n / 60 % 60,
                    *n % 60
                )),
            )),
            Op::FactoryReset => control(http(c.offset, "POST", "/api/device/factory-reset", None)),
            Op::Setup => {
                let local = match c.local_system() {
                    Ok(l) => l,
                    Err(_) => return Sent::Lost,
                };
                let realm = match c.realm(&local) {
                    Ok(r) => r,
                    Err(s) => return s,
                };
                let ha1 = hex(&md5(&format!("admin:{realm}:{}", PASSWORDS[0])));
                method(c.post(&local, &request("setup").replace("@HA1@", &ha1)))
            }
            Op::GenerateKeyPair => match method(c.post(&admin(), &request("generate_key_pair"))) {
                Sent::Ack(None) => Sent::Refused("GenerateKeyPair named no key".into()),
                s => s,
            },
            Op::AddCertificate { key, pem } => {
                let caller = admin();
                let der_key = match c.der_key(&caller, *key) {
                    Ok(k) => k,
                    Err(s) => return s,
                };
                let der = c
                    .ca
                    .sign_server_cert(&DevicePublicKey::from_pkcs1(der_key), "amt.example.test");
                *pem = Some(b64(&der));
                let xml = request("add_certificate").replace("@BLOB@", &b64(&der));
                match method(c.post(&caller, &xml)) {
                    Sent::Ack(None) => Sent::Refused("AddCertificate named no certificate".into()),
                    s => s,
                }
            }
            Op::CreateContext(handle) => {
                let xml = request("context_create").replace("@HANDLE@", &handle.to_string());
                match c.post(&admin(), &xml) {
                    Ok((400, body)) if body.contains("e:AlreadyExists") => Sent::Ack(None),
                    Ok((status, body)) => Sent::Refused(format!("{status}: {body}")),
                    Err(_) => Sent::Lost,
                }
            }
            Op::PutContext(cert) => {
                let handle = match cert {
                    Cert::Ca(h) => *h,
                    Cert::SelfSigned => match c.self_signed_handle(&admin()) {
                        Ok(h) => h,
                        Err(s) => return s,
                    },
                };
                // rpc-go's Put: the Create body under the Put action.
                let xml = request("context_create")
                    .replace("@HANDLE@", &handle.to_string())
                    .replace(
                        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
                        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put",
                    );
                match c.post(&admin(), &xml) {
                    Ok((200, body)) if body.contains(&format!("{CERT_ID}{handle}<")) => {
                        Sent::Ack(None)
                    }
                    Ok((status, body)) => Sent::Refused(format!("{status}: {body}")),
                    Err(_) => Sent::Lost,
                }
            }
            Op::PutLocalTls(on) => {
                let name = if *on { "local_tls_on" } else { "local_tls_off" };
                match c.post(&admin(), &request(name)) {
                    Ok((200, body))
                        if body.contains(LOCAL_TLS)
                            && body.contains(&format!("<g:Enabled>{on}</g:Enabled>")) =>
                    {
                        Sent::Ack(None)
                    }
                    Ok((status, body)) => Sent::Refused(format!("{status}: {body}")),
                    Err(_) => Sent::Lost,
                }
            }
            Op::Commit => match method(c.post(&admin(), &request("commit"))) {
                Sent::Ack(_) => Sent::Ack(None),
                s => s,
            },
            Op::SetAdminAcl(i) => {
                let caller = admin();
                let realm = match c.realm(&caller) {
                    Ok(r) => r,
                    Err(s) => return s,
                };
                let digest = b64(&md5(&format!("admin:{realm}:{}", PASSWORDS[*i])));
                let xml = request("set_admin_acl").replace("@DIGEST@", &digest);
                match method(c.post(&caller, &xml)) {
                    Sent::Ack(_) => Sent::Ack(None),
                    s => s,
                }
            }
            Op::Unprovision => match method(c.post(&admin(), &request("unprovision"))) {
                Sent::Ack(_) => Sent::Ack(None),
                s => s,
            },
        }
    }
}

fn next_op(rng: &mut u64, counter: u64, model: &Model) -> Op {
    *rng = splitmix(*rng);
    let r = *rng;
    let (a, b, d) = (r % 100, (r >> 8) % 100, (r >> 16) % 100);
    if a < 35 {
        return match b {
            0..=54 => Op::Suffix(counter),
            55..=79 if model.custom_hashes.len() < 3 => Op::AddHash(counter),
            55..=79 => Op::ControlUnprovision,
            80..=96 => Op::BiosClock(counter),
            _ => Op::FactoryReset,
        };
    }
    if model.provisioning_state != 2 {
        return Op::Setup;
    }
    match b {
        0..=5 => return Op::Unprovision,
        6..=11 => return Op::SetAdminAcl(1 - model.admin_password.unwrap_or(0)),
        12..=16 if !model.certs.is_empty() => {
            return Op::CreateContext(model.certs[d as usize % model.certs.len()].handle)
        }
        _ => {}
    }
    if let Some(key) = model.key_without_certificate() {
        return Op::AddCertificate { key, pem: None };
    }
    if model.certs.is_empty() || (d < 10 && model.certs.len() < 3) {
        return Op::GenerateKeyPair;
    }
    match d {
        0..=39 => {
            let newest = Cert::Ca(model.certs[model.certs.len() - 1].handle);
            let target = match &model.staged_context {
                Some(Cert::Ca(_)) if d < 20 => Cert::SelfSigned,
                Some(Cert::Ca(h)) if model.certs.len() > 1 => {
                    let other = model.certs.iter().find(|c| c.handle != *h);
                    Cert::Ca(other.map(|c| c.handle).unwrap_or(*h))
                }
                _ => newest,
            };
            Op::PutContext(target)
        }
        40..=64 => Op::PutLocalTls(!model.staged_local_tls),
        _ if model.tls_pending() || d > 95 => Op::Commit,
        _ => Op::PutLocalTls(!model.staged_local_tls),
    }
}

/// When the killer sends SIGKILL, `delay` ms after the round starts:
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kill {
    /// Right then.
    Timed,
    /// Then, as soon as a temporary image exists (a write in progress,
    /// before the rename).
    DuringWrite,
    /// Then, as soon as `flash.img` is a new file (renamed, the reply not
    /// yet sent or just sent).
    AfterRename,
}

/// `.flash.img.tmp*` files in the state directory.
fn temp_files(state: &Path) -> usize {
    std::fs::read_dir(state)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".flash.img.tmp")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Sends SIGKILL to `child` per `mode`; a targeted mode waits at most 2 s
/// for its moment. Returns whether it saw it (always true for Timed).
fn killer(
    child: Arc<Mutex<Child>>,
    state: PathBuf,
    mode: Kill,
    delay_ms: u64,
) -> std::thread::JoinHandle<bool> {
    use std::os::unix::fs::MetadataExt;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(delay_ms));
        let image = state.join("flash.img");
        let inode = || std::fs::metadata(&image).map(|m| m.ino()).ok();
        let armed = inode();
        let deadline = Instant::now() + Duration::from_secs(2);
        let hit = loop {
            let now = match mode {
                Kill::Timed => true,
                Kill::DuringWrite => temp_files(&state) > 0,
                Kill::AfterRename => inode() != armed,
            };
            if now || Instant::now() > deadline {
                break now;
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        let _ = child.lock().unwrap().kill(); // SIGKILL
        hit
    })
}

/// The certificate `addr` serves, as DER-in-base64 without whitespace.
fn served_certificate(addr: &str) -> Result<String, String> {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", addr]);
    let out = support::run(cmd, CLIENT_TIMEOUT);
    pem_body(&out.stdout).ok_or_else(|| format!("no certificate from s_client: {}", out.stdout))
}

fn pem_body(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN CERTIFICATE-----")? + 27;
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    Some(text[start..end].split_whitespace().collect())
}

fn active_certificate(state: &Value) -> Option<String> {
    let handle = state["active_tls_certificate"].as_u64()?;
    state["certificates"]
        .as_array()?
        .iter()
        .find(|c| c["handle"].as_u64() == Some(handle))
        .and_then(|c| c["pem"].as_str())
        .and_then(pem_body)
}

#[derive(Debug, Default)]
struct Figures {
    rounds: u32,
    /// Kills by mode, and whether the targeted ones saw their moment.
    kills: BTreeMap<(Kill, bool), u32>,
    acknowledged: BTreeMap<&'static str, u64>,
    /// The call each kill cut short (none when it fell between calls).
    in_flight: BTreeMap<&'static str, u64>,
    /// Of those, the ones found applied after the restart.
    in_flight_applied: BTreeMap<&'static str, u64>,
    corrupt_states: u32,
    failed_starts: u32,
    lost_acknowledgements: u32,
    certificate_mismatches: u32,
    /// Restarts at which the committed context named a CA-signed
    /// certificate (and so (c) checked it was served).
    ca_served: u32,
    failures: Vec<String>,
}

impl Figures {
    fn total_acknowledged(&self) -> u64 {
        self.acknowledged.values().sum()
    }
}

fn run(kills: u32) -> Figures {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let offset = free_offset();
    let mut rng = now_nanos() ^ u64::from(offset);
    eprintln!("crash safety: {kills} kills, port offset {offset}, seed {rng:#x}");
    templates();
    let console = Console {
        offset,
        dir: dir.to_path_buf(),
        ca: TestCa::new("Crash Safety CA"),
    };
    let mut fig = Figures::default();
    let mut model = Model::factory();
    let mut counter = 0u64;
    // First start: a fresh device, pre-provisioning.
    let mut server = start(dir, offset);
    assert!(wait_ready(&server, offset), "first start failed");
    let deadline = Instant::now() + Duration::from_secs(60 * 60);
    while fig.rounds < kills && Instant::now() < deadline {
        fig.rounds += 1;
        // Drive calls until the killer fires.
        rng = splitmix(rng);
        let mode = [Kill::Timed, Kill::DuringWrite, Kill::AfterRename][(rng >> 32) as usize % 3];
        let killer = killer(server.0.clone(), dir.join("state"), mode, rng % 600);
        let mut in_flight = None;
        for _ in 0..10_000 {
            counter += 1;
            let mut op = next_op(&mut rng, counter, &model);
            match op.send(&console, &model) {
                Sent::Ack(created) => {
                    *fig.acknowledged.entry(op.kind()).or_default() += 1;
                    model = op.apply(&model, created);
                }
                Sent::Refused(reply) => {
                    // Refused calls change nothing (none are expected).
                    fig.failures
                        .push(format!("round {}: {op:?} answered {reply}", fig.rounds));
                }
                Sent::Lost => {
                    in_flight = Some(op);
                    break;
                }
            }
        }
        let hit = killer.join().expect("killer thread");
        *fig.kills.entry((mode, hit)).or_default() += 1;
        let _ = server.0.lock().unwrap().wait();
        // (a) the state loads.
        let state = match state_show(dir) {
            Ok(s) => s,
            Err(e) => {
                fig.corrupt_states += 1;
                fig.failures
                    .push(format!("round {}: state show failed: {e}", fig.rounds));
                break;
            }
        };
        // Restart.
        server = start(dir, offset);
        let swept = wait_ready(&server, offset) && temp_files(&dir.join("state")) == 0;
        if !swept {
            fig.failed_starts += 1;
            fig.failures.push(format!(
                "round {}: restart failed, or left a temporary image (see serve.log)",
                fig.rounds
            ));
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            eprintln!("{log}");
            break;
        }
        // (b) acknowledged changes are there; which admin password works
        // is asked of the restarted device.
        let password = (state["admin_password_set"] == Value::Bool(true))
            .then(|| console.probe_admin(model.admin_password.unwrap_or(0)))
            .flatten();
        let stored = Model::of(&state, password);
        if let Some(op) = &in_flight {
            *fig.in_flight.entry(op.kind()).or_default() += 1;
        }
        if stored == model {
        } else if let Some(op) = in_flight
            .as_ref()
            .filter(|op| op.applied_in_flight(&model, &stored))
        {
            *fig.in_flight_applied.entry(op.kind()).or_default() += 1;
            model = stored;
        } else {
            fig.lost_acknowledgements += 1;
            fig.failures.push(format!(
                "round {}: stored {stored:#?}\nacknowledged {model:#?}\nin flight {in_flight:?}",
                fig.rounds
            ));
            model = stored;
        }
        // (c) the served certificate is the stored active one, and the
        // CA-signed one when the committed context names it.
        let state = state_show(dir).expect("state show while running");
        if Model::of(&state, model.admin_password) != model {
            fig.failures.push(format!(
                "round {}: the restart changed the stored state",
                fig.rounds
            ));
        }
        let stored_active = active_certificate(&state);
        let committed_ca = match &model.active_certificate {
            Some(Cert::Ca(h)) => {
                fig.ca_served += 1;
                model
                    .certs
                    .iter()
                    .find(|c| c.handle == *h)
                    .map(|c| c.pem.clone())
            }
            _ => None,
        };
        let mut addrs = vec![format!("127.0.0.1:{}", 16993 + offset)];
        if model.active_local_tls {
            addrs.push(format!("127.0.0.2:{}", 16993 + offset));
        }
        for addr in addrs {
            match (served_certificate(&addr), &stored_active) {
                (Ok(served), Some(stored))
                    if served == *stored
                        && committed_ca.as_ref().is_none_or(|ca| *ca == served) => {}
                (served, stored) => {
                    fig.certificate_mismatches += 1;
                    fig.failures.push(format!(
                        "round {}: {addr} served {served:?} != stored active {stored:?} \
                         (committed CA-signed {committed_ca:?})",
                        fig.rounds
                    ));
                }
            }
        }
    }
    drop(server);
    eprintln!(
        "crash safety: rounds {}, kills (mode, saw its moment) {:?}, acknowledged calls {} {:?}, calls in flight at the kill {:?}, \
         of which found applied {:?}, corrupt states {}, failed restarts {}, lost acknowledgements {}, \
         certificate mismatches {}, restarts serving a committed CA-signed certificate {}, \
         time {:.1} s",
        fig.rounds,
        fig.kills,
        fig.total_acknowledged(),
        fig.acknowledged,
        fig.in_flight,
        fig.in_flight_applied,
        fig.corrupt_states,
        fig.failed_starts,
        fig.lost_acknowledgements,
        fig.certificate_mismatches,
        fig.ca_served,
        started.elapsed().as_secs_f64()
    );
    for f in &fig.failures {
        eprintln!("  {f}");
    }
    fig
}

fn assert_clean(fig: &Figures, kills: u32) {
    assert_eq!(fig.rounds, kills, "not every round ran");
    assert!(
        fig.failures.is_empty(),
        "crash safety failures: {:#?}",
        fig.failures
    );
    assert!(fig.total_acknowledged() > 0, "no call was acknowledged");
    assert!(
        fig.acknowledged.keys().any(|k| k.starts_with("wsman:")),
        "no WS-Man call was acknowledged: {:?}",
        fig.acknowledged
    );
}

#[test]
fn crash_safety_20_kills() {
    let fig = run(20);
    assert_clean(&fig, 20);
}

#[test]
#[ignore = "long: run with `just crash-safety [KILLS]`"]
fn crash_safety_long() {
    let kills = std::env::var("CRASH_SAFETY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let fig = run(kills);
    assert_clean(&fig, kills);
}
