#![no_main]
//! `gateway_user::fuzz::jwks` on libFuzzer's input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_user::fuzz::jwks(data));
