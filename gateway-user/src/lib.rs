//! Portcullis: a security gateway for MCP tool traffic.
//!
//! This library holds the stages; the `portcullis` binary wires them to the
//! command line. Today: the kernel edge layer ([`edge`]) and configuration
//! ([`config`]).
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod edge;
#[cfg(any(fuzzing, test))]
pub mod fuzz;
pub mod limit;
pub mod listen;
pub mod mcp;
pub mod pin;
pub mod policy;
pub mod proxy;
pub mod scan;
pub mod upstream;
pub mod validate;
