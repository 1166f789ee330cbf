//! Fuzz harnesses for the parsers of untrusted bytes in this module. They
//! build with `--cfg fuzzing` (cargo-fuzz sets it) and are also run on a
//! few seeds by the unit tests so they never rot. Each must never panic.

use super::{
    ApiKeyStore, CertNames, JwkSet, JwtConfig, JwtValidator, VerifyingKey, extract_single,
};

/// Parse and verify a token against a fixed one-key set.
pub fn jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let validator = JwtValidator::new(JwtConfig::new("https://issuer.test", "https://aud.test"));
    let set = JwkSet::from_keys(
        VerifyingKey::ed25519(Some("k".into()), &[7; 32])
            .into_iter()
            .collect(),
    );
    let _ = validator.verify_with_set(token, &set, None, 1_900_000_000);
}

/// Parse a JWKS document.
pub fn jwks(data: &[u8]) {
    if let Ok(set) = JwkSet::parse(data) {
        let _ = set.to_json();
    }
}

/// Split at the first NUL into an Authorization header value and a query.
pub fn authorization(data: &[u8]) {
    let (header, query) = match data.iter().position(|b| *b == 0) {
        Some(i) => (data.get(..i), data.get(i + 1..)),
        None => (Some(data), None),
    };
    let query = query.and_then(|q| std::str::from_utf8(q).ok());
    let _ = extract_single(header, query);
}

/// Parse an API key store and verify a key against it.
pub fn api_key_store(data: &[u8]) {
    if let Ok(store) = ApiKeyStore::parse(data) {
        let _ = store.verify(
            "pcl_0011223344556677_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            0,
        );
    }
}

/// Take names from a certificate.
pub fn cert_names(data: &[u8]) {
    let _ = CertNames::from_der(data);
}

#[cfg(test)]
mod tests {
    #[test]
    fn harnesses_survive_seeds() {
        let seeds: &[&[u8]] = &[
            b"",
            b"a.b.c",
            b"eyJhbGciOiJFZERTQSJ9.e30.AAAA",
            b"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}",
            b"Bearer x\0access_token=1",
            b"{\"version\":1,\"keys\":[]}",
            &[0xff, 0xfe, 0, 0x80],
        ];
        for seed in seeds {
            super::jwt(seed);
            super::jwks(seed);
            super::authorization(seed);
            super::api_key_store(seed);
            super::cert_names(seed);
        }
    }
}
