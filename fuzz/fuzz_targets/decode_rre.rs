//! The rre decoder alone, on arbitrary rectangles, pixel formats and chunking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rfb::encoding::rre::RreDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = RreDecoder::default();
    remoto_fuzz::fuzz_decoder(&mut dec, data, false);
});
