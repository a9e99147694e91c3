//! Validation: a walk over the spanned TOML tree that collects every problem
//! with its exact place, then builds the typed [`Profile`].
//!
//! We walk `toml::de::DeTable` (every key and value carries its byte span)
//! instead of deriving `Deserialize`: serde stops at the first error, while a
//! support team fixing a profile wants all of them at once. Unknown keys are
//! errors, as with `#[serde(deny_unknown_fields)]`, with a "did you mean" hint.

use crate::MAX_PROFILE_SIZE;
use crate::diag::{Location, Note, Report, Severity};
use crate::endpoint::{Endpoint, EndpointError};
use crate::model::*;
use crypto::PublicKey;
use std::collections::HashMap;
use std::ops::Range;
use time::Date;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// Most technicians in one profile.
pub const MAX_TECHNICIANS: usize = 256;
/// Most endpoints per technician.
pub const MAX_ENDPOINTS: usize = 16;
/// Most phone numbers.
pub const MAX_PHONES: usize = 16;
/// Most invalid UTF-8 places reported before giving up.
const MAX_UTF8_REPORTS: usize = 20;

/// A profile that passed validation, with its warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The typed profile.
    pub profile: Profile,
    /// Warnings (no errors): e.g. clear technicians.
    pub report: Report,
}

/// Validates a profile file's bytes; `file` names it in diagnostics.
///
/// `today` enables the expiry check (an `expires` date before `today` is an
/// error); `None` skips it. Returns every error and warning found, or the
/// typed profile and its warnings.
pub fn validate(bytes: &[u8], file: &str, today: Option<Date>) -> Result<Validated, Report> {
    let mut report = Report::new(file, bytes);
    if bytes.len() > MAX_PROFILE_SIZE {
        report.push(
            bytes,
            Severity::Error,
            0..0,
            format!(
                "the file is {} bytes, larger than the {} KiB a profile may have (expected a short TOML text)",
                bytes.len(),
                MAX_PROFILE_SIZE / 1024
            ),
        );
        return Err(report);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            let mut offset = 0;
            for chunk in bytes.utf8_chunks() {
                offset += chunk.valid().len();
                let bad = chunk.invalid();
                if !bad.is_empty() {
                    if report.diagnostics.len() == MAX_UTF8_REPORTS {
                        break;
                    }
                    report.push(
                        bytes,
                        Severity::Error,
                        offset..offset + bad.len(),
                        format!(
                            "invalid UTF-8 byte 0x{:02x} at byte offset {offset} (expected UTF-8 text: save the profile as UTF-8)",
                            bad[0]
                        ),
                    );
                    offset += bad.len();
                }
            }
            return Err(report);
        }
    };
    let (root, parse_errors) = DeTable::parse_recoverable(text);
    if !parse_errors.is_empty() {
        for e in parse_errors {
            let span = e.span().unwrap_or(text.len()..text.len());
            report.push(
                bytes,
                Severity::Error,
                span,
                format!("TOML syntax: {}", e.message().trim()),
            );
        }
        report.sort();
        return Err(report);
    }
    let mut c = Checker {
        text,
        report,
        today,
    };
    let profile = c.profile(root.get_ref());
    c.report.sort();
    if c.report.has_errors() {
        Err(c.report)
    } else {
        Ok(Validated {
            profile,
            report: c.report,
        })
    }
}

struct Checker<'t> {
    text: &'t str,
    report: Report,
    today: Option<Date>,
}

type Val<'i> = Spanned<DeValue<'i>>;

impl<'t> Checker<'t> {
    fn error(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.report
            .push(self.text.as_bytes(), Severity::Error, span, msg.into());
    }

    fn warning(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.report
            .push(self.text.as_bytes(), Severity::Warning, span, msg.into());
    }

    /// Errors for keys of `t` not in `allowed`; `ctx` names the table.
    fn check_keys(&mut self, t: &DeTable<'_>, allowed: &[&str], ctx: &str) {
        for k in t.keys() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                let hint = suggest(name, allowed)
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                self.error(
                    k.span(),
                    format!(
                        "unknown key \"{name}\" in {ctx} ({hint}expected one of: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn get<'a, 'i>(&self, t: &'a DeTable<'i>, key: &str) -> Option<&'a Val<'i>> {
        t.get(key)
    }

    /// The string at `key`, with its span; a wrong type is an error.
    fn string<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        ctx: &str,
    ) -> Option<(&'a str, Range<usize>)> {
        let v = self.get(t, key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.as_ref(), v.span())),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "{ctx}.{key} must be a string, found {} (expected {key} = \"…\")",
                        article(other)
                    ),
                );
                None
            }
        }
    }

    /// Like [`Checker::string`] but missing is an error reported at `table_span`.
    fn required_string<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        ctx: &str,
        table_span: &Range<usize>,
        example: &str,
    ) -> Option<(&'a str, Range<usize>)> {
        if t.get(key).is_none() {
            self.error(
                table_span.clone(),
                format!("{ctx} is missing the required key \"{key}\" (expected {key} = {example})"),
            );
            return None;
        }
        self.string(t, key, ctx)
    }

    /// Checks a free-text value: length in characters, no control characters
    /// (newlines and tabs allowed when `multiline`), not blank when `non_empty`.
    fn text_ok(
        &mut self,
        s: &str,
        span: Range<usize>,
        what: &str,
        max: usize,
        multiline: bool,
        non_empty: bool,
    ) -> bool {
        let n = s.chars().count();
        if non_empty && s.trim().is_empty() {
            self.error(span, format!("{what} is empty (expected some text)"));
            false
        } else if n > max {
            self.error(
                span,
                format!("{what} is {n} characters long (expected at most {max})"),
            );
            false
        } else if s
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
        {
            self.error(
                span,
                format!("{what} contains a control character (expected printable text)"),
            );
            false
        } else {
            true
        }
    }

    /// The byte offset where the text of a string value starts, if the raw
    /// source is the plain quoted string (no escapes), so that a column can
    /// point inside it.
    fn content_start(&self, span: &Range<usize>, value: &str) -> Option<usize> {
        let raw = self.text.get(span.clone())?;
        let quoted = [('"', '"'), ('\'', '\'')].iter().any(|&(a, b)| {
            raw.len() == value.len() + 2
                && raw.starts_with(a)
                && raw.ends_with(b)
                && &raw[1..raw.len() - 1] == value
        });
        quoted.then_some(span.start + 1)
    }

    fn table<'a, 'i>(&mut self, v: &'a Val<'i>, what: &str) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "{what} must be a table, found {} (expected a [{what}] section)",
                        article(other)
                    ),
                );
                None
            }
        }
    }

    fn array<'a, 'i>(
        &mut self,
        v: &'a Val<'i>,
        what: &str,
        example: &str,
    ) -> Option<&'a DeArray<'i>> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "{what} must be an array, found {} (expected {example})",
                        article(other)
                    ),
                );
                None
            }
        }
    }

    fn profile(&mut self, root: &DeTable<'_>) -> Profile {
        self.check_keys(
            root,
            &["brand", "session", "network", "technician"],
            "the profile",
        );
        let brand = match root.get("brand") {
            Some(v) => self.table(v, "brand").map(|t| self.brand(t, v.span())),
            None => {
                self.error(0..0, "the profile has no [brand] section (expected [brand] with at least name = \"…\")");
                None
            }
        };
        let session = root
            .get("session")
            .and_then(|v| self.table(v, "session"))
            .map(|t| self.session(t))
            .unwrap_or_default();
        let network = root
            .get("network")
            .and_then(|v| self.table(v, "network"))
            .map(|t| self.network(t))
            .unwrap_or_default();
        let technicians = self.technicians(root.get("technician"));
        Profile {
            brand: brand.unwrap_or_else(|| Brand {
                name: String::new(),
                title: String::new(),
                message: String::new(),
                phones: Vec::new(),
                language: Language::En,
                expires: None,
            }),
            session,
            network,
            technicians,
        }
    }

    fn brand(&mut self, t: &DeTable<'_>, span: Range<usize>) -> Brand {
        self.check_keys(
            t,
            &["name", "title", "message", "phones", "language", "expires"],
            "[brand]",
        );
        let mut name = String::new();
        if let Some((s, sp)) = self.required_string(t, "name", "[brand]", &span, "\"claro.it\"")
            && self.text_ok(s, sp, "brand.name", 64, false, true)
        {
            name = s.to_string();
        }
        let language = match self.string(t, "language", "brand") {
            None => Language::default(),
            Some(("it", _)) => Language::It,
            Some(("en", _)) => Language::En,
            Some((other, sp)) => {
                self.error(
                    sp,
                    format!("unknown language \"{other}\" (expected \"it\" or \"en\")"),
                );
                Language::default()
            }
        };
        let title = match self.string(t, "title", "brand") {
            Some((s, sp)) if self.text_ok(s, sp.clone(), "brand.title", 100, false, true) => {
                s.to_string()
            }
            _ => language.default_title().to_string(),
        };
        let message = match self.string(t, "message", "brand") {
            Some((s, sp)) if self.text_ok(s, sp.clone(), "brand.message", 1000, true, false) => {
                s.to_string()
            }
            _ => String::new(),
        };
        let mut phones = Vec::new();
        if let Some(v) = t.get("phones")
            && let Some(a) = self.array(v, "brand.phones", "phones = [\"+39 02 0000000\"]")
        {
            if a.len() > MAX_PHONES {
                self.error(
                    v.span(),
                    format!(
                        "brand.phones has {} numbers (expected at most {MAX_PHONES})",
                        a.len()
                    ),
                );
            }
            for item in a.iter() {
                match item.get_ref() {
                    DeValue::String(s) => {
                        if self.text_ok(s, item.span(), "a phone number", 40, false, true) {
                            if s.chars().all(|c| c.is_ascii_digit() || " +-()./".contains(c)) && s.chars().any(|c| c.is_ascii_digit()) {
                                phones.push(s.to_string());
                            } else {
                                self.error(
                                    item.span(),
                                    format!("\"{s}\" is not a phone number (expected digits, spaces and + - ( ) . /, e.g. \"+39 02 0000000\")"),
                                );
                            }
                        }
                    }
                    other => self.error(item.span(), format!("a phone number must be a string, found {} (expected e.g. \"+39 02 0000000\")", article(other))),
                }
            }
        }
        let expires = t.get("expires").and_then(|v| self.expires(v));
        Brand {
            name,
            title,
            message,
            phones,
            language,
            expires,
        }
    }

    fn expires(&mut self, v: &Val<'_>) -> Option<Date> {
        const EXPECTED: &str = "expected a date such as expires = 2027-12-31";
        let date = match v.get_ref() {
            DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => to_date(d.year.into(), d.month, d.day),
                _ => {
                    self.error(
                        v.span(),
                        format!("brand.expires has a time of day ({EXPECTED}, without a time)"),
                    );
                    return None;
                }
            },
            DeValue::String(s) => {
                let fmt = time::macros::format_description!("[year]-[month]-[day]");
                match Date::parse(s, &fmt) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        self.error(v.span(), format!("\"{s}\" is not a date ({EXPECTED})"));
                        return None;
                    }
                }
            }
            other => {
                self.error(
                    v.span(),
                    format!(
                        "brand.expires must be a date, found {} ({EXPECTED})",
                        article(other)
                    ),
                );
                return None;
            }
        };
        let Some(date) = date else {
            self.error(
                v.span(),
                format!("brand.expires is not a real calendar day ({EXPECTED})"),
            );
            return None;
        };
        if let Some(today) = self.today
            && date < today
        {
            self.error(
                v.span(),
                format!("the profile expired on {date} (today is {today}; expected a date from today on, or no expires)"),
            );
        }
        Some(date)
    }

    fn session(&mut self, t: &DeTable<'_>) -> Session {
        self.check_keys(t, &["control", "share_system_info"], "[session]");
        let mut session = Session::default();
        match self.string(t, "control", "session") {
            None => {}
            Some(("ask", _)) => session.control = Control::Ask,
            Some(("granted", _)) => session.control = Control::Granted,
            Some(("view-only", _)) => session.control = Control::ViewOnly,
            Some((other, sp)) => self.error(
                sp,
                format!(
                    "unknown control \"{other}\" (expected \"ask\", \"granted\" or \"view-only\")"
                ),
            ),
        }
        let vocabulary: Vec<&str> = SystemInfo::ALL.iter().map(|i| i.code()).collect();
        if let Some(v) = t.get("share_system_info")
            && let Some(a) = self.array(
                v,
                "session.share_system_info",
                "share_system_info = [\"os\", \"screen\"]",
            )
        {
            session.share_system_info.clear();
            for item in a.iter() {
                let DeValue::String(s) = item.get_ref() else {
                    self.error(item.span(), format!("an item of share_system_info must be a string, found {} (expected one of: {})", article(item.get_ref()), vocabulary.join(", ")));
                    continue;
                };
                match SystemInfo::ALL.iter().find(|i| i.code() == s.as_ref()) {
                    Some(info) if session.share_system_info.contains(info) => {
                        self.warning(
                            item.span(),
                            format!("\"{s}\" is listed twice in share_system_info"),
                        );
                    }
                    Some(info) => session.share_system_info.push(*info),
                    None => {
                        let hint = suggest(s, &vocabulary)
                            .map(|h| format!("did you mean \"{h}\"? "))
                            .unwrap_or_default();
                        self.error(
                            item.span(),
                            format!(
                                "unknown system information \"{s}\" ({hint}expected one of: {})",
                                vocabulary.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        session
    }

    fn network(&mut self, t: &DeTable<'_>) -> Network {
        self.check_keys(t, &["proxy"], "[network]");
        let Some((s, span)) = self.string(t, "proxy", "network") else {
            return Network::default();
        };
        const EXPECTED: &str = "expected proxy = \"http://host:port\"";
        let Some(rest) = s.strip_prefix("http://") else {
            self.error(span, format!("the proxy must start with \"http://\" ({EXPECTED}; Remoto tunnels with HTTP CONNECT)"));
            return Network::default();
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            self.error(
                span,
                format!("proxy user names and passwords are not supported ({EXPECTED})"),
            );
            return Network::default();
        }
        match rest.parse::<Endpoint>() {
            Ok(ep) => Network { proxy: Some(ep) },
            Err(e) => {
                let at = self
                    .content_start(&span, s)
                    .map(|p| p + 7 + e.offset_in(rest));
                self.error(at.map_or(span, |p| p..p + 1), format!("bad proxy: {e}"));
                Network::default()
            }
        }
    }

    fn technicians(&mut self, v: Option<&Val<'_>>) -> Vec<Technician> {
        let Some(v) = v else {
            self.error(
                self.text.len()..self.text.len(),
                "the profile has no technicians (expected at least one [[technician]] entry with id, endpoints and mode)",
            );
            return Vec::new();
        };
        let Some(list) = self.array(v, "technician", "[[technician]] entries") else {
            return Vec::new();
        };
        if list.is_empty() {
            self.error(
                v.span(),
                "the technician list is empty (expected at least one [[technician]] entry)",
            );
            return Vec::new();
        }
        if list.len() > MAX_TECHNICIANS {
            self.error(
                v.span(),
                format!(
                    "{} technicians is too many (expected at most {MAX_TECHNICIANS})",
                    list.len()
                ),
            );
            return Vec::new();
        }
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let Some(t) = self.table(item, "technician") else {
                continue;
            };
            let span = item.span();
            if let Some(tech) = self.technician(t, span, i + 1, &mut seen) {
                out.push(tech);
            }
        }
        out
    }

    fn technician(
        &mut self,
        t: &DeTable<'_>,
        span: Range<usize>,
        n: usize,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<Technician> {
        self.check_keys(
            t,
            &[
                "id",
                "label",
                "endpoints",
                "mode",
                "public_key",
                "session_code",
                "note",
            ],
            "[[technician]]",
        );
        let ctx = format!("technician #{n}");
        let mut ok = true;
        let mut id = None;
        if let Some((s, sp)) = self.required_string(t, "id", &ctx, &span, "\"Verde\"") {
            if !self.text_ok(s, sp.clone(), "the technician ID", 32, false, true) {
                ok = false;
            } else if s.trim() != s {
                self.error(
                    sp.clone(),
                    format!(
                        "technician ID \"{s}\" starts or ends with a space (expected \"{}\")",
                        s.trim()
                    ),
                );
                ok = false;
            }
            let key = s.to_lowercase();
            if let Some(first) = seen.get(&key) {
                let first = first.clone();
                self.error(sp.clone(), format!("technician ID \"{s}\" is used twice (IDs are compared ignoring case; expected each ID once)"));
                let location = Location::of(self.text.as_bytes(), first.start);
                if let Some(d) = self.report.diagnostics.last_mut() {
                    d.notes.push(Note {
                        location,
                        message: format!(
                            "\"{}\" is first used here",
                            self.text
                                .get(first.clone())
                                .unwrap_or(s)
                                .trim_matches(['"', '\''])
                        ),
                    });
                }
                ok = false;
            } else {
                seen.insert(key, sp);
            }
            id = Some(s.to_string());
        } else {
            ok = false;
        }
        let who = id
            .as_deref()
            .map_or_else(|| ctx.clone(), |i| format!("technician \"{i}\""));

        let label = match self.string(t, "label", &ctx) {
            Some((s, sp)) if self.text_ok(s, sp.clone(), "the label", 64, false, true) => {
                Some(s.to_string())
            }
            Some(_) => {
                ok = false;
                None
            }
            None => None,
        };
        let note = match self.string(t, "note", &ctx) {
            Some((s, sp)) if self.text_ok(s, sp.clone(), "the note", 1000, true, false) => {
                Some(s.to_string())
            }
            Some(_) => {
                ok = false;
                None
            }
            None => None,
        };

        let mut endpoints = Vec::new();
        match t.get("endpoints") {
            None => {
                self.error(
                    span.clone(),
                    format!("{who} has no endpoints (expected endpoints = [\"host:5500\"])"),
                );
                ok = false;
            }
            Some(v) => {
                match self.array(v, "endpoints", "endpoints = [\"host:5500\"]") {
                    None => ok = false,
                    Some(a) if a.is_empty() => {
                        self.error(v.span(), format!("{who} has an empty endpoint list (expected at least one \"host:port\")"));
                        ok = false;
                    }
                    Some(a) if a.len() > MAX_ENDPOINTS => {
                        self.error(
                            v.span(),
                            format!(
                                "{who} has {} endpoints (expected at most {MAX_ENDPOINTS})",
                                a.len()
                            ),
                        );
                        ok = false;
                    }
                    Some(a) => {
                        for item in a.iter() {
                            match item.get_ref() {
                                DeValue::String(s) => match s.parse::<Endpoint>() {
                                    Ok(ep) if endpoints.contains(&ep) => self.warning(
                                        item.span(),
                                        format!("endpoint \"{ep}\" is listed twice"),
                                    ),
                                    Ok(ep) => endpoints.push(ep),
                                    Err(e) => {
                                        self.endpoint_error(item.span(), s, &e);
                                        ok = false;
                                    }
                                },
                                other => {
                                    self.error(item.span(), format!("an endpoint must be a string, found {} (expected \"host:port\")", article(other)));
                                    ok = false;
                                }
                            }
                        }
                    }
                }
            }
        }

        let mode = match self.string(t, "mode", &ctx) {
            None if t.get("mode").is_some() => {
                ok = false;
                None
            }
            None => Some(("crypto", None)),
            Some(("crypto", sp)) => Some(("crypto", Some(sp))),
            Some(("clear", sp)) => Some(("clear", Some(sp))),
            Some((other, sp)) => {
                let hint = if other.eq_ignore_ascii_case("chiaro") {
                    "\"clear\" in the profile; "
                } else {
                    ""
                };
                self.error(
                    sp,
                    format!("unknown mode \"{other}\" (expected {hint}\"crypto\" or \"clear\")"),
                );
                ok = false;
                None
            }
        };

        let key = match self.string(t, "public_key", &ctx) {
            None => {
                if t.get("public_key").is_some() {
                    ok = false;
                }
                None
            }
            Some((s, sp)) => match s.parse::<PublicKey>() {
                Ok(k) => Some((k, sp)),
                Err(e) => {
                    self.error(sp, format!("bad public key: {e}"));
                    ok = false;
                    None
                }
            },
        };

        let session_code = match self.string(t, "session_code", &ctx) {
            None => {
                if t.get("session_code").is_some() {
                    ok = false;
                }
                Some((SessionCodePolicy::Off, None))
            }
            Some(("off", sp)) => Some((SessionCodePolicy::Off, Some(sp))),
            Some(("required", sp)) => Some((SessionCodePolicy::Required, Some(sp))),
            Some((other, sp)) => {
                self.error(
                    sp,
                    format!("unknown session_code \"{other}\" (expected \"off\" or \"required\")"),
                );
                ok = false;
                None
            }
        };

        let security = match mode {
            Some(("crypto", _)) => match key {
                Some((public_key, _)) => Some(Security::Crypto { public_key }),
                None => {
                    if t.get("public_key").is_none() {
                        let default = if t.get("mode").is_none() {
                            " (the default)"
                        } else {
                            ""
                        };
                        let at = t
                            .get_key_value("mode")
                            .map_or(span.clone(), |(k, _)| k.span());
                        self.error(
                            at,
                            format!("{who} has mode = \"crypto\"{default} but no public_key (expected public_key = \"rmt1…\" as printed by `viewer keygen`, or mode = \"clear\")"),
                        );
                        ok = false;
                    }
                    None
                }
            },
            Some((_, mode_span)) => {
                if let Some((_, sp)) = &key {
                    self.error(sp.clone(), format!("{who} has mode = \"clear\" and a public_key (expected mode = \"crypto\" to use the key, or no public_key)"));
                    ok = false;
                }
                if let Some((SessionCodePolicy::Required, Some(sp))) = &session_code {
                    self.error(sp.clone(), format!("{who} has mode = \"clear\": a session code needs mode = \"crypto\" (expected session_code = \"off\")"));
                    ok = false;
                }
                self.warning(
                    mode_span.unwrap_or(span.clone()),
                    format!("{who} uses mode = \"clear\": the session is NOT encrypted; use it only on a trusted network"),
                );
                Some(Security::Clear)
            }
            None => None,
        };

        if !ok {
            return None;
        }
        Some(Technician {
            id: id?,
            label,
            endpoints,
            security: security?,
            session_code: session_code?.0,
            note,
        })
    }

    fn endpoint_error(&mut self, span: Range<usize>, s: &str, e: &EndpointError) {
        let at = self.content_start(&span, s).map(|p| p + e.offset_in(s));
        let span = match at {
            Some(p) if p < span.end => p..span.end - 1,
            Some(p) => p..p,
            None => span,
        };
        self.error(span, e.to_string());
    }
}

fn to_date(year: i32, month: u8, day: u8) -> Option<Date> {
    Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// "a string", "an integer"…
fn article(v: &DeValue<'_>) -> String {
    let t = v.type_str();
    let a = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{a} {t}")
}

/// The allowed word closest to `word`, if it is a plausible typo.
fn suggest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    allowed
        .iter()
        .map(|a| (edit_distance(&word, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) && *d < a.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate().take(256) {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("endpoint", &["endpoints", "mode"]),
            Some("endpoints")
        );
        assert_eq!(suggest("xyz", &["endpoints", "mode"]), None);
        assert_eq!(suggest("hostnme", &["os", "hostname"]), Some("hostname"));
    }
}
