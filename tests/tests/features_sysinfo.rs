//! System information end to end: what the customer's `remoto` prints
//! before connecting ("The technician will see: …") is exactly what the
//! technician's `viewer` shows (`system_info` event), and the decrypted
//! customer hello the viewer received (its `incoming` event) holds only the
//! fields the profile's `share_system_info` list allows.

mod features_common;

use features_common::*;
use std::collections::BTreeMap;
use tests::remoto::Remoto;
use tests::{Artifacts, TIMEOUT, XServer};

/// The `key: value` pairs of remoto's "The technician will see: …" line.
fn customer_was_shown(remoto: &mut Remoto) -> BTreeMap<String, String> {
    let line = remoto.wait_line("the technician will see", TIMEOUT, |l| {
        l.starts_with("The technician will see:")
    });
    let rest = line.trim_start_matches("The technician will see:").trim();
    if rest == "nothing about this computer." {
        return BTreeMap::new();
    }
    rest.split("; ")
        .map(|kv| {
            let (k, v) = kv
                .split_once(": ")
                .unwrap_or_else(|| panic!("bad item {kv:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Hello JSON field names for each profile item.
fn hello_fields(item: &str) -> &'static [&'static str] {
    match item {
        "os" => &["os"],
        "hostname" => &["computer_name"],
        "username" => &["user_name"],
        "screen" => &["screen", "monitors"],
        "cpu" => &["cpu"],
        "memory" => &["memory"],
        "network" => &["network"],
        other => panic!("unknown item {other}"),
    }
}

fn check(test: &str, share: &[&str]) {
    let art = Artifacts::new(test);
    let x = XServer::xvfb(&art, 320, 240);
    let port = tests::net::free_port();
    let bin = packed_remoto(&art, port, share);
    let mut viewer = start_viewer(&art, port);
    let mut remoto = Remoto::spawn(
        "remoto",
        connect(&bin, &x.display(), &[]).env("USER", "anna"),
        &art,
    );
    let shown = customer_was_shown(&mut remoto);
    wait_connected(&mut remoto, &mut viewer);

    // The viewer shows exactly what the customer was shown.
    let info = wait_event(&mut viewer, "system_info", |_| true);
    let got: BTreeMap<String, String> = info["info"]
        .as_object()
        .expect("info object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("text").to_string()))
        .collect();
    assert_eq!(got, shown, "viewer vs customer");

    // The decrypted hello holds nothing beyond the allowed fields.
    let incoming = first_event(&viewer, "incoming").expect("incoming event");
    let hello = incoming["customer"].as_object().expect("hello object");
    let mut allowed: Vec<&str> = vec!["v", "program_version", "os"];
    for item in share {
        allowed.extend_from_slice(hello_fields(item));
    }
    for key in hello.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "field {key:?} sent but not allowed by {share:?}: {incoming}"
        );
    }
    if !share.contains(&"os") {
        assert_eq!(hello["os"], "", "os sent although not allowed: {incoming}");
    }
    // Everything allowed and available was sent and shown.
    for item in share {
        let key = hello_fields(item)[0];
        let shown_key = match key {
            "computer_name" | "user_name" | "os" | "screen" | "cpu" | "memory" | "network" => key,
            _ => unreachable!(),
        };
        if *item == "network" && !hello.contains_key("network") {
            continue; // a container may have no interface besides loopback
        }
        assert!(shown.contains_key(shown_key), "{item} not shown: {shown:?}");
    }
    if share.contains(&"username") {
        assert_eq!(shown.get("user_name").map(String::as_str), Some("anna"));
    }
    remoto.send("close");
    remoto.wait_exit(TIMEOUT).expect("remoto exits");
}

#[test]
fn only_the_profile_list_is_sent() {
    check("features_sysinfo_some", &["hostname", "cpu", "memory"]);
}

#[test]
fn everything_allowed_is_shown_identically() {
    check(
        "features_sysinfo_all",
        &[
            "os", "hostname", "username", "screen", "cpu", "memory", "network",
        ],
    );
}

#[test]
fn nothing_allowed_sends_nothing() {
    check("features_sysinfo_none", &[]);
}
