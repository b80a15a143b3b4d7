//! Certificate enrollment and run-time TLS switching as a console does it,
//! against the real TLS listener: every request is the XML Intel's
//! wsman-messages builds (what RPS sends; `tests/clients/wsman-request.js`),
//! posted with `curl --digest`, and the result is checked with real
//! clients (`openssl req -verify`, `openssl s_client`, curl with the
//! console's CA). Nothing in a flow goes through the library API.

mod support;

use std::net::SocketAddr;

use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use amt_testkit::{null_signed_csr, DevicePublicKey, TestCa};
use base64::Engine;
use support::{
    curl_wsman, curl_wsman_with, openssl, openssl_fetch_certificate, pem, write_file,
    wsman_messages_request,
};

const PASSWORD: &str = "P@ssw0rd";
const REMOTE_TLS: &str = "Intel(r) AMT 802.3 TLS Settings";

struct Console {
    url: String,
    addr: SocketAddr,
}

async fn start() -> (RunningEmulator, Console) {
    let emu = Emulator::start(EmulatorConfig {
        admin_password: Some(PASSWORD.into()),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let addr = emu
        .tls_addr()
        .expect("CSME 16.1 is TLS-only from the factory");
    let console = Console {
        url: format!("https://{addr}/wsman"),
        addr,
    };
    (emu, console)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("{text:?} is not base64: {e}"))
}

/// The text of the first `<p:local>` element the firmware's prefixes use.
fn element(xml: &str, local: &str) -> Option<String> {
    ["g", "h", "c", "b"].iter().find_map(|p| {
        let open = format!("<{p}:{local}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find('<')? + start;
        Some(xml[start..end].to_string())
    })
}

fn return_value(reply: &(String, String)) -> u32 {
    assert_eq!(reply.0, "200", "{}", reply.1);
    element(&reply.1, "ReturnValue")
        .expect("a ReturnValue")
        .parse()
        .expect("a number")
}

/// The N of the first `Handle: N` in a reply.
fn handle(xml: &str) -> u32 {
    let start = xml.find("Handle: ").expect("an InstanceID") + 8;
    let end = xml[start..].find('<').expect("end of selector") + start;
    xml[start..end].parse().expect("a handle")
}

/// A fault's subcode and detail, checking the HTTP status.
fn fault(reply: &(String, String), status: &str) -> (String, String) {
    assert_eq!(reply.0, status, "{}", reply.1);
    let subcode = reply
        .1
        .split("<a:Subcode><a:Value>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a subcode")
        .to_string();
    let detail = reply
        .1
        .split("<a:Detail>")
        .nth(1)
        .and_then(|s| s.split("</a:Detail>").next())
        .unwrap_or_default()
        .to_string();
    (subcode, detail)
}

impl Console {
    /// Builds the call with wsman-messages and posts it.
    fn call(&self, class: &str, method: &str, args: &str) -> (String, String) {
        let xml = wsman_messages_request("AMT", class, method, args);
        self.post(&xml)
    }

    fn post(&self, xml: &str) -> (String, String) {
        curl_wsman(&self.url, "admin", PASSWORD, xml)
    }

    /// Enumerate + Pull (MaxElements 999): the PullResponse body.
    fn pull(&self, class: &str) -> String {
        let e = self.call(class, "Enumerate", "");
        assert_eq!(e.0, "200", "{}", e.1);
        let ctx = element(&e.1, "EnumerationContext").expect("a context");
        let p = self.call(class, "Pull", &format!("[\"{ctx}\"]"));
        assert_eq!(p.0, "200", "{}", p.1);
        p.1
    }

    /// The pulled items of `class` (one string per instance element).
    fn items(&self, class: &str) -> Vec<String> {
        let body = self.pull(class);
        let open = format!("<h:AMT_{class}>");
        body.split(&open).skip(1).map(str::to_string).collect()
    }

    fn certificate_ids(&self) -> Vec<String> {
        self.items("PublicKeyCertificate")
            .iter()
            .filter_map(|i| element(i, "InstanceID"))
            .collect()
    }

    fn generate_key_pair(&self) -> u32 {
        let r = self.call(
            "PublicKeyManagementService",
            "GenerateKeyPair",
            r#"[{"KeyAlgorithm":0,"KeyLength":2048}]"#,
        );
        assert_eq!(return_value(&r), 0);
        assert!(r.1.contains("AMT_PublicPrivateKeyPair"));
        handle(&r.1)
    }

    /// `DERKey` of key `n`, from a Pull as RPS reads it.
    fn der_key(&self, n: u32) -> Vec<u8> {
        let id = format!("Intel(r) AMT Key: Handle: {n}");
        let item = self
            .items("PublicPrivateKeyPair")
            .into_iter()
            .find(|i| element(i, "InstanceID").as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no {id} in the pull"));
        unb64(&element(&item, "DERKey").expect("DERKey"))
    }

    fn add_certificate(&self, der: &[u8]) -> (String, String) {
        self.call(
            "PublicKeyManagementService",
            "AddCertificate",
            &format!(r#"[{{"CertificateBlob":"{}"}}]"#, b64(der)),
        )
    }

    fn add_trusted_root(&self, der: &[u8]) -> (String, String) {
        self.call(
            "PublicKeyManagementService",
            "AddTrustedRootCertificate",
            &format!(r#"[{{"CertificateBlob":"{}"}}]"#, b64(der)),
        )
    }

    /// RPS's Create of the credential context, and rpc-go's Put (the same
    /// body under the Put action, no selectors) when it already exists.
    fn use_certificate(&self, cert: u32) {
        let id = format!("Intel(r) AMT Certificate: Handle: {cert}");
        let create = wsman_messages_request(
            "AMT",
            "TLSCredentialContext",
            "Create",
            &format!("[\"{id}\"]"),
        );
        // CSME 16.1 ships a context naming the self-signed certificate.
        let r = self.post(&create);
        assert_eq!(fault(&r, "400"), ("e:AlreadyExists".into(), String::new()));
        let put = create.replace(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put",
        );
        let r = self.post(&put);
        assert_eq!(r.0, "200", "{}", r.1);
        assert!(r.1.contains(&id), "the Put reply names the certificate");
    }

    /// `AMT_TLSSettingData` Put of the remote instance as RPS builds it.
    fn put_remote_tls(&self, accept_non_secure: bool, mutual: bool) -> (String, String) {
        self.call(
            "TLSSettingData",
            "Put",
            &format!(
                r#"[{{"AcceptNonSecureConnections":{accept_non_secure},"ElementName":"{REMOTE_TLS}","Enabled":true,"InstanceID":"{REMOTE_TLS}","MutualAuthentication":{mutual},"NonSecureConnectionsSupported":false}}]"#
            ),
        )
    }

    /// The time sync every TLS flow does before committing.
    fn sync_time(&self) {
        let r = self.call("TimeSynchronizationService", "GetLowAccuracyTimeSynch", "");
        assert_eq!(return_value(&r), 0);
        let ta0: u64 = element(&r.1, "Ta0").expect("Ta0").parse().expect("seconds");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let r = self.call(
            "TimeSynchronizationService",
            "SetHighAccuracyTimeSynch",
            &format!("[{ta0},{now},{now}]"),
        );
        assert_eq!(return_value(&r), 0);
    }

    fn commit(&self) -> u32 {
        return_value(&self.call("SetupAndConfigurationService", "CommitChanges", ""))
    }

    /// Steps 3–6 of RPS's flow: a device key, a CA-signed certificate for
    /// it, added back. Returns the certificate's handle and DER.
    fn enroll_generated_key(&self, ca: &TestCa) -> (u32, Vec<u8>) {
        let key = self.generate_key_pair();
        let public = DevicePublicKey::from_pkcs1(self.der_key(key));
        let der = ca.sign_server_cert(&public, "amt.example.test");
        let r = self.add_certificate(&der);
        assert_eq!(return_value(&r), 0);
        (handle(&r.1), der)
    }

    /// The switch: credential context, remote TLS settings, time, commit.
    fn switch_to(&self, cert: u32) {
        self.use_certificate(cert);
        let r = self.put_remote_tls(false, false);
        assert_eq!(r.0, "200", "{}", r.1);
        self.sync_time();
        assert_eq!(self.commit(), 0);
    }

    /// A new handshake presents `der`, and curl verifies it against the
    /// console's CA (host name `amt.example.test`) and gets a WS-Man reply.
    fn assert_serves(&self, der: &[u8], ca: &TestCa) {
        assert_eq!(openssl_fetch_certificate(self.addr), der);
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_pem = write_file(dir.path(), "ca.pem", pem("CERTIFICATE", &ca.der).as_bytes());
        let port = self.addr.port();
        let resolve = format!("amt.example.test:{port}:127.0.0.1");
        let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
        let (ok, status, body) = curl_wsman_with(
            &format!("https://amt.example.test:{port}/wsman"),
            PASSWORD,
            &get,
            &["--cacert", &ca_pem, "--resolve", &resolve],
        );
        assert!(ok, "curl verified the certificate against the console CA");
        assert_eq!(status, "200", "{body}");
    }
}

/// `openssl req -verify` on a DER request. OpenSSL 3.0 exits 0 whether or
/// not the signature holds, so the verdict is read from its message.
fn csr_verifies(der: &[u8]) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "req.der", der);
    let out = std::process::Command::new("openssl")
        .args(["req", "-inform", "DER", "-in", &file, "-verify", "-noout"])
        .output()
        .expect("openssl is installed");
    let said = |s: &[u8]| String::from_utf8_lossy(s).contains("verify OK");
    out.status.success() && (said(&out.stderr) || said(&out.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn rps_flow_with_a_generated_key_and_a_device_signed_request() {
    let (emu, console) = start().await;

    // 1. Inventory: the read-only self-signed certificate is there.
    let certs = console.items("PublicKeyCertificate");
    assert!(
        certs
            .iter()
            .any(|c| c.contains("<h:ReadOnlyCertificate>true</h:ReadOnlyCertificate>")),
        "{certs:?}"
    );
    let self_signed = openssl_fetch_certificate(console.addr);

    // 2–4. A device key, its public half from the pull, and a request the
    // device signs over the console's null-signed one.
    let key = console.generate_key_pair();
    let public_pkcs1 = console.der_key(key);
    let public = DevicePublicKey::from_pkcs1(public_pkcs1.clone());
    let null_signed = null_signed_csr(&public, "amt.example.test");
    assert!(
        !csr_verifies(&null_signed),
        "the console's request is unsigned"
    );
    let key_pair_epr = format!(
        r#"<a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicPrivateKeyPair</w:ResourceURI><w:SelectorSet><w:Selector Name=\"InstanceID\">Intel(r) AMT Key: Handle: {key}</w:Selector></w:SelectorSet></a:ReferenceParameters>"#
    );
    let r = console.call(
        "PublicKeyManagementService",
        "GeneratePKCS10RequestEx",
        &format!(
            r#"[{{"KeyPair":"{key_pair_epr}","SigningAlgorithm":1,"NullSignedCertificateRequest":"{}"}}]"#,
            b64(&null_signed)
        ),
    );
    assert_eq!(return_value(&r), 0);
    let signed = unb64(&element(&r.1, "SignedCertificateRequest").expect("the CSR"));
    assert!(
        csr_verifies(&signed),
        "openssl req -verify accepts the device's signature"
    );
    let mut tampered = signed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(!csr_verifies(&tampered));

    // 5–6. The CA signs; the certificate and the CA go into the store.
    let ca = TestCa::new("Console CA");
    let der = ca.sign_server_cert(&public, "amt.example.test");
    let r = console.add_certificate(&der);
    assert_eq!(return_value(&r), 0);
    let cert = handle(&r.1);
    assert_eq!(return_value(&console.add_trusted_root(&ca.der)), 0);
    let stored = console
        .items("PublicKeyCertificate")
        .into_iter()
        .find(|i| {
            element(i, "InstanceID") == Some(format!("Intel(r) AMT Certificate: Handle: {cert}"))
        })
        .expect("the added certificate is listed");
    assert_eq!(unb64(&element(&stored, "X509Certificate").unwrap()), der);

    // 7–12. Context (Create → AlreadyExists → Put), TLS settings, commit.
    console.use_certificate(cert);
    // Staged only: handshakes still present the self-signed certificate.
    assert_eq!(openssl_fetch_certificate(console.addr), self_signed);
    let r = console.put_remote_tls(false, false);
    assert_eq!(r.0, "200", "{}", r.1);
    assert!(r.1.contains("<g:Enabled>true</g:Enabled>"));
    console.sync_time();
    assert_eq!(console.commit(), 0);

    assert_eq!(emu.tls_addr(), Some(console.addr), "same listener");
    console.assert_serves(&der, &ca);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_go_flow_with_an_imported_key() {
    let (emu, console) = start().await;
    // A console-made RSA key as PKCS#8 (openssl genpkey's format), and its
    // PKCS#1 public half for the CA.
    let (ok, pkcs8) = openssl(
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
    );
    assert!(ok, "openssl genpkey");
    let (ok, pkcs1_public) = openssl(
        &[
            "rsa",
            "-inform",
            "DER",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ],
        &pkcs8,
    );
    assert!(ok, "openssl rsa -RSAPublicKey_out");

    let r = console.call(
        "PublicKeyManagementService",
        "AddKey",
        &format!("[\"{}\"]", b64(&pkcs8)),
    );
    assert_eq!(return_value(&r), 0);
    let key = handle(&r.1);
    assert_eq!(
        console.der_key(key),
        pkcs1_public,
        "DERKey is the imported key"
    );

    let ca = TestCa::new("Console CA");
    let der = ca.sign_server_cert(
        &DevicePublicKey::from_pkcs1(pkcs1_public),
        "amt.example.test",
    );
    let r = console.add_certificate(&der);
    assert_eq!(return_value(&r), 0);
    assert_eq!(return_value(&console.add_trusted_root(&ca.der)), 0);
    console.switch_to(handle(&r.1));
    console.assert_serves(&der, &ca);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_read_only_certificate_cannot_be_deleted() {
    let (emu, console) = start().await;
    let read_only = console
        .items("PublicKeyCertificate")
        .into_iter()
        .find(|i| i.contains("<h:ReadOnlyCertificate>true</h:ReadOnlyCertificate>"))
        .and_then(|i| element(&i, "InstanceID"))
        .expect("the self-signed certificate");
    let r = console.call(
        "PublicKeyCertificate",
        "Delete",
        &format!(r#"[{{"name":"InstanceID","value":"{read_only}"}}]"#),
    );
    assert_eq!(
        fault(&r, "500"),
        ("e:InternalError".into(), "AMT-STATUS 16".into())
    );
    assert!(
        console.certificate_ids().contains(&read_only),
        "still present"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_in_use_cannot_be_deleted() {
    let (emu, console) = start().await;
    let ca = TestCa::new("Console CA");
    let (cert, der) = console.enroll_generated_key(&ca);
    console.switch_to(cert);
    let id = format!("Intel(r) AMT Certificate: Handle: {cert}");
    let r = console.call(
        "PublicKeyCertificate",
        "Delete",
        &format!(r#"[{{"name":"InstanceID","value":"{id}"}}]"#),
    );
    assert_eq!(
        fault(&r, "500"),
        ("e:InternalError".into(), "AMT-STATUS 16".into())
    );
    assert!(console.certificate_ids().contains(&id));
    assert_eq!(openssl_fetch_certificate(console.addr), der, "still served");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_a_key_the_device_lacks_is_refused() {
    let (emu, console) = start().await;
    let (ok, pkcs8) = openssl(
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
    );
    assert!(ok);
    let (ok, pkcs1_public) = openssl(
        &[
            "rsa",
            "-inform",
            "DER",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ],
        &pkcs8,
    );
    assert!(ok);
    let ca = TestCa::new("Console CA");
    let der = ca.sign_server_cert(&DevicePublicKey::from_pkcs1(pkcs1_public), "elsewhere");
    let before = console.certificate_ids();
    let r = console.add_certificate(&der);
    assert_eq!(return_value(&r), 2064, "CERT_KEY_NOT_MATCH");
    assert!(!r.1.contains("CreatedCertificate"));
    assert_eq!(console.certificate_ids(), before);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_blobs_are_refused_without_harm() {
    let (emu, console) = start().await;
    let certs_before = console.certificate_ids();
    let keys_before = console.items("PublicPrivateKeyPair").len();
    let garbage = b64(b"definitely not DER");
    let cases = [
        (
            "AddCertificate",
            format!(r#"[{{"CertificateBlob":"{garbage}"}}]"#),
            2063,
        ),
        (
            "AddCertificate",
            r#"[{"CertificateBlob":"not base64!!"}]"#.to_string(),
            36,
        ),
        (
            "AddTrustedRootCertificate",
            format!(r#"[{{"CertificateBlob":"{garbage}"}}]"#),
            2063,
        ),
        (
            "AddTrustedRootCertificate",
            r#"[{"CertificateBlob":"%%%"}]"#.to_string(),
            36,
        ),
        ("AddKey", format!("[\"{garbage}\"]"), 2062),
        ("AddKey", r#"["@@@"]"#.to_string(), 36),
    ];
    for (method, args, expected) in cases {
        let r = console.call("PublicKeyManagementService", method, &args);
        assert_eq!(return_value(&r), expected, "{method} {args}");
    }
    assert_eq!(console.certificate_ids(), certs_before, "device unchanged");
    assert_eq!(console.items("PublicPrivateKeyPair").len(), keys_before);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn enabling_non_tls_on_a_16_1_remote_interface_is_refused() {
    let (emu, console) = start().await;
    let r = console.put_remote_tls(true, false);
    assert_eq!(
        fault(&r, "500"),
        ("e:InternalError".into(), "AMT-STATUS 16".into())
    );
    let remote = console
        .items("TLSSettingData")
        .into_iter()
        .find(|i| i.contains(REMOTE_TLS))
        .expect("the remote instance");
    assert!(remote.contains("<h:AcceptNonSecureConnections>false</h:AcceptNonSecureConnections>"));
    assert_eq!(console.commit(), 0);
    assert!(emu.http_addr().is_none(), "port 16992 stays closed");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_authentication_takes_effect_at_commit() {
    let (emu, console) = start().await;
    let ca = TestCa::new("Console CA");
    assert_eq!(return_value(&console.add_trusted_root(&ca.der)), 0);
    let r = console.put_remote_tls(false, true);
    assert_eq!(r.0, "200", "{}", r.1);
    assert!(r
        .1
        .contains("<g:MutualAuthentication>true</g:MutualAuthentication>"));
    assert_eq!(console.commit(), 0);

    let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
    let (ok, _, _) = curl_wsman_with(&console.url, PASSWORD, &get, &["-k"]);
    assert!(!ok, "no client certificate: the handshake fails");

    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = ca.issue_client("console");
    let cert = write_file(dir.path(), "c.crt", pem("CERTIFICATE", &cert).as_bytes());
    let key = write_file(dir.path(), "c.key", pem("PRIVATE KEY", &key).as_bytes());
    let (ok, status, body) = curl_wsman_with(
        &console.url,
        PASSWORD,
        &get,
        &["-k", "--cert", &cert, "--key", &key],
    );
    assert!(
        ok,
        "a client certificate from the trusted root gets through"
    );
    assert_eq!(status, "200", "{body}");
    emu.shutdown().await;
}

/// Issue 6's whole life of a device, every step over WS-Man with the XML
/// RPS sends: factory → client control mode through host-based setup on
/// the local interface → TLS configured with the console's certificate →
/// a new handshake presents it → Unprovision → a different self-signed
/// certificate is presented.
#[tokio::test(flavor = "multi_thread")]
async fn factory_to_ccm_to_tls_and_back_to_factory() {
    let emu = Emulator::start(EmulatorConfig::new().with_lms())
        .await
        .expect("emulator starts");
    let addr = emu.tls_addr().expect("CSME 16.1 is TLS-only");
    let factory_cert = tokio::task::spawn_blocking(move || openssl_fetch_certificate(addr))
        .await
        .expect("openssl");
    let lms = emu.lms_addrs().http.expect("LMS plain HTTP");
    let (user, lsa_password) = emu.host().with_device(|d| {
        let (u, p) = d.local_system_account();
        (u.to_string(), p.to_string())
    });

    let console = Console {
        url: format!("https://{addr}/wsman"),
        addr,
    };
    let after_unprovision = tokio::task::spawn_blocking(move || {
        // Host-based setup as $$OsAdmin over LMS, as rpc relays it for RPS.
        let local = format!("http://{lms}/wsman");
        let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
        let (status, body) = curl_wsman(&local, &user, &lsa_password, &get);
        assert_eq!(status, "200", "{body}");
        let realm = element(&body, "DigestRealm").expect("DigestRealm");
        let ha1 = support::ha1_hex("admin", &realm, PASSWORD);
        let setup = wsman_messages_request(
            "IPS",
            "HostBasedSetupService",
            "Setup",
            &format!(r#"[2,"{ha1}"]"#),
        );
        assert_eq!(
            return_value(&curl_wsman(&local, &user, &lsa_password, &setup)),
            0
        );
        let provisioned_cert = openssl_fetch_certificate(addr);
        assert_ne!(
            provisioned_cert, factory_cert,
            "provisioning start minted a certificate"
        );

        // TLS with the console's own certificate (the B2 flow).
        let ca = TestCa::new("Console CA");
        let (cert, der) = console.enroll_generated_key(&ca);
        assert_eq!(return_value(&console.add_trusted_root(&ca.der)), 0);
        console.switch_to(cert);
        console.assert_serves(&der, &ca);

        // Deactivation, as RPS does it.
        let unprovision =
            wsman_messages_request("AMT", "SetupAndConfigurationService", "Unprovision", "[1]");
        assert_eq!(return_value(&console.post(&unprovision)), 0);
        let after = openssl_fetch_certificate(addr);
        assert_ne!(after, der, "the console's certificate is gone");
        assert_ne!(after, provisioned_cert);
        assert_ne!(after, factory_cert);
        after
    })
    .await
    .expect("console flow");
    let (state, self_signed) = emu.host().with_device(|d| {
        (
            d.provisioning_state().as_u8(),
            d.cert_store().self_signed().map(|c| c.der.clone()),
        )
    });
    assert_eq!(state, 0, "pre-provisioning again");
    assert_eq!(
        self_signed,
        Some(after_unprovision),
        "the new read-only self-signed certificate"
    );
    emu.shutdown().await;
}
