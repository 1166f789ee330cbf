//! issuer tests.
