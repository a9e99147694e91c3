//! Real network conditions: the customer (Remoto) and the technician
//! (`viewer listen`) on two "hosts" — network namespaces joined by a veth
//! pair (`tests::netns::NetPair`) — plus an HTTP
//! CONNECT proxy (tinyproxy) on loopback. Needs root (CAP_NET_ADMIN).
//!
//! - `latency_50ms`, `latency_200ms` (a delaying relay: this kernel has no
//!   `sch_netem`), `bandwidth_2mbit` (`tc tbf` between the namespaces): the
//!   session stays usable: the picture converges after a burst of changes
//!   (no growing queue) and the technician's input still arrives; times
//!   are printed;
//! - `link_down_mid_session`: both sides notice within the crypto
//!   channel's 15 s idle timeout, Remoto exits with code 1, the viewer
//!   logs the end reason and the log verifies; nothing of Remoto remains
//!   (process, child, socket) and, under `strace -f`, it never listened,
//!   accepted or opened a file for writing;
//! - `technician_disconnect_nothing_remains`: the technician closes; the
//!   same "nothing remains" checks;
//! - `technician_unreachable_refused` / `technician_unreachable_silent`:
//!   a clear message and exit code 4, no hang;
//! - `http_connect_proxy`: the whole session through tinyproxy.

use std::process::Command;
use std::time::{Duration, Instant};

use tests::net::DelayRelay;
use tests::netns::{NetPair, TECHNICIAN_ADDR};
use tests::process::{ChildGuard, require_tool};
use tests::remoto::{Remoto, connect_command, descendants_of, forbidden_syscall};
use tests::viewer::{
    NETNS_CLEAR_ID, NETNS_CRYPTO_ID, Viewer, ViewerOptions, demo_key, shared_remoto,
};
use tests::{Artifacts, Image, TIMEOUT, XServer, test_picture};

const W: u32 = 320;
const H: u32 = 240;
/// How long a slow link may take to deliver a picture.
const SLOW: Duration = Duration::from_secs(60);

fn show_on(art: &Artifacts, x: &XServer, variant: u32) -> Image {
    x.show_picture(
        art,
        &format!("customer-{variant}"),
        &test_picture(x.width(), x.height(), variant),
    );
    x.stable_screenshot()
}

/// The technician's viewer inside the technician namespace, on
/// `10.77.0.2:5500`, with the demo key.
fn technician(art: &Artifacts, pair: &NetPair) -> Viewer {
    let key = demo_key(art);
    let mut opts = ViewerOptions::loopback(5500, &key);
    opts.bind = TECHNICIAN_ADDR.into();
    opts.netns = Some(pair.technician.clone());
    Viewer::start(art, "viewer", &opts)
}

/// Remoto inside the customer namespace connecting to `id`; under
/// `strace -f` (trace in `trace.txt`) when `trace` is set. Returns the
/// process and Remoto's own PID (strace's child when traced).
fn customer_remoto(
    art: &Artifacts,
    pair: &NetPair,
    x: &XServer,
    id: &str,
    trace: bool,
) -> (Remoto, u32) {
    let (bin, _slot) = shared_remoto();
    let remoto = if trace {
        let strace = require_tool("strace", "strace");
        let mut cmd = pair.exec(&pair.customer, strace);
        cmd.args([
            "-f",
            "-e",
            "trace=socket,bind,listen,accept,accept4,connect,openat,creat,rename,unlink",
            "-o",
        ])
        .arg(art.path("trace.txt"))
        .arg(&bin)
        .args(["connect", id, "--yes", "--allow-control", "--display"])
        .arg(x.display())
        .env_remove("DISPLAY");
        Remoto::spawn("remoto", &mut cmd, art)
    } else {
        let mut cmd = connect_command(
            &bin,
            id,
            &x.display(),
            &["--allow-control"],
            Some(&pair.customer),
        );
        Remoto::spawn("remoto", &mut cmd, art)
    };
    let pid = if trace {
        let parent = remoto.pid();
        tests::wait_for("remoto under strace", TIMEOUT, || {
            tests::remoto::children_of(parent).into_iter().next()
        })
    } else {
        remoto.pid()
    };
    (remoto, pid)
}

/// Nothing of Remoto (PID `pid`) remains: no process, no child, no socket
/// in the customer namespace; with a trace, no listen/accept/bind/write.
fn assert_nothing_remains(art: &Artifacts, pair: &NetPair, pid: u32, trace: bool) {
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "remoto (pid {pid}) still exists"
    );
    let left = descendants_of(pid);
    assert!(left.is_empty(), "remoto left processes: {left:?}");
    let ss = pair.ss(&pair.customer, "-tanupH");
    art.write("ss-after.txt", &ss);
    assert!(
        !ss.contains(&format!("pid={pid},")),
        "sockets of remoto remain:\n{ss}"
    );
    if trace {
        let text = std::fs::read_to_string(art.path("trace.txt")).expect("strace output");
        assert!(text.contains("connect("), "the trace shows no connect");
        let bad: Vec<String> = text
            .lines()
            .filter_map(|l| forbidden_syscall(l).map(|why| format!("{why}: {l}")))
            .collect();
        assert!(
            bad.is_empty(),
            "remoto listened or wrote files:\n{}",
            bad.join("\n")
        );
    }
}

/// Samples `ss -ltnupH` in the customer namespace: Remoto never listens.
fn assert_not_listening(art: &Artifacts, pair: &NetPair, pid: u32) {
    let out = pair.ss(&pair.customer, "-ltnupH");
    art.write("ss-listening.txt", &out);
    assert!(
        !out.contains(&format!("pid={pid},")),
        "remoto listens:\n{out}"
    );
    let est = pair.ss(&pair.customer, "-tanpH");
    assert!(
        est.contains(&format!("pid={pid},")),
        "ss does not show remoto's connection (method check):\n{est}"
    );
}

/// A session across a slow path: picture, a burst of 4 changes (only the
/// last must arrive, within `SLOW`: updates coalesce, no queue builds up),
/// input round trip, Close. `delay`: one-way latency added by a
/// [`DelayRelay`] on loopback (the kernel here has no `netem`);
/// `rate_kbit`: a `tbf` rate limit on the link between two namespaces.
fn slow_session(test: &str, delay: Option<Duration>, rate_kbit: Option<u32>) {
    let art = Artifacts::new(test);
    let x = XServer::xvfb(&art, W, H);
    let first = show_on(&art, &x, 0);
    let t0 = Instant::now();
    let (mut viewer, mut remoto, pid, pair) = match (delay, rate_kbit) {
        (Some(delay), None) => {
            let key = demo_key(&art);
            let (bin, slot) = shared_remoto();
            let port = tests::net::free_port();
            let viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));
            // Remoto connects to its slot's port: the relay listens there,
            // the viewer on a free port behind it.
            let relay = DelayRelay::start_on(slot.port, tests::net::loopback(port), delay);
            art.write("relay.txt", format!("{relay:?} delay {delay:?}\n"));
            let mut cmd = connect_command(
                &bin,
                &slot.crypto_id,
                &x.display(),
                &["--allow-control"],
                None,
            );
            let remoto = Remoto::spawn("remoto", &mut cmd, &art);
            let pid = remoto.pid();
            (viewer, remoto, pid, None)
        }
        (None, Some(rate)) => {
            let pair = NetPair::new(&art);
            pair.limit_rate(rate);
            let viewer = technician(&art, &pair);
            let (remoto, pid) = customer_remoto(&art, &pair, &x, NETNS_CRYPTO_ID, false);
            (viewer, remoto, pid, Some(pair))
        }
        _ => unreachable!("one condition at a time"),
    };
    let connected = viewer.wait_event("connected", SLOW, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session");
    viewer.wait_snapshot(&art, "first", session, &first, SLOW);
    let first_time = t0.elapsed();
    if let Some(pair) = &pair {
        assert_not_listening(&art, pair, pid);
    }

    // A burst of changes: the picture must converge on the last one.
    let t1 = Instant::now();
    let mut last = first;
    for v in 1..=4 {
        last = show_on(&art, &x, v);
    }
    viewer.wait_snapshot(&art, "burst", session, &last, SLOW);
    let burst_time = t1.elapsed();

    let t2 = Instant::now();
    viewer.send(&format!("pointer {session} 0 33 44"));
    x.wait_pointer((33, 44));
    let input_time = t2.elapsed();
    eprintln!(
        "{test}: first picture {first_time:?} (connect included), burst converged {burst_time:?}, input {input_time:?}"
    );
    art.write(
        "timings.txt",
        format!("first {first_time:?}\nburst {burst_time:?}\ninput {input_time:?}\n"),
    );
    remoto.send("close");
    let status = remoto
        .wait_exit(SLOW)
        .expect("remoto did not exit after close");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", remoto.stderr_text());
    viewer.wait_event("ended", SLOW, |e| e["event"] == "ended");
    viewer.verify_logs(1);
    if let Some(pair) = &pair {
        assert_nothing_remains(&art, pair, pid, false);
    }
}

#[test]
fn latency_50ms() {
    slow_session("net_latency_50ms", Some(Duration::from_millis(50)), None);
}

#[test]
fn latency_200ms() {
    slow_session("net_latency_200ms", Some(Duration::from_millis(200)), None);
}

#[test]
fn bandwidth_2mbit() {
    slow_session("net_bandwidth_2mbit", None, Some(2000));
}

#[test]
fn link_down_mid_session() {
    let art = Artifacts::new("net_link_down_mid_session");
    let pair = NetPair::new(&art);
    let mut viewer = technician(&art, &pair);
    let x = XServer::xvfb(&art, W, H);
    let first = show_on(&art, &x, 0);
    let (mut remoto, pid) = customer_remoto(&art, &pair, &x, NETNS_CRYPTO_ID, true);
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session");
    viewer.wait_snapshot(&art, "first", session, &first, TIMEOUT);
    assert_not_listening(&art, &pair, pid);

    let t = Instant::now();
    pair.link_down();
    let limit = Duration::from_secs(25);
    let ended = viewer.wait_event("ended", limit, |e| e["event"] == "ended");
    let viewer_noticed = t.elapsed();
    let status = remoto
        .wait_exit(limit.saturating_sub(t.elapsed()) + Duration::from_secs(1))
        .unwrap_or_else(|| {
            panic!(
                "remoto still runs {:?} after the link went down",
                t.elapsed()
            )
        });
    let remoto_noticed = t.elapsed();
    eprintln!(
        "link down: viewer noticed after {viewer_noticed:?}, remoto exited after {remoto_noticed:?}"
    );
    art.write(
        "timings.txt",
        format!("viewer {viewer_noticed:?}\nremoto {remoto_noticed:?}\n"),
    );
    assert!(
        viewer_noticed <= Duration::from_secs(20) && remoto_noticed <= Duration::from_secs(20),
        "noticed too late: viewer {viewer_noticed:?}, remoto {remoto_noticed:?}"
    );
    let reason = ended["reason"].as_str().unwrap_or("");
    assert!(!reason.is_empty(), "no end reason: {ended}");
    // strace exits with the traced program's status.
    assert_eq!(
        status.code(),
        Some(1),
        "remoto's exit code after a lost connection; stderr:\n{}",
        remoto.stderr_text()
    );
    assert!(
        remoto.stderr_text().contains("remoto:"),
        "no reason on stderr: {}",
        remoto.stderr_text()
    );
    let logs = viewer.verify_logs(1);
    assert!(
        logs[0].contains(reason),
        "the log does not hold the end reason {reason:?}"
    );
    assert_nothing_remains(&art, &pair, pid, true);
}

#[test]
fn technician_disconnect_nothing_remains() {
    let art = Artifacts::new("net_technician_disconnect_nothing_remains");
    let pair = NetPair::new(&art);
    let mut viewer = technician(&art, &pair);
    let x = XServer::xvfb(&art, W, H);
    let first = show_on(&art, &x, 0);
    let (mut remoto, pid) = customer_remoto(&art, &pair, &x, NETNS_CLEAR_ID, true);
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session");
    viewer.wait_snapshot(&art, "first", session, &first, TIMEOUT);
    assert_not_listening(&art, &pair, pid);
    viewer.send(&format!("close {session}"));
    let status = remoto
        .wait_exit(TIMEOUT)
        .expect("remoto did not exit after the technician closed");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", remoto.stderr_text());
    assert!(remoto.stdout_text().contains("Remoto is closed"));
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    viewer.verify_logs(1);
    assert_nothing_remains(&art, &pair, pid, true);
}

/// Remoto in the customer namespace with nobody listening (`silent`:
/// every packet is dropped, so nothing answers at all): exit code 4
/// within `limit` with a message naming the endpoint, why, and the phones.
fn unreachable(test: &str, silent: bool, limit: Duration, why: &str) {
    let art = Artifacts::new(test);
    let pair = NetPair::new(&art);
    if silent {
        pair.blackhole();
    }
    let x = XServer::xvfb(&art, W, H);
    let t = Instant::now();
    let (mut remoto, _) = customer_remoto(&art, &pair, &x, NETNS_CRYPTO_ID, false);
    let status = remoto
        .wait_exit(limit)
        .unwrap_or_else(|| panic!("remoto hangs: still running after {limit:?}"));
    eprintln!("{test}: gave up after {:?}", t.elapsed());
    let err = remoto.stderr_text();
    assert_eq!(status.code(), Some(4), "stderr:\n{err}");
    assert!(err.contains("not reachable"), "stderr:\n{err}");
    assert!(
        err.contains("10.77.0.2:5500"),
        "the endpoint is not named:\n{err}"
    );
    assert!(err.to_lowercase().contains(why), "no {why:?} in:\n{err}");
    assert!(
        err.contains("+39 02 1234567"),
        "the phones are not named:\n{err}"
    );
}

#[test]
fn technician_unreachable_refused() {
    unreachable(
        "net_unreachable_refused",
        false,
        Duration::from_secs(15),
        "refused",
    );
}

#[test]
fn technician_unreachable_silent() {
    // Remoto gives up after its 10 s attempt timeout.
    unreachable(
        "net_unreachable_silent",
        true,
        Duration::from_secs(20),
        "no answer",
    );
}

/// tinyproxy on a free loopback port, logging to the artifacts.
fn tinyproxy(art: &Artifacts) -> (ChildGuard, u16) {
    let bin = require_tool("tinyproxy", "tinyproxy");
    let port = tests::net::free_port();
    let log = art.path("tinyproxy.log");
    std::fs::write(&log, "").expect("tinyproxy log");
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .expect("chmod the tinyproxy log");
    let conf = art.write(
        "tinyproxy.conf",
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 20\nLogLevel Info\n\
             LogFile \"{}\"\nAllow 127.0.0.1\n",
            log.display()
        ),
    );
    let mut cmd = Command::new(bin);
    cmd.arg("-d").arg("-c").arg(&conf);
    let mut guard = ChildGuard::spawn_logged("tinyproxy", &mut cmd, art.dir());
    tests::wait_for("tinyproxy to listen", TIMEOUT, || {
        guard.assert_running();
        tests::net::is_listening(port).then_some(())
    });
    (guard, port)
}

#[test]
fn http_connect_proxy() {
    let art = Artifacts::new("net_http_connect_proxy");
    let (_proxy, proxy_port) = tinyproxy(&art);
    let key = demo_key(&art);
    let (bin, slot) = shared_remoto();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(slot.port, &key));
    let x = XServer::xvfb(&art, W, H);
    let first = show_on(&art, &x, 0);
    let mut cmd = connect_command(&bin, &slot.crypto_id, &x.display(), &[], None);
    cmd.env("https_proxy", format!("http://127.0.0.1:{proxy_port}"));
    let mut remoto = Remoto::spawn("remoto", &mut cmd, &art);
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session");
    viewer.wait_snapshot(&art, "first", session, &first, TIMEOUT);
    let second = show_on(&art, &x, 1);
    viewer.wait_snapshot(&art, "second", session, &second, TIMEOUT);
    let log = std::fs::read_to_string(art.path("tinyproxy.log")).unwrap_or_default();
    assert!(
        log.contains(&format!("CONNECT 127.0.0.1:{}", slot.port))
            || log.contains(&format!("127.0.0.1:{}", slot.port)),
        "tinyproxy did not carry the session:\n{log}"
    );
    remoto.send("close");
    let status = remoto.wait_exit(TIMEOUT).expect("remoto did not exit");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", remoto.stderr_text());
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    viewer.verify_logs(1);
}
