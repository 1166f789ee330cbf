//! Authorization: what a principal may do, default deny.

mod glob;

pub use glob::{Glob, GlobError, MAX_GLOB_LEN};
