//! The raw decoder alone, on arbitrary rectangles, pixel formats and chunking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rfb::encoding::raw::RawDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = RawDecoder::default();
    remoto_fuzz::fuzz_decoder(&mut dec, data, false);
});
