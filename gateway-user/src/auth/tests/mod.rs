//! Attack-table tests.
