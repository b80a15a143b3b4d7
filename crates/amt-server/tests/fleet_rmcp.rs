//! Discovery of a fleet: dormant members answer the ASF presence ping on
//! UDP 623 (RMCP, DMTF DSP0136) as consoles' scanners send it (MeshCentral's
//! "Scan for Intel AMT" pings 623 across an address range), without being
//! made; once a member wakes, its live device answers on the same socket.
//!
//! The ping comes from a small UDP client written against the DSP0136 byte
//! layout (as in firmware_generations.rs), not against `amt-rmcp`; the
//! fleet's state is read from its control API with curl.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use amt_server::fleet::{Addressing, FleetConfig, GroupConfig};
use amt_server::{Fleet, MemberState, Ports};
use support::{read_pong, rmcp_ping, Pong};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const PASSWORD: &str = "P@ssw0rd";

/// UDP 623 + 15301 on every member's own address (the port offsets of
/// this test binary are 15300..15340), so a closed port can be checked by
/// binding it.
const RMCP_PORT: u16 = 623 + 15301;

/// Pings `addr` (again every second, as a scanner retries) until a pong
/// with `tag` comes back; generous overall wait for a busy machine.
async fn pong_from(addr: SocketAddr, tag: u8) -> Pong {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("client socket");
    let mut buf = [0u8; 512];
    for _ in 0..30 {
        socket
            .send_to(&rmcp_ping(tag), addr)
            .await
            .expect("ping sent");
        if let Ok(got) =
            tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await
        {
            let (n, from) = got.expect("received");
            assert_eq!(from, addr);
            let pong = read_pong(&buf[..n]);
            if pong.tag == tag {
                return pong;
            }
        }
    }
    panic!("no pong from {addr} in 30 s");
}

/// Whether nothing holds UDP `addr` (so nothing can answer there): we can
/// bind it ourselves.
fn udp_free(addr: SocketAddr) -> bool {
    std::net::UdpSocket::bind(addr).is_ok()
}

/// GET on the fleet control API with curl.
fn devices(api: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "60"])
        .arg(format!("{api}/api/devices"))
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/run)");
    serde_json::from_slice(&out.stdout).expect("JSON from /api/devices")
}

fn states(api: &str) -> Vec<(String, String)> {
    let list = devices(api);
    list.as_array()
        .expect("a list of devices")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap_or_default().to_string(),
                d["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn group(name: &str, count: u32, firmware: &str, address: Ipv4Addr) -> GroupConfig {
    let mut g = GroupConfig::new(name, count);
    g.firmware = Some(firmware.parse().expect("firmware version"));
    g.address = Some(IpAddr::V4(address));
    g
}

/// Wakes a member the way a console does: a TCP connection and a request.
async fn touch(http: SocketAddr) {
    let mut stream = TcpStream::connect(http).await.expect("connect");
    stream
        .write_all(b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buf))
        .await
        .expect("an answer within 60 s")
        .expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 401"), "{:?}", &buf[..n]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dormant_members_answer_presence_pings_and_hand_the_socket_to_the_live_device() {
    let base = Ipv4Addr::new(127, 91, 0, 1);
    let mut ccm = group("ccm", 1, "15.0.23", Ipv4Addr::new(127, 91, 0, 11));
    ccm.admin_password = Some(PASSWORD.into());
    let config = FleetConfig {
        addressing: Addressing::Loopback,
        listen: IpAddr::V4(base),
        ports: Ports {
            rmcp: Some(RMCP_PORT),
            rmcp_secure: Some(RMCP_PORT + 1),
            ..Ports::ephemeral()
        },
        seed: Some(7),
        groups: vec![
            group("new", 3, "15.0.23", base),
            group("tls-only", 1, "16.1.25", Ipv4Addr::new(127, 91, 0, 21)),
            ccm,
        ],
        control: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..FleetConfig::default()
    };
    let fleet = Fleet::start(config, |_, _| {}).await.expect("fleet starts");
    let api = format!("http://{}", fleet.control_addr().expect("control API"));
    let members = fleet.members();
    assert_eq!(members.len(), 5);
    let in_group = |g: &str| {
        members
            .iter()
            .filter(|m| m.group == g)
            .cloned()
            .collect::<Vec<_>>()
    };

    // The factory 15.0 members: found by a ping, not configured, no port
    // advertised yet (AMT 6.1+), and still dormant after it.
    for (i, m) in in_group("new").iter().enumerate() {
        let addr = m.addrs().rmcp.expect("623 bound while dormant");
        let own = IpAddr::V4(Ipv4Addr::from(u32::from(base) + i as u32));
        assert_eq!(addr, SocketAddr::new(own, RMCP_PORT), "{}", m.id);
        let pong = pong_from(addr, 0x10 + i as u8).await;
        assert_eq!(
            pong,
            Pong {
                tag: 0x10 + i as u8,
                open_port: 0,
                major: 15,
                minor: 0,
                setup_state: 0,
            },
            "{}",
            m.id
        );
    }
    // The member a fleet starts in client control mode says setup is
    // complete and names 16992 as bound (no TLS before configuration).
    let provisioned = &in_group("ccm")[0];
    let http = provisioned.addrs().http.expect("16992 bound");
    let pong = pong_from(provisioned.addrs().rmcp.expect("623 bound"), 0x20).await;
    assert_eq!((pong.setup_state, pong.open_port), (2, http.port()));

    // CSME 16.1 closes 623 remotely with 16992: nothing listens there.
    let tls_only = &in_group("tls-only")[0];
    assert_eq!(tls_only.addrs().rmcp, None);
    // Its 664 (open with 16993) waits for the live device: it only drops.
    assert_eq!(tls_only.addrs().rmcp_secure, None);
    assert!(tls_only.addrs().http.is_none());
    assert!(udp_free(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 91, 0, 21)),
        RMCP_PORT
    )));

    // Nobody was made by the pings.
    for (id, state) in states(&api) {
        assert_eq!(state, "dormant", "{id}");
    }
    assert!(members
        .iter()
        .all(|m| matches!(m.state(), MemberState::Dormant)));

    // A console connects to one: it wakes, and its live device answers on
    // the same UDP address from then on.
    let woken = &in_group("new")[1];
    let rmcp = woken.addrs().rmcp.expect("623");
    touch(woken.addrs().http.expect("16992")).await;
    let host = woken.host().await.expect("made");
    assert_eq!(
        host.listener_addrs().rmcp,
        Some(rmcp),
        "the socket was handed over"
    );
    assert_eq!(pong_from(rmcp, 0x30).await.setup_state, 0);
    // The live device's state is what the pong says now.
    host.change_device(|d, _| {
        d.provision_client_for_testing(PASSWORD);
        Ok(())
    })
    .expect("provisioned");
    host.reconcile_listeners().await.expect("listeners follow");
    let pong = pong_from(rmcp, 0x31).await;
    assert_eq!(
        (pong.setup_state, pong.open_port),
        (2, host.listener_addrs().http.expect("16992").port())
    );
    let after = states(&api);
    for (id, state) in &after {
        let want = if *id == woken.id { "ready" } else { "dormant" };
        assert_eq!(state, want, "{id}");
    }

    // The member a fleet starts provisioned answers as it did when dormant.
    touch(http).await;
    let host = provisioned.host().await.expect("made");
    let rmcp = host.listener_addrs().rmcp.expect("623 handed over");
    let pong = pong_from(rmcp, 0x40).await;
    assert_eq!((pong.setup_state, pong.open_port), (2, http.port()));

    fleet.shutdown().await;
    // Removed members let go of their UDP ports.
    assert!(udp_free(SocketAddr::new(IpAddr::V4(base), RMCP_PORT)));
}

#[tokio::test(flavor = "multi_thread")]
async fn ports_addressing_gives_rmcp_a_slot_in_each_members_block() {
    let listen = IpAddr::V4(Ipv4Addr::new(127, 91, 1, 1));
    // Blocks 15310.. and 15320.. (this binary's offsets are 15300..15340).
    let config = FleetConfig {
        addressing: Addressing::Ports,
        listen,
        port_base: 15310,
        groups: vec![GroupConfig {
            firmware: Some("12.0.45".parse().expect("firmware version")),
            ..GroupConfig::new("g", 2)
        }],
        ..FleetConfig::default()
    };
    let fleet = Fleet::start(config, |_, _| {}).await.expect("fleet starts");
    for (i, m) in fleet.members().iter().enumerate() {
        let block = 15310 + 10 * i as u16;
        assert_eq!(m.addrs().http, Some(SocketAddr::new(listen, block)));
        let rmcp = SocketAddr::new(listen, block + amt_server::fleet::RMCP_BLOCK_OFFSET);
        assert_eq!(m.addrs().rmcp, Some(rmcp));
        let pong = pong_from(rmcp, i as u8).await;
        assert_eq!((pong.major, pong.minor, pong.setup_state), (12, 0, 0));
        assert!(matches!(m.state(), MemberState::Dormant), "{}", m.id);
    }
    fleet.shutdown().await;
}
