#![no_main]
//! `gateway_user::fuzz::config` on libFuzzer's input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_user::fuzz::config(data));
