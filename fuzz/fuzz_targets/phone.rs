#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kefu_fuzz::phone(data));
