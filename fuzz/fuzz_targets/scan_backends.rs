#![no_main]
//! `gateway_user::fuzz::scan_backends` on libFuzzer's input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_user::fuzz::scan_backends(data));
