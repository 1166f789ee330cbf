#![no_main]
//! `gateway_user::fuzz::jwt_claims` on libFuzzer's input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_user::fuzz::jwt_claims(data));
