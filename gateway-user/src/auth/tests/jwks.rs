//! jwks tests.
