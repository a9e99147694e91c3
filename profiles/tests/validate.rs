//! Hostile and broken profiles: every error at the right line and column.

use profiles::{
    Control, Language, Report, Security, SessionCodePolicy, Severity, SystemInfo, validate,
};
use time::macros::date;

const KEY: &str = "rmt17ga4i4tcgu63ji3anfvlh2h2fuod5n7fuvtmsmdp6ssk7sru3n4jnniv34";
const TODAY: time::Date = date!(2026 - 06 - 15);

fn good() -> String {
    format!(
        r#"[brand]
name = "claro.it"
title = "Assistenza remota"
message = "Telefona."
phones = ["+39 02 0000000", "+39 06 0000000"]
language = "it"
expires = 2027-12-31

[session]
control = "ask"
share_system_info = ["os", "hostname", "screen"]

[network]
proxy = "http://proxy.example.net:3128"

[[technician]]
id = "Verde"
endpoints = ["verde.example.net:5500", "198.51.100.7:5500", "[2001:db8::7]:5500"]
mode = "crypto"
public_key = "{KEY}"
session_code = "required"

[[technician]]
id = "Viola"
label = "rete interna"
endpoints = ["10.0.0.9:5500"]
mode = "clear"
note = "solo in sede"
"#
    )
}

fn errors(text: &str) -> Report {
    validate(text.as_bytes(), "team.toml", Some(TODAY)).expect_err("should fail")
}

/// `(line, column, message)` of every error.
fn list(r: &Report) -> Vec<(usize, usize, String)> {
    r.errors()
        .map(|d| (d.location.line, d.location.column, d.message.clone()))
        .collect()
}

/// Asserts exactly one error, at `line:col`, whose message contains `needle`.
#[track_caller]
fn one_error(text: &str, line: usize, col: usize, needle: &str) {
    let r = errors(text);
    let l = list(&r);
    assert_eq!(l.len(), 1, "expected one error, got:\n{r}");
    assert_eq!((l[0].0, l[0].1), (line, col), "wrong place:\n{r}");
    assert!(
        l[0].2.contains(needle),
        "message {:?} lacks {needle:?}",
        l[0].2
    );
}

fn minimal(tech: &str) -> String {
    format!("[brand]\nname = \"x\"\n\n[[technician]]\n{tech}\n")
}

#[test]
fn good_profile_is_typed() {
    let v = validate(good().as_bytes(), "team.toml", Some(TODAY)).unwrap();
    let p = v.profile;
    assert_eq!(p.brand.name, "claro.it");
    assert_eq!(p.brand.language, Language::It);
    assert_eq!(p.brand.expires, Some(date!(2027 - 12 - 31)));
    assert_eq!(p.session.control, Control::Ask);
    assert_eq!(
        p.session.share_system_info,
        vec![SystemInfo::Os, SystemInfo::Hostname, SystemInfo::Screen]
    );
    assert_eq!(
        p.network.proxy.unwrap().to_string(),
        "proxy.example.net:3128"
    );
    assert_eq!(p.technicians.len(), 2);
    let v0 = &p.technicians[0];
    assert_eq!(
        v0.endpoints
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>(),
        [
            "verde.example.net:5500",
            "198.51.100.7:5500",
            "[2001:db8::7]:5500"
        ]
    );
    assert_eq!(v0.public_key().unwrap().to_string(), KEY);
    assert_eq!(v0.session_code, SessionCodePolicy::Required);
    assert_eq!(p.technicians[1].security, Security::Clear);
    assert_eq!(p.technicians[1].label.as_deref(), Some("rete interna"));
    // The clear entry is a warning at its mode value.
    let w: Vec<_> = v.report.warnings().collect();
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].location.line, w[0].location.column), (27, 8));
    assert!(w[0].message.contains("NOT encrypted"));
    assert!(
        v.report
            .to_string()
            .starts_with("team.toml:27:8: warning: technician \"Viola\""),
        "{}",
        v.report
    );
}

#[test]
fn defaults() {
    let p = validate(
        minimal(&format!(
            "id = \"A\"\nendpoints = [\"a:1\"]\npublic_key = \"{KEY}\""
        ))
        .as_bytes(),
        "t",
        None,
    )
    .unwrap()
    .profile;
    assert_eq!(p.brand.title, "Remote assistance");
    assert_eq!(p.brand.language, Language::En);
    assert_eq!(p.session.control, Control::Ask);
    assert_eq!(
        p.session.share_system_info,
        vec![SystemInfo::Os, SystemInfo::Screen]
    );
    assert!(p.technicians[0].is_crypto(), "mode defaults to crypto");
    assert_eq!(p.technicians[0].session_code, SessionCodePolicy::Off);
    assert!(p.network.proxy.is_none());
}

#[test]
fn display_is_like_rustc() {
    let r = errors(&minimal(
        "id = \"A\"\nendpoints = [\"a.example:0\"]\nmode = \"clear\"",
    ));
    let first = r.to_string().lines().next().unwrap().to_string();
    assert_eq!(
        first,
        "team.toml:6:25: error: port 0 is out of range (expected 1-65535)"
    );
    let rendered = r.render();
    assert!(
        rendered.contains("6 | endpoints = [\"a.example:0\"]"),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("  | {}^\n", " ".repeat(24))),
        "{rendered}"
    );
    assert!(rendered.contains("1 error, 1 warning"), "{rendered}");
}

#[test]
fn missing_fields() {
    one_error(
        "[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        1,
        1,
        "no [brand]",
    );
    one_error(
        "[brand]\ntitle = \"t\"\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        1,
        1,
        "missing the required key \"name\"",
    );
    one_error(
        &minimal("endpoints = [\"a:1\"]\nmode = \"clear\""),
        4,
        1,
        "missing the required key \"id\"",
    );
    one_error(
        &minimal("id = \"A\"\nmode = \"clear\""),
        4,
        1,
        "has no endpoints",
    );
    one_error("[brand]\nname = \"x\"\n", 3, 1, "no technicians");
}

#[test]
fn wrong_types() {
    one_error(
        "[brand]\nname = 5\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        2,
        8,
        "must be a string, found an integer",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = \"a:1\"\nmode = \"clear\""),
        6,
        13,
        "must be an array, found a string",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"a:1\", 7]\nmode = \"clear\""),
        6,
        21,
        "an endpoint must be a string",
    );
    one_error(
        &minimal("id = true\nendpoints = [\"a:1\"]\nmode = \"clear\""),
        5,
        6,
        "found a boolean",
    );
    one_error(
        "brand = 3\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        1,
        9,
        "must be a table",
    );
    one_error(
        "[brand]\nname = \"x\"\n[technician]\nid = \"A\"\n",
        3,
        1,
        "must be an array",
    );
    one_error(
        "[brand]\nname = \"x\"\nexpires = \"soon\"\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        3,
        11,
        "is not a date",
    );
}

#[test]
fn unknown_keys_and_values() {
    one_error(
        &minimal("id = \"A\"\nendpoint = [\"a:1\"]\nendpoints = [\"a:1\"]\nmode = \"clear\""),
        6,
        1,
        "did you mean \"endpoints\"",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"a:1\"]\nmode = \"chiaro\""),
        7,
        8,
        "unknown mode \"chiaro\"",
    );
    one_error(
        "[brand]\nname = \"x\"\nlanguage = \"de\"\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        3,
        12,
        "expected \"it\" or \"en\"",
    );
    one_error(
        "[brand]\nname = \"x\"\n[session]\ncontrol = \"always\"\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        4,
        11,
        "view-only",
    );
    one_error(
        "[brand]\nname = \"x\"\n[session]\nshare_system_info = [\"os\", \"hostnme\"]\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        4,
        28,
        "did you mean \"hostname\"",
    );
    one_error(
        "[brand]\nname = \"x\"\ncolour = 1\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        3,
        1,
        "unknown key \"colour\" in [brand]",
    );
    one_error(
        "[brand]\nname = \"x\"\n[network]\nproxy = \"socks5://p:1\"\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        4,
        9,
        "http://",
    );
    one_error(
        "[brand]\nname = \"x\"\n[network]\nproxy = \"http://p:0\"\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n",
        4,
        19,
        "port 0",
    );
}

#[test]
fn duplicated_ids_report_both_places() {
    let text = minimal(
        "id = \"Verde\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n\n[[technician]]\nid = \"VERDE\"\nendpoints = [\"b:1\"]\nmode = \"clear\"",
    );
    let r = errors(&text);
    let d: Vec<_> = r.errors().collect();
    assert_eq!(d.len(), 1, "{r}");
    assert_eq!((d[0].location.line, d[0].location.column), (10, 6));
    assert!(d[0].message.contains("\"VERDE\" is used twice"));
    assert_eq!(
        (d[0].notes[0].location.line, d[0].notes[0].location.column),
        (5, 6)
    );
    assert!(
        r.to_string()
            .contains("team.toml:5:6: note: \"Verde\" is first used here"),
        "{r}"
    );
}

#[test]
fn empty_list() {
    one_error(
        "technician = []\n[brand]\nname = \"x\"\n",
        1,
        14,
        "technician list is empty",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = []\nmode = \"clear\""),
        6,
        13,
        "empty endpoint list",
    );
}

#[test]
fn endpoints() {
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"host.example\"]\nmode = \"clear\""),
        6,
        27,
        "has no port",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"h:0\"]\nmode = \"clear\""),
        6,
        17,
        "port 0 is out of range (expected 1-65535)",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"h:65536\"]\nmode = \"clear\""),
        6,
        17,
        "port 65536 is out of range",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"h:http\"]\nmode = \"clear\""),
        6,
        17,
        "not a number",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"::1:5500\"]\nmode = \"clear\""),
        6,
        15,
        "brackets",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"bad_name:5500\"]\nmode = \"clear\""),
        6,
        15,
        "not a valid host name",
    );
    // With an escape in the string, the column points at the string.
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"h\\u003a0\"]\nmode = \"clear\""),
        6,
        14,
        "port 0",
    );
}

#[test]
fn keys() {
    let k = |key: &str| {
        minimal(&format!(
            "id = \"A\"\nendpoints = [\"a:1\"]\nmode = \"crypto\"\npublic_key = \"{key}\""
        ))
    };
    one_error(&k("rmt1abc"), 8, 14, "62 characters long");
    one_error(
        &k(&KEY.replace('7', "A")),
        8,
        14,
        "only the letters a-z and digits 2-7",
    );
    one_error(
        &k(&KEY.replace("rmt1", "ssh-")),
        8,
        14,
        "starts with \"rmt1\"",
    );
    let mut typo = KEY.as_bytes().to_vec();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    one_error(&k(std::str::from_utf8(&typo).unwrap()), 8, 14, "checksum");
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"a:1\"]\nmode = \"crypto\""),
        7,
        1,
        "no public_key",
    );
    one_error(
        &minimal("id = \"A\"\nendpoints = [\"a:1\"]"),
        4,
        1,
        "(the default) but no public_key",
    );
    one_error(
        &minimal(&format!(
            "id = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\npublic_key = \"{KEY}\""
        )),
        8,
        14,
        "mode = \"clear\" and a public_key",
    );
    one_error(
        &minimal(
            "id = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\nsession_code = \"required\"",
        ),
        8,
        16,
        "needs mode = \"crypto\"",
    );
}

#[test]
fn expiry() {
    let p = |d: &str| {
        format!(
            "[brand]\nname = \"x\"\nexpires = {d}\n[[technician]]\nid = \"A\"\nendpoints = [\"a:1\"]\nmode = \"clear\"\n"
        )
    };
    one_error(&p("2026-06-14"), 3, 11, "expired on 2026-06-14");
    one_error(&p("2026-02-30"), 3, 11, "day between 01 and 28");
    one_error(&p("2026-07-01T10:00:00"), 3, 11, "time of day");
    assert!(
        validate(p("2026-06-15").as_bytes(), "t", Some(TODAY)).is_ok(),
        "the last day is still valid"
    );
    assert!(
        validate(p("2020-01-01").as_bytes(), "t", None).is_ok(),
        "no today: no expiry check"
    );
    let prof = validate(p("\"2026-06-15\"").as_bytes(), "t", None)
        .unwrap()
        .profile;
    assert!(!prof.is_expired(TODAY));
    assert!(prof.is_expired(date!(2026 - 06 - 16)));
}

#[test]
fn collects_all_errors() {
    let text = "[brand]\nname = \"\"\nlanguage = \"fr\"\n\n[[technician]]\nid = \"A\"\nendpoints = [\"a:0\", \"b\"]\nmode = \"crypto\"\n\n[[technician]]\nid = \"a\"\nendpoints = [\"c:1\"]\nmode = \"clear\"\ntypo = 1\n";
    let r = errors(text);
    let places: Vec<_> = list(&r).iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(
        places,
        [(2, 8), (3, 12), (7, 17), (7, 23), (8, 1), (11, 6), (14, 1)],
        "{r}"
    );
}

#[test]
fn syntax_errors() {
    let r = errors("[brand]\nname = \"x\nfoo = = 1\n");
    assert!(r.has_errors());
    let first = r.errors().next().unwrap();
    assert_eq!(first.location.line, 2, "{r}");
    assert!(first.message.starts_with("TOML syntax"), "{r}");
    one_error(
        "[brand]\nname = \"x\"\nname = \"y\"\n",
        3,
        1,
        "duplicate key",
    );
}

#[test]
fn ten_megabyte_file() {
    let mut big = good().into_bytes();
    big.resize(10 * 1024 * 1024, b'#');
    let r = validate(&big, "team.toml", Some(TODAY)).unwrap_err();
    let l = list(&r);
    assert_eq!(l.len(), 1);
    assert!(l[0].2.contains("larger than the 256 KiB"), "{r}");
    assert!(r.render().len() < 4096, "no huge excerpt");
}

#[test]
fn non_utf8() {
    let mut bytes = b"[brand]\nname = \"caf".to_vec();
    bytes.push(0xe9); // Latin-1 'é'
    bytes.extend_from_slice(b"\"\nmessage = \"\xff\xfe\"\n");
    let r = validate(&bytes, "team.toml", Some(TODAY)).unwrap_err();
    let l = list(&r);
    assert_eq!(l.len(), 3, "{r}");
    assert_eq!((l[0].0, l[0].1), (2, 12));
    assert!(l[0].2.contains("0xe9 at byte offset 19"), "{r}");
    assert_eq!((l[1].0, l[1].1), (3, 12));
    assert_eq!((l[2].0, l[2].1), (3, 13));
    assert!(r.errors().all(|d| d.severity == Severity::Error));
}

#[test]
fn never_panics_on_junk() {
    // A few nasty shapes; the fuzz-style loop below mutates a good profile.
    for t in [
        "",
        "=",
        "[[",
        "[brand",
        "a.b.c.d = 1",
        "technician = [1, 2]",
        "[[technician]]\n[[technician]]",
        "\u{feff}[brand]",
    ] {
        let _ = validate(t.as_bytes(), "t", Some(TODAY));
    }
    let good = good().into_bytes();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let mut b = good.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % b.len();
            b[at] = (seed >> 32) as u8;
        }
        let _ = validate(&b, "t", Some(TODAY));
    }
}

#[test]
fn example_profile_is_valid() {
    let text = std::fs::read(profiles::build::example_path()).unwrap();
    let v = validate(&text, "example.toml", Some(TODAY)).unwrap();
    let ids: Vec<_> = v
        .profile
        .technicians
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, ["Demo", "Demo-Chiaro"]);
    assert_eq!(
        v.profile.technicians[0].endpoints[0].to_string(),
        "127.0.0.1:5500"
    );
    assert_eq!(v.report.warnings().count(), 1);
    // The demo private key matches the demo technician's public key.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo-technician.key");
    let pair =
        crypto::KeyPair::from_file_text(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    assert_eq!(Some(&pair.public), v.profile.technicians[0].public_key());
    assert_eq!(
        profiles::demo::TECHNICIAN_KEY,
        std::fs::read_to_string(&path).unwrap()
    );
}

#[test]
fn readme_example_is_valid() {
    let readme = include_str!("../README.md");
    let start = readme.find("```toml\n").unwrap() + 8;
    let end = start + readme[start..].find("```").unwrap();
    let v = validate(&readme.as_bytes()[start..end], "README.md", Some(TODAY)).unwrap();
    assert_eq!(v.profile.technicians.len(), 2);
    assert_eq!(v.report.warnings().count(), 1);
}
