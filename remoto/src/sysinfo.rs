//! System information for the technician: only what the profile's
//! `share_system_info` list allows, read with the standard library from
//! `/etc/os-release`, `/proc` and `/sys` (and the environment on Windows).
//!
//! The customer is shown exactly [`CustomerHello::shared_fields`] of the
//! hello built here before anything is sent ("the technician will see: …"),
//! and the same hello is what the handshake carries.

use crypto::hello::{CustomerHello, MAX_FIELD, MAX_LIST, ScreenSize};
use profiles::model::{Profile, SystemInfo};
use rfb::Rect;

/// Builds the customer hello with only the profile's allowed items.
/// `monitors` are the screen's monitors (shared with `screen`).
pub fn customer_hello(profile: &Profile, screen: (u16, u16), monitors: &[Rect]) -> CustomerHello {
    let share = &profile.session.share_system_info;
    let has = |i: SystemInfo| share.contains(&i);
    let os = if has(SystemInfo::Os) {
        os_description()
    } else {
        String::new()
    };
    let mut hello = CustomerHello::new(env!("CARGO_PKG_VERSION"), &clip(&os));
    if has(SystemInfo::Screen) {
        hello.screen = Some(ScreenSize {
            width: screen.0,
            height: screen.1,
        });
        if !monitors.is_empty() {
            hello.monitors = Some(
                monitors
                    .iter()
                    .take(MAX_LIST)
                    .map(|m| format!("{}x{}+{}+{}", m.w, m.h, m.x, m.y))
                    .collect(),
            );
        }
    }
    if has(SystemInfo::Hostname) {
        hello.computer_name = hostname().map(|s| clip(&s));
    }
    if has(SystemInfo::Username) {
        hello.user_name = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .map(|s| clip(&s));
    }
    if has(SystemInfo::Cpu) {
        hello.cpu = cpu().map(|s| clip(&s));
    }
    if has(SystemInfo::Memory) {
        hello.memory = memory().map(|s| clip(&s));
    }
    if has(SystemInfo::Network) {
        let n = network();
        if !n.is_empty() {
            hello.network = Some(n.into_iter().take(MAX_LIST).map(|s| clip(&s)).collect());
        }
    }
    hello
}

/// The "the technician will see: …" lines for the customer.
pub fn describe(hello: &CustomerHello) -> Vec<String> {
    hello
        .shared_fields()
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

/// Keeps at most [`MAX_FIELD`] bytes (on a character boundary) and no
/// control characters, so the hello always validates.
fn clip(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_FIELD {
            break;
        }
        out.push(c);
    }
    out
}

/// `linux (Debian GNU/Linux 13 (trixie)), kernel 6.1.0`.
pub fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let mut s = std::env::consts::OS.to_string();
    if let Some(p) = pretty {
        s.push_str(&format!(" ({p})"));
    }
    if let Some(k) = kernel {
        s.push_str(&format!(", kernel {k}"));
    }
    s
}

/// The computer's name.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|s| !s.is_empty())
}

/// `8 x Intel(R) Core(TM) i5 …`.
pub fn cpu() -> Option<String> {
    let count = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name") || l.starts_with("Hardware"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    let model = model
        .or_else(|| std::env::var("PROCESSOR_IDENTIFIER").ok())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    Some(format!("{count} x {model}"))
}

/// Installed memory, e.g. `15.6 GiB`.
pub fn memory() -> Option<String> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
}

/// Network interfaces (not loopback) with their IPv4 addresses:
/// `eth0 192.0.2.7`, read from `/proc/net/fib_trie` and `/sys/class/net`.
pub fn network() -> Vec<String> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return out;
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    let addrs = local_ipv4();
    for n in names {
        let state = std::fs::read_to_string(format!("/sys/class/net/{n}/operstate"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let mine: Vec<&str> = addrs
            .iter()
            .filter(|(i, _)| *i == n)
            .map(|(_, a)| a.as_str())
            .collect();
        let mut line = n.clone();
        if !mine.is_empty() {
            line.push(' ');
            line.push_str(&mine.join(" "));
        }
        if !state.is_empty() && state != "up" {
            line.push_str(&format!(" ({state})"));
        }
        out.push(line);
    }
    out
}

/// (interface, IPv4 address) pairs from `/proc/net/route` and `/proc/net/fib_trie`.
fn local_ipv4() -> Vec<(String, String)> {
    // fib_trie lists "/32 host LOCAL" entries under each address; route maps
    // networks to interfaces.
    let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") else {
        return Vec::new();
    };
    let routes: Vec<(String, u32, u32)> = std::fs::read_to_string("/proc/net/route")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            Some((
                f.first()?.to_string(),
                u32::from_be(dest),
                u32::from_be(mask),
            ))
        })
        .collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut last_ip: Option<std::net::Ipv4Addr> = None;
    for l in trie.lines() {
        let t = l.trim_start_matches([' ', '|', '-', '+']).trim();
        if let Ok(ip) = t.parse::<std::net::Ipv4Addr>() {
            last_ip = Some(ip);
        } else if t.contains("/32 host LOCAL")
            && let Some(ip) = last_ip
            && !ip.is_loopback()
        {
            let v = u32::from(ip);
            let iface = routes
                .iter()
                .filter(|(_, d, m)| *m != 0 && v & m == *d)
                .max_by_key(|(_, _, m)| m.count_ones())
                .map(|(i, _, _)| i.clone());
            if let Some(i) = iface {
                let entry = (i, ip.to_string());
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use profiles::model::Session;

    fn profile(share: Vec<SystemInfo>) -> Profile {
        let text = r#"
[brand]
name = "t"
[[technician]]
id = "A"
endpoints = ["127.0.0.1:5500"]
mode = "clear"
"#;
        let mut p = profiles::validate(text.as_bytes(), "t.toml", None)
            .unwrap()
            .profile;
        p.session = Session {
            share_system_info: share,
            ..Session::default()
        };
        p
    }

    #[test]
    fn only_allowed_items_are_filled() {
        let none = customer_hello(&profile(vec![]), (800, 600), &[]);
        assert!(none.shared_fields().is_empty());
        let all = customer_hello(
            &profile(SystemInfo::ALL.to_vec()),
            (800, 600),
            &[Rect::new(0, 0, 800, 600)],
        );
        all.validate().unwrap();
        let keys: Vec<_> = all.shared_fields().into_iter().map(|(k, _)| k).collect();
        for k in ["os", "screen", "monitors", "cpu", "memory"] {
            assert!(keys.contains(&k), "{k} missing in {keys:?}");
        }
        let os_only = customer_hello(&profile(vec![SystemInfo::Os]), (1, 1), &[]);
        let keys: Vec<_> = os_only
            .shared_fields()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["os"]);
        assert!(describe(&os_only)[0].starts_with("os: "));
        assert_eq!(clip(&"é".repeat(100)).len(), 128);
    }
}
