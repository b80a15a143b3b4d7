//! The container image and the Kubernetes manifests (deploy/): the
//! manifests pass `kubernetes-validate --strict` against the Kubernetes API
//! schemas, the Dockerfile passes hadolint, and the entry point the image
//! runs (its ENTRYPOINT and CMD, read from the Dockerfile) starts the real
//! binary and answers a TLS handshake. No container engine runs on the
//! test machines, so the image itself is not built here; docs/deployment.md
//! says how to build it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{run, CLIENT_TIMEOUT};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tool from the Python clients' virtualenv (tests/clients/.venv).
fn venv_tool(name: &str) -> PathBuf {
    let path = repo().join("tests/clients/.venv/bin").join(name);
    assert!(
        path.exists(),
        "{name} is not installed: run .ci/install-clients"
    );
    path
}

#[test]
fn kubernetes_manifests_validate_strictly() {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/k8s"))
        .expect("deploy/k8s")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 3, "{manifests:?}");
    let mut cmd = Command::new(venv_tool("kubernetes-validate"));
    cmd.arg("--strict").args(&manifests);
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "{}\n{}", out.stdout, out.stderr);
    for kind in [
        "statefulset/amt-emu",
        "service/amt-emu",
        "service/amt-emu-control",
    ] {
        assert!(
            out.stdout.contains(kind) || out.stderr.contains(kind),
            "{kind}"
        );
    }
}

#[test]
fn a_broken_manifest_is_caught() {
    // The validator really checks: a StatefulSet without its selector fails.
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: x\nspec:\n  replicas: 1\n",
    )
    .expect("write");
    let mut cmd = Command::new(venv_tool("kubernetes-validate"));
    cmd.arg("--strict").arg(&bad);
    assert!(!run(cmd, CLIENT_TIMEOUT).success);
}

#[test]
fn the_dockerfile_lints_clean() {
    let mut cmd = Command::new(venv_tool("hadolint"));
    cmd.arg(repo().join("deploy/Dockerfile"));
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "{}\n{}", out.stdout, out.stderr);
}

/// The JSON array of a Dockerfile instruction (`ENTRYPOINT ["a", "b"]`).
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .rev()
        .find(|l| l.starts_with(instruction))
        .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"));
    serde_json::from_str(line[instruction.len()..].trim())
        .unwrap_or_else(|e| panic!("{instruction} is not in exec form: {e}"))
}

/// The `ENV` settings of the Dockerfile's final stage.
fn env_settings(dockerfile: &str) -> Vec<(String, String)> {
    let last_stage = dockerfile.rsplit("\nFROM ").next().unwrap_or(dockerfile);
    last_stage
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn the_image_entry_point_serves_tls_with_state_on_the_volume() {
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).expect("read");
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    let cmd = exec_form(&dockerfile, "CMD");
    assert_eq!(entrypoint, ["amt-emu"], "the image runs the binary itself");
    assert!(
        dockerfile.contains("\nUSER 10001\n"),
        "the image runs as non-root"
    );
    let env = env_settings(&dockerfile);
    let volume = env
        .iter()
        .find(|(k, _)| k == "AMT_EMU_STATE_DIR")
        .map(|(_, v)| v.clone())
        .expect("the image sets AMT_EMU_STATE_DIR");
    assert!(
        dockerfile.contains(&format!("VOLUME [\"{volume}\"]")),
        "the state directory is the volume"
    );

    // Run exactly that command line; only the volume is a temporary
    // directory here and the ports are shifted clear of other tests.
    let state = tempfile::tempdir().expect("temp dir");
    let mut args = cmd.clone();
    args.extend(["--port-offset".to_string(), "12900".to_string()]);
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| {
            if k == "AMT_EMU_STATE_DIR" {
                (k, state.path().display().to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let _server = support::Process::start(&args, &env, "device ready");
    let mut s_client = Command::new("openssl");
    s_client.args(["s_client", "-connect", "127.0.0.1:29893", "-brief"]);
    let out = run(s_client, CLIENT_TIMEOUT);
    assert!(
        out.stderr.contains("CONNECTION ESTABLISHED")
            || out.stdout.contains("CONNECTION ESTABLISHED"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        state.path().join("flash.img").exists(),
        "the device's flash lives on the volume: {:?}",
        std::fs::read_dir(state.path()).map(|d| d.count())
    );
}

/// The manifest as JSON, converted by the PyYAML that kubernetes-validate
/// brings into the clients' virtualenv.
fn manifest_json(path: &Path) -> serde_json::Value {
    let mut cmd = Command::new(venv_tool("python"));
    cmd.args([
        "-c",
        "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
    ])
    .arg(path);
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("JSON")
}

#[test]
fn the_statefulset_command_runs_its_slice_of_the_fleet() {
    let docs = manifest_json(&repo().join("deploy/k8s/statefulset.yaml"));
    let container = &docs[0]["spec"]["template"]["spec"]["containers"][0];
    let command: Vec<String> =
        serde_json::from_value(container["command"].clone()).expect("command");
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).expect("args");
    assert_eq!(command, ["/bin/sh", "-c"]);
    // The pod's environment, with the volume, the ports and the size of the
    // slice moved to what a test may use; pod 1 of the StatefulSet.
    let state = tempfile::tempdir().expect("temp dir");
    let mut env: Vec<(String, String)> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let overrides = [
        ("AMT_EMU_COUNT", "2".to_string()),
        ("AMT_EMU_PORT_BASE", "23100".to_string()),
        ("AMT_EMU_CONTROL", "127.0.0.1:23090".to_string()),
        ("AMT_EMU_STATE_DIR", state.path().display().to_string()),
        ("POD_NAME", "amt-emu-1".to_string()),
    ];
    for (k, v) in overrides {
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v));
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_amt-emu"))
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    env.push((
        "PATH".into(),
        format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default()),
    ));
    let _fleet = support::Process::start_program(
        &command[0],
        &[command[1].clone(), args[0].clone()],
        &env,
        "fleet ready",
    );
    let mut curl = Command::new("curl");
    curl.args(["-s", "http://127.0.0.1:23090/api/devices"]);
    let out = run(curl, CLIENT_TIMEOUT);
    let devices: serde_json::Value = serde_json::from_str(&out.stdout).expect("devices JSON");
    let text = devices.to_string();
    // Slice 1 of 2-device slices holds global indices 2 and 3.
    assert!(
        text.contains("dev-00002") && text.contains("dev-00003"),
        "{text}"
    );
    assert!(!text.contains("dev-00001"), "{text}");
    let mut health = Command::new("curl");
    health.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://127.0.0.1:23090/healthz",
    ]);
    assert_eq!(run(health, CLIENT_TIMEOUT).stdout, "200");
}
