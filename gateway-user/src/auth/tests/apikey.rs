//! apikey tests.
