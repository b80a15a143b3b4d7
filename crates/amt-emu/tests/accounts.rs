//! User accounts against the real `amt-emu` binary: an ACL user added with
//! the request Intel's wsman-messages builds logs in with `curl --digest`,
//! reads what its realm allows, gets the firmware's AccessDenied for the
//! rest, and cannot log in once removed.
//!
//! Port offset 9630 is this file's (cli.rs: 9000, 9100; conformance.rs:
//! 10000..10800).

mod support;

use base64::Engine;
use md5::{Digest, Md5};
use support::*;

#[test]
fn an_acl_user_logs_in_with_curl_and_is_held_to_its_realm() {
    let emu = Emu::start(9630, &["--firmware", "15.0.23"]);
    let url = format!("http://{}/wsman", emu.addr("Plain", "Remote"));
    let dir = tempfile::tempdir().expect("temp dir");
    let post = |user: &str, password: &str, xml: &str| {
        let r = post_as(&url, user, password, xml, dir.path());
        (r.status, r.body)
    };

    let general = wsman_messages("AMT", "GeneralSettings", "Get", None);
    let (status, body) = post("admin", PASSWORD, &general);
    assert_eq!(status, 200, "{body}");
    let realm = text(&body, "g:DigestRealm").expect("the realm");

    // A General Info user; the password goes over as base64 of its HA1.
    let password = "Op3rator!";
    let ha1: [u8; 16] = Md5::digest(format!("operator:{realm}:{password}")).into();
    let digest = base64::engine::general_purpose::STANDARD.encode(ha1);
    let add = wsman_messages(
        "AMT",
        "AuthorizationService",
        "AddUserAclEntryEx",
        Some(&format!(r#"[2,[13],"operator","{digest}"]"#)),
    );
    let (status, body) = post("admin", PASSWORD, &add);
    assert_eq!(status, 200, "{body}");
    assert_eq!(text(&body, "g:ReturnValue").as_deref(), Some("0"), "{body}");
    let handle = text(&body, "g:Handle").expect("a handle");

    let list = wsman_messages(
        "AMT",
        "AuthorizationService",
        "EnumerateUserAclEntries",
        Some("[1]"),
    );
    let (_, body) = post("admin", PASSWORD, &list);
    assert_eq!(all_texts(&body, "g:Handles"), std::slice::from_ref(&handle));
    let get = wsman_messages(
        "AMT",
        "AuthorizationService",
        "GetUserAclEntryEx",
        Some(&format!("[{handle}]")),
    );
    let (_, body) = post("admin", PASSWORD, &get);
    assert_eq!(text(&body, "g:DigestUsername").as_deref(), Some("operator"));
    assert_eq!(all_texts(&body, "g:Realms"), ["13"]);

    // The user reads the general settings...
    let (status, body) = post("operator", password, &general);
    assert_eq!(status, 200, "{body}");
    assert_eq!(text(&body, "g:DigestRealm"), Some(realm));
    // ... and is refused a PT Administration call.
    let setup = wsman_messages("AMT", "SetupAndConfigurationService", "Get", None);
    let (status, body) = post("operator", password, &setup);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<a:Value>e:AccessDenied</a:Value>"), "{body}");

    // Removed: no more logins.
    let remove = wsman_messages(
        "AMT",
        "AuthorizationService",
        "RemoveUserAclEntry",
        Some(&format!("[{handle}]")),
    );
    let (_, body) = post("admin", PASSWORD, &remove);
    assert_eq!(text(&body, "g:ReturnValue").as_deref(), Some("0"), "{body}");
    let (status, _) = post("operator", password, &general);
    assert_eq!(status, 401);
}
