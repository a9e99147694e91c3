//! Two "hosts" on one machine: a customer and a technician network
//! namespace joined by a veth pair (`10.77.0.1` ↔ `10.77.0.2`), with
//! `tc tbf` for bandwidth, a route blackhole for silence and `ip link set
//! down` for link loss. Needs root (CAP_NET_ADMIN) and `ip`/`tc` from iproute2. Only
//! addresses inside the namespaces are used; both namespaces (and with
//! them the veth pair) are deleted on drop.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::artifacts::Artifacts;
use crate::process::{require_tool, run_ok, run_with_timeout};
use crate::wait::TIMEOUT;

/// The customer's address inside its namespace.
pub const CUSTOMER_ADDR: &str = "10.77.0.1";
/// The technician's address inside its namespace.
pub const TECHNICIAN_ADDR: &str = "10.77.0.2";

/// A customer and a technician namespace joined by a veth pair.
#[derive(Debug)]
pub struct NetPair {
    /// The customer's namespace name.
    pub customer: String,
    /// The technician's namespace name.
    pub technician: String,
    veth_customer: String,
    veth_technician: String,
    log: std::path::PathBuf,
}

fn ip(args: &[&str]) {
    run_ok(Command::new("ip").args(args), TIMEOUT);
}

impl NetPair {
    /// Creates both namespaces, the veth pair, the addresses, and brings
    /// every link (and each namespace's loopback) up.
    pub fn new(art: &Artifacts) -> NetPair {
        require_tool("ip", "iproute2");
        require_tool("tc", "iproute2");
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let pair = NetPair {
            customer: format!("rmt-cust-{tag}"),
            technician: format!("rmt-tech-{tag}"),
            veth_customer: format!("rvc{tag}"),
            veth_technician: format!("rvt{tag}"),
            log: art.path("netns.txt"),
        };
        ip(&["netns", "add", &pair.customer]);
        ip(&["netns", "add", &pair.technician]);
        ip(&[
            "link",
            "add",
            &pair.veth_customer,
            "netns",
            &pair.customer,
            "type",
            "veth",
            "peer",
            "name",
            &pair.veth_technician,
            "netns",
            &pair.technician,
        ]);
        for (ns, dev, addr) in [
            (&pair.customer, &pair.veth_customer, CUSTOMER_ADDR),
            (&pair.technician, &pair.veth_technician, TECHNICIAN_ADDR),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        pair.note("created");
        pair
    }

    fn note(&self, what: &str) {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.push_str(&format!("--- {what}\n"));
        for ns in [&self.customer, &self.technician] {
            if let Ok(o) = run_with_timeout(
                Command::new("ip").args(["-n", ns, "-brief", "addr"]),
                TIMEOUT,
            ) {
                text.push_str(&format!("{ns}:\n{}", o.stdout_text()));
            }
            if let Ok(o) = run_with_timeout(
                Command::new("tc").args(["-n", ns, "qdisc", "show"]),
                TIMEOUT,
            ) {
                text.push_str(&o.stdout_text());
            }
        }
        let _ = std::fs::write(&self.log, text);
    }

    /// A command that runs `program` inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }

    /// Limits both directions of the link to `rate_kbit` kbit/s with a
    /// token bucket (`tc qdisc … tbf`). (Latency would need `netem`, which
    /// some kernels — this project's CI VMs among them — do not have: use
    /// [`crate::net::DelayRelay`] for latency.)
    pub fn limit_rate(&self, rate_kbit: u32) {
        for (ns, dev) in [
            (&self.customer, &self.veth_customer),
            (&self.technician, &self.veth_technician),
        ] {
            let rate = format!("{rate_kbit}kbit");
            run_ok(
                Command::new("tc").args([
                    "-n",
                    ns.as_str(),
                    "qdisc",
                    "replace",
                    "dev",
                    dev.as_str(),
                    "root",
                    "tbf",
                    "rate",
                    rate.as_str(),
                    "burst",
                    "32kbit",
                    "latency",
                    "400ms",
                ]),
                TIMEOUT,
            );
        }
        self.note(&format!("rate limited to {rate_kbit} kbit/s"));
    }

    /// Takes the customer's end of the link down (packets are dropped,
    /// no reset is sent: both sides only notice by their own timeouts).
    pub fn link_down(&self) {
        ip(&[
            "-n",
            &self.customer,
            "link",
            "set",
            &self.veth_customer,
            "down",
        ]);
        self.note("customer link down");
    }

    /// Makes the technician's host silent without refusing anything: its
    /// route back to the customer becomes a blackhole, so its answers
    /// (SYN-ACK or reset) vanish and the customer hears nothing at all.
    pub fn blackhole(&self) {
        ip(&[
            "-n",
            &self.technician,
            "route",
            "replace",
            "blackhole",
            &format!("{CUSTOMER_ADDR}/32"),
        ]);
        self.note("technician's route back blackholed");
    }

    /// `ss ARGS` inside namespace `ns`.
    pub fn ss(&self, ns: &str, args: &str) -> String {
        let ss = require_tool("ss", "iproute2");
        run_ok(self.exec(ns, ss).arg(args), TIMEOUT).stdout_text()
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [&self.customer, &self.technician] {
            let _ = run_with_timeout(Command::new("ip").args(["netns", "del", ns]), TIMEOUT);
        }
    }
}
