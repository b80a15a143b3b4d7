//! Real clients against the real `amt-emu` binary, over TLS (CSME 16.1,
//! 16993+N), plain HTTP (AMT 15, 16992+N) and the local LMS face (plain
//! 16992+N on 127.0.0.2): curl --digest posting console requests, the
//! requests Intel's wsman-messages builds, Debian's `wsl`, openssl, and a
//! raw socket for the firmware's HTTP framing. docs/wsman.md lists what
//! each test proves and how to install the clients (.ci/install-clients).
//!
//! Port offsets 10000..10700 are this file's (below the kernel's ephemeral
//! range, so an outgoing connection never holds them); other test files use their
//! own (cli.rs: 9000, 9100).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

const CSME_16_1_SHORT: &str = "16.1.25";
const AMT_15_SHORT: &str = "15.0.23";
const AMT_15_FULL: &str = "15.0.23.1706";
const REMOTE_TLS_SETTINGS: &str = "Intel(r) AMT 802.3 TLS Settings";
const LOCAL_TLS_SETTINGS: &str = "Intel(r) AMT LMS TLS Settings";

/// `CIM_SoftwareIdentity` instances, in the firmware's order.
const SOFTWARE_IDENTITY_IDS: [&str; 11] = [
    "Flash",
    "Netstack",
    "AMTApps",
    "AMT",
    "Sku",
    "VendorID",
    "Build Number",
    "Recovery Version",
    "Recovery Build Num",
    "Legacy Mode",
    "AMT FW Core Version",
];

/// The page AMT 15.0.23 sends with a 401, byte for byte
/// (fixtures `_http/401-html-logon-failed-body.html`).
const FIRMWARE_401_HTML: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" ><html lang=\"en\"><head><link rel=stylesheet href=/styles.css><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>Intel&reg; Active Management Technology</title></head><body><h1>Intel<sup>&reg;</sup> Active Management Technology</h1><h2 class=warn>Log on failed. Incorrect user name or password, or user account temporarily locked.</h2></body></html>";

/// A console request as the console libraries build it
/// (fixtures/requests, copied from wsman-messages' tests).
fn fixture(class: &str, operation: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/requests")
        .join(class)
        .join(format!("{operation}.request.xml"))
}

fn get_with_fixture(url: &str, class: &str, dir: &Path) -> Reply {
    let r = curl_digest(url, &fixture(class, "Get"), dir);
    assert_eq!(r.status, 200, "Get {class} at {url}: {}", r.body);
    assert_eq!(reply_action(&r.body), format!("{TRANSFER}/GetResponse"));
    assert!(r.body.contains(&format!("<g:{class}>")), "{}", r.body);
    r
}

/// Enumerate then Pull with the fixture requests, the Pull carrying the
/// context the Enumerate returned. Returns the Pull reply.
fn enumerate_pull_with_fixtures(url: &str, class: &str, dir: &Path) -> Reply {
    let e = curl_digest(url, &fixture(class, "Enumerate"), dir);
    assert_eq!(e.status, 200, "Enumerate {class}: {}", e.body);
    assert_eq!(
        reply_action(&e.body),
        format!("{ENUMERATION}/EnumerateResponse")
    );
    let context = text(&e.body, "g:EnumerationContext").expect("a context");
    let pull = std::fs::read_to_string(fixture(class, "Pull")).expect("Pull fixture");
    let recorded = text(&pull, "EnumerationContext").expect("context in the fixture");
    let pull = pull.replace(
        &format!("<EnumerationContext>{recorded}</EnumerationContext>"),
        &format!("<EnumerationContext>{context}</EnumerationContext>"),
    );
    let p = post(url, &pull, dir);
    assert_eq!(p.status, 200, "Pull {class}: {}", p.body);
    assert_eq!(reply_action(&p.body), format!("{ENUMERATION}/PullResponse"));
    assert!(p.body.contains("<g:EndOfSequence"), "{}", p.body);
    p
}

/// The realm of the 401 challenge curl answered.
fn challenged_realm(r: &Reply) -> String {
    let line = r
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .unwrap_or_else(|| panic!("curl saw no challenge: {}", r.headers));
    challenge_realm(line)
}

/// Issue 3, item 1: what a console reads first, with curl --digest.
/// `tls` is the TLS listener of a CSME 16.1 device (its certificate is
/// checked against the one in the store), `None` for AMT 15.
fn console_reads_with_curl(url: &str, version: &str, tls: Option<&str>, dir: &Path) {
    // AMT_GeneralSettings: the realm is the one in the challenge.
    let r = get_with_fixture(url, "AMT_GeneralSettings", dir);
    let realm = challenged_realm(&r);
    assert!(
        realm.len() == 39
            && realm.starts_with("Digest:")
            && realm[7..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{realm}"
    );
    assert_eq!(text(&r.body, "g:DigestRealm"), Some(realm));

    // CIM_SoftwareIdentity: the version the device was started with.
    let p = enumerate_pull_with_fixtures(url, "CIM_SoftwareIdentity", dir);
    let ids = all_texts(&p.body, "h:InstanceID");
    assert_eq!(
        ids, SOFTWARE_IDENTITY_IDS,
        "instances in the firmware's order"
    );
    let versions = all_texts(&p.body, "h:VersionString");
    assert_eq!(versions[3], version, "the AMT instance");
    assert_eq!(versions[0], version, "Flash");

    // The provisioning services: post-provisioning, client control mode.
    let r = get_with_fixture(url, "AMT_SetupAndConfigurationService", dir);
    assert_eq!(text(&r.body, "g:ProvisioningState").as_deref(), Some("2"));
    let r = get_with_fixture(url, "IPS_HostBasedSetupService", dir);
    assert_eq!(text(&r.body, "g:CurrentControlMode").as_deref(), Some("1"));

    // The certificate store and keys.
    let certs = enumerate_pull_with_fixtures(url, "AMT_PublicKeyCertificate", dir);
    let keys = enumerate_pull_with_fixtures(url, "AMT_PublicPrivateKeyPair", dir);
    match tls {
        Some(addr) => {
            let blobs = all_texts(&certs.body, "h:X509Certificate");
            assert_eq!(
                blobs.len(),
                1,
                "the self-signed certificate: {}",
                certs.body
            );
            assert_eq!(
                all_texts(&certs.body, "h:ReadOnlyCertificate"),
                ["true"],
                "CSME 16.1 marks its own certificate read-only"
            );
            let der = base64_decode(&blobs[0]);
            assert_eq!(
                der,
                openssl_peer_certificate(addr),
                "the stored certificate is the one the TLS port presents"
            );
            let key = base64_decode(&text(&keys.body, "h:DERKey").expect("a key pair"));
            assert!(
                der.windows(key.len()).any(|w| w == key.as_slice()),
                "the key pair is the certificate's key"
            );
        }
        None => {
            assert!(certs.body.contains("<g:Items></g:Items>"), "{}", certs.body);
            assert!(keys.body.contains("<g:Items></g:Items>"), "{}", keys.body);
        }
    }

    // AMT_TLSSettingData: always two, 802.3 first.
    let p = enumerate_pull_with_fixtures(url, "AMT_TLSSettingData", dir);
    assert_eq!(
        all_texts(&p.body, "h:InstanceID"),
        [REMOTE_TLS_SETTINGS, LOCAL_TLS_SETTINGS]
    );
}

#[test]
fn curl_reads_a_csme_16_1_device_over_tls() {
    let emu = Emu::start(10000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let tls = emu.addr("Tls", "Remote");
    assert!(
        !emu.listening.iter().any(|l| l.transport == "Plain"),
        "CSME 16.1 is TLS-only on the network: {:?}",
        emu.listening
    );
    let url = format!("https://{tls}/wsman");
    console_reads_with_curl(&url, CSME_16_1_SHORT, Some(&tls), dir.path());
}

#[test]
fn curl_reads_an_amt_15_device_over_plain_http_and_the_lms_face() {
    let emu = Emu::start(
        10100,
        &["--firmware", "15.0.23", "--lms-listen", "127.0.0.2"],
    );
    let dir = tempfile::tempdir().unwrap();
    let remote = emu.addr("Plain", "Remote");
    let local = emu.addr("Plain", "Local");
    assert!(local.starts_with("127.0.0.2:"), "{local}");
    for addr in [remote, local] {
        let url = format!("http://{addr}/wsman");
        console_reads_with_curl(&url, AMT_15_SHORT, None, dir.path());
    }
}

/// Issue 3, item 2: requests built by wsman-messages (what Open AMT's RPS
/// sends), posted with curl --digest; the replies have the firmware's
/// shape.
fn wsman_messages_round(url: &str, dir: &Path) {
    for (ns, class, uri) in [
        ("AMT", "GeneralSettings", AMT_SCHEMA),
        ("AMT", "SetupAndConfigurationService", AMT_SCHEMA),
        ("IPS", "HostBasedSetupService", IPS_SCHEMA),
    ] {
        let reply = post(url, &wsman_messages(ns, class, "Get", None), dir);
        let name = format!("{ns}_{class}");
        assert_eq!(reply.status, 200, "{name} Get: {}", reply.body);
        assert_firmware_header(&reply, &format!("{TRANSFER}/GetResponse"));
        assert_eq!(
            text(&reply.body, "c:ResourceURI"),
            Some(format!("{uri}/{name}"))
        );
        assert!(
            reply.body.contains(&format!("<g:{name}>")),
            "{}",
            reply.body
        );
    }

    let expected: [(&str, &str, &[&str]); 4] = [
        ("CIM", "SoftwareIdentity", &SOFTWARE_IDENTITY_IDS),
        (
            "AMT",
            "TLSSettingData",
            &[REMOTE_TLS_SETTINGS, LOCAL_TLS_SETTINGS],
        ),
        ("AMT", "PublicKeyCertificate", &[]),
        ("AMT", "PublicPrivateKeyPair", &[]),
    ];
    for (ns, class, ids) in expected {
        let e = post(url, &wsman_messages(ns, class, "Enumerate", None), dir);
        assert_eq!(e.status, 200, "{class} Enumerate: {}", e.body);
        assert_firmware_header(&e, &format!("{ENUMERATION}/EnumerateResponse"));
        let context = text(&e.body, "g:EnumerationContext").expect("context");
        let args = format!("[\"{context}\"]");
        let p = post(url, &wsman_messages(ns, class, "Pull", Some(&args)), dir);
        assert_eq!(p.status, 200, "{class} Pull: {}", p.body);
        assert_firmware_header(&p, &format!("{ENUMERATION}/PullResponse"));
        // The last page: EndOfSequence and no context (MeshCentral).
        assert!(p.body.contains("<g:EndOfSequence"), "{}", p.body);
        assert!(!p.body.contains("<g:EnumerationContext>"), "{}", p.body);
        if !ids.is_empty() {
            assert_eq!(all_texts(&p.body, "h:InstanceID"), ids, "{class} order");
        }
        // The context is used up: a second Pull is refused.
        let again = post(url, &wsman_messages(ns, class, "Pull", Some(&args)), dir);
        assert_eq!(again.status, 500, "{}", again.body);
        assert!(
            again.body.contains("InvalidEnumerationContext"),
            "{}",
            again.body
        );
    }
}

/// RelatesTo echoes wsman-messages' MessageID 0; the Action is the reply
/// action; the MessageID is the firmware's uuid form; framing is AMT's.
fn assert_firmware_header(reply: &Reply, action: &str) {
    assert!(
        reply
            .body
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a:Envelope "),
        "{}",
        reply.body
    );
    assert_eq!(text(&reply.body, "b:RelatesTo").as_deref(), Some("0"));
    assert_eq!(reply_action(&reply.body), action);
    assert!(text(&reply.body, "b:MessageID")
        .unwrap()
        .starts_with("uuid:00000000-8086-8086-8086-"));
    assert_eq!(
        reply.header("Content-Type").as_deref(),
        Some("application/soap+xml; charset=UTF-8")
    );
    assert_eq!(
        reply.header("Transfer-Encoding").as_deref(),
        Some("chunked")
    );
}

#[test]
fn wsman_messages_requests_over_tls_plain_and_lms() {
    let dir = tempfile::tempdir().unwrap();
    let csme = Emu::start(10200, &[]);
    wsman_messages_round(
        &format!("https://{}/wsman", csme.addr("Tls", "Remote")),
        dir.path(),
    );
    let amt15 = Emu::start(
        10300,
        &["--firmware", "15.0.23", "--lms-listen", "127.0.0.2"],
    );
    for interface in ["Remote", "Local"] {
        let url = format!("http://{}/wsman", amt15.addr("Plain", interface));
        wsman_messages_round(&url, dir.path());
    }
}

/// Issue 3, item 3: Debian's `wsl` (its man page). Each command is
/// its own process; digest comes from a `.curlrc` in CURL_HOME.
struct Wsl {
    dir: tempfile::TempDir,
    endpoint: String,
    tls: bool,
}

impl Wsl {
    fn new(endpoint: &str, tls: bool) -> Wsl {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".curlrc"), "digest\n").unwrap();
        Wsl {
            dir,
            endpoint: endpoint.to_string(),
            tls,
        }
    }

    /// Runs a wsl command; returns (exit success, output without colours).
    fn run(&self, args: &[&str]) -> (bool, String) {
        self.run_with(&[], args)
    }

    /// [`Wsl::run`] with extra wsl settings in the environment.
    fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new(args[0]);
        cmd.envs(env.iter().copied());
        cmd.args(&args[1..])
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("CURL_HOME", self.dir.path())
            .env("WSENDPOINT", &self.endpoint)
            .env("WSUSER", "admin")
            .env("WSPASS", PASSWORD)
            .env("KEEPHISTORY", "0")
            .env_remove("WSNOSSL");
        if !self.tls {
            cmd.env("WSNOSSL", "1");
        }
        let out = run(cmd, CLIENT_TIMEOUT);
        (out.success, strip_ansi(&out.stdout))
    }
}

/// The text of every `<tag>` in wsl's pretty-printed output.
fn wsl_texts(out: &str, tag: &str) -> Vec<String> {
    all_texts(out, tag)
}

fn wsl_round(wsl: &Wsl, version: &str) {
    // wslget without selectors exits 1 even on success (it greps the reply
    // for the last selector's name), so only the output is checked.
    let (_, out) = wsl.run(&["wslget", &format!("{AMT_SCHEMA}/AMT_GeneralSettings")]);
    assert!(out.contains(&format!("{TRANSFER}/GetResponse")), "{out}");
    let realm = wsl_texts(&out, "g:DigestRealm");
    assert!(realm.len() == 1 && realm[0].starts_with("Digest:"), "{out}");

    // wsl expands CIM_ class names to the DMTF schema.
    let (ok, out) = wsl.run(&["wslget", "CIM_SoftwareIdentity", "InstanceID=AMT"]);
    assert!(ok, "{out}");
    assert_eq!(wsl_texts(&out, "g:VersionString"), [version], "{out}");

    let (ok, out) = wsl.run(&["wslenum", "CIM_SoftwareIdentity"]);
    assert!(ok, "{out}");
    assert_eq!(wsl_texts(&out, "h:InstanceID"), SOFTWARE_IDENTITY_IDS);

    let (ok, out) = wsl.run(&["wslenum", &format!("{AMT_SCHEMA}/AMT_TLSSettingData")]);
    assert!(ok, "{out}");
    assert_eq!(
        wsl_texts(&out, "h:InstanceID"),
        [REMOTE_TLS_SETTINGS, LOCAL_TLS_SETTINGS]
    );

    // OptimizeEnumeration with MaxElements 2 in ObjectAndEPR mode: wsl
    // pages through the class and gets every instance once, in order.
    let (ok, out) = wsl.run_with(
        &[("WSENUMOPTIMIZE", "true"), ("WSENUMMAXELEM", "2")],
        &["wslenum", "CIM_SoftwareIdentity", "-mode", "objepr"],
    );
    assert!(ok, "{out}");
    assert_eq!(wsl_texts(&out, "h:InstanceID"), SOFTWARE_IDENTITY_IDS);

    // EnumerateEPR: references, not instances.
    let (ok, out) = wsl.run(&[
        "wslenum",
        &format!("{AMT_SCHEMA}/AMT_TLSSettingData"),
        "-mode",
        "epr",
    ]);
    assert!(ok, "{out}");
    assert!(!out.contains("<h:AMT_TLSSettingData>"), "{out}");
    assert_eq!(out.matches("<b:EndpointReference>").count(), 2, "{out}");
    let selector = |id: &str| {
        out.find(&format!(
            "<c:Selector Name=\"InstanceID\">{id}</c:Selector>"
        ))
        .unwrap_or_else(|| panic!("no EPR for {id}: {out}"))
    };
    assert!(selector(REMOTE_TLS_SETTINGS) < selector(LOCAL_TLS_SETTINGS));
}

#[test]
fn wsl_gets_and_enumerates_over_plain_http_lms_and_tls() {
    let amt15 = Emu::start(
        10400,
        &["--firmware", "15.0.23", "--lms-listen", "127.0.0.2"],
    );
    for interface in ["Remote", "Local"] {
        wsl_round(
            &Wsl::new(&amt15.addr("Plain", interface), false),
            AMT_15_SHORT,
        );
    }
    let csme = Emu::start(10500, &[]);
    let tls = csme.addr("Tls", "Remote");
    let wsl = Wsl::new(&tls, true);
    wsl_round(&wsl, CSME_16_1_SHORT);
    // Over TLS, the certificate wsl enumerates is the one it was served.
    let (ok, out) = wsl.run(&["wslenum", &format!("{AMT_SCHEMA}/AMT_PublicKeyCertificate")]);
    assert!(ok, "{out}");
    let blobs = wsl_texts(&out, "h:X509Certificate");
    assert_eq!(blobs.len(), 1, "{out}");
    assert_eq!(base64_decode(&blobs[0]), openssl_peer_certificate(&tls));
}

// ---- Issue 3, item 5: the firmware's HTTP framing, on a raw socket. ----

/// Sends `request` on a new connection and reads until the server closes.
fn raw(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).expect("send");
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Splits a raw reply into (status, header lines, body).
fn split(reply: &str) -> (u16, Vec<String>, String) {
    let (head, body) = reply.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()["HTTP/1.1 ".len()..][..3]
        .parse()
        .unwrap();
    (
        status,
        lines.map(str::to_string).collect(),
        body.to_string(),
    )
}

fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn http_framing_is_the_firmware_s() {
    let emu = Emu::start(10600, &["--firmware", "15.0.23"]);
    let addr = emu.addr("Plain", "Remote");
    let server = format!("Intel(R) Active Management Technology {AMT_15_FULL}");

    for (request, status) in [
        // The web UI (docs/web-ui.md): `/` sends the browser to the logon
        // page, the pages behind it ask for the digest login.
        ("GET / HTTP/1.1\r\nHost: amt\r\n\r\n", 303),
        ("GET /index.htm HTTP/1.1\r\nHost: amt\r\n\r\n", 401),
        ("GET /nothing.htm HTTP/1.1\r\nHost: amt\r\n\r\n", 404),
        (
            "POST /wsman/ HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n",
            404,
        ),
        (
            "POST /other HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n",
            404,
        ),
        ("GET /wsman HTTP/1.1\r\nHost: amt\r\n\r\n", 405),
        (
            "PUT /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n",
            405,
        ),
    ] {
        let (got, headers, _) = split(&raw(&addr, request));
        assert_eq!(got, status, "{request:?}");
        assert_eq!(header(&headers, "Server"), Some(server.as_str()));
        assert_eq!(header(&headers, "Connection"), Some("close"));
    }

    // The 401: the firmware's page and challenge, byte for byte apart from
    // the realm and nonce.
    let (status, headers, body) = split(&raw(
        &addr,
        "POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n",
    ));
    assert_eq!(status, 401);
    assert_eq!(body, FIRMWARE_401_HTML);
    assert_eq!(header(&headers, "Content-Type"), Some("text/html"));
    assert_eq!(header(&headers, "Content-Length"), Some("434"));
    assert_eq!(header(&headers, "Connection"), Some("close"));
    assert_eq!(header(&headers, "Server"), Some(server.as_str()));
    let challenge = header(&headers, "WWW-Authenticate").expect("a challenge");
    let rest = challenge
        .strip_prefix("Digest realm=\"Digest:")
        .unwrap_or_else(|| panic!("{challenge}"));
    let (realm_hex, rest) = rest.split_at(32);
    assert!(realm_hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    let rest = rest.strip_prefix("\", nonce=\"").expect(challenge);
    let (nonce, rest) = rest.split_at(32);
    assert!(nonce
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
    assert_eq!(rest, "\",stale=\"false\",qop=\"auth\"", "{challenge}");

    // A 200 as curl receives it before decoding: chunked, the firmware's
    // headers, the zero chunk at the end.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--raw", "-i", "--max-time", "20", "--digest", "-u"])
        .arg(format!("admin:{PASSWORD}"))
        .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
        .arg("--data-binary")
        .arg(format!(
            "@{}",
            fixture("AMT_GeneralSettings", "Get").display()
        ))
        .arg(format!("http://{addr}/wsman"));
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "{}", out.stderr);
    let last = &out.stdout[out.stdout.rfind("HTTP/1.1 ").expect("a reply")..];
    let (status, headers, body) = split(last);
    assert_eq!(status, 200, "{last}");
    assert_eq!(header(&headers, "Transfer-Encoding"), Some("chunked"));
    assert_eq!(header(&headers, "Content-Length"), None);
    assert_eq!(header(&headers, "Server"), Some(server.as_str()));
    assert_eq!(header(&headers, "Connection"), Some("close"));
    assert_eq!(header(&headers, "X-Frame-Options"), Some("DENY"));
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("application/soap+xml; charset=UTF-8")
    );
    let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
    let size = usize::from_str_radix(size, 16).expect("hex chunk size");
    assert!(rest[size..].starts_with("\r\n"), "chunk of {size} bytes");
    assert!(rest[..size].contains("<g:AMT_GeneralSettings>"));
    assert!(body.ends_with("\r\n0\r\n\r\n"), "ends with the zero chunk");
    drop(dir);
}

#[test]
fn tls_replies_carry_the_same_framing() {
    let emu = Emu::start(10700, &[]);
    let tls = emu.addr("Tls", "Remote");
    let dir = tempfile::tempdir().unwrap();
    let r = curl_digest(
        &format!("https://{tls}/wsman"),
        &fixture("AMT_GeneralSettings", "Get"),
        dir.path(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Server").as_deref(),
        Some("Intel(R) Active Management Technology 16.1.25.2128")
    );
    assert_eq!(r.header("Transfer-Encoding").as_deref(), Some("chunked"));
    assert_eq!(r.header("Connection").as_deref(), Some("close"));
    // The 401 curl answered had the firmware's challenge shape.
    let challenge = r
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .expect("a challenge")
        .trim_end();
    assert!(
        challenge.ends_with("\",stale=\"false\",qop=\"auth\""),
        "{challenge}"
    );
    // Paths that are neither /wsman nor a web UI page: 404 over TLS too.
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-k",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "20",
    ])
    .arg(format!("https://{tls}/nothing.htm"));
    assert_eq!(run(cmd, CLIENT_TIMEOUT).stdout, "404");
}

// ---- wsmid:Identify with `wslid check` (docs/wsman.md "Identify"). ----

/// The Identify request `wslid check` sends, for the raw-socket check.
const IDENTIFY_BODY: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>"#;

/// Port offset 10800: after this file's other tests (10000..10700).
#[test]
fn wslid_check_identifies_the_firmware_after_digest() {
    let emu = Emu::start(10800, &["--firmware", "15.0.23"]);
    let addr = emu.addr("Plain", "Remote");
    let wsl = Wsl::new(&addr, false);
    let (ok, out) = wsl.run(&["wslid", "check"]);
    assert!(ok, "{out}");
    assert_eq!(
        wsl_texts(&out, "b:ProductVersion"),
        [format!("AMT {AMT_15_SHORT}")],
        "{out}"
    );
    assert_eq!(wsl_texts(&out, "b:ProductVendor"), ["Intel(r)"], "{out}");
    assert_eq!(
        wsl_texts(&out, "b:ProtocolVersion"),
        ["http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"],
        "{out}"
    );

    // Without credentials Identify gets the 401 every request gets: no
    // anonymous Identify, since no capture shows AMT answering one.
    let request = format!(
        "POST /wsman HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{IDENTIFY_BODY}",
        IDENTIFY_BODY.len()
    );
    let (status, _, body) = split(&raw(&addr, &request));
    assert_eq!(status, 401);
    assert!(!body.contains("IdentifyResponse"));
}
