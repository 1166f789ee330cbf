//! The TOML configuration.

use crate::config::{Config, ConfigError};

const ORIGIN: &str = "fuzz.toml";

/// Parses arbitrary text as the configuration: it never panics, and an
/// error names the file and says what is wrong.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Err(err) = Config::parse(&text, ORIGIN) else {
        return;
    };
    let shown = err.to_string();
    assert!(
        shown.starts_with(ORIGIN) && shown.len() > ORIGIN.len() + 2,
        "the error does not name the file or says nothing: {shown:?}"
    );
    match &err {
        ConfigError::Parse { message, .. } => {
            assert!(!message.trim().is_empty(), "empty parse message");
        }
        ConfigError::Invalid { field, message, .. } => {
            assert!(
                !field.is_empty() && !message.is_empty(),
                "an invalid value without its field or reason: {shown:?}"
            );
        }
        ConfigError::Read { .. } | ConfigError::TooLarge { .. } => {
            panic!("parsing text reported a file error: {shown:?}")
        }
    }
}
