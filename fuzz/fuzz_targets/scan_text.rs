#![no_main]
//! `gateway_user::fuzz::scan_text` on libFuzzer's input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_user::fuzz::scan_text(data));
