//! The packed-binary trailer reader, and pack→read round trips on
//! arbitrary "executables" and profile texts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let _ = profiles::read_trailer(data);
    let mut inp = Input::new(data);
    let split = usize::from(inp.u16());
    let rest = inp.rest();
    let (exe, profile) = rest.split_at(split.min(rest.len()));
    let profile = String::from_utf8_lossy(profile);
    if let Ok(packed) = profiles::pack(exe, &profile) {
        let back = profiles::read_trailer(&packed).expect("reading what was packed");
        assert_eq!(back.as_deref(), Some(&*profile));
    }
});
