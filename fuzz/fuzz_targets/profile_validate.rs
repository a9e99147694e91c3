//! The profile parser and validator (`profiles::validate`), with and
//! without an expiry date check.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let today = time::Date::from_calendar_date(2026, time::Month::November, 23).ok();
    match profiles::validate(data, "fuzz.toml", today) {
        Ok(v) => {
            assert!(!v.profile.technicians.is_empty());
        }
        Err(report) => {
            let _ = report.to_string();
        }
    }
});
