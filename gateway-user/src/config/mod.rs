//! The TOML configuration: parsed into strict types, validated as a whole,
//! with errors that name the file, the line and the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::edge::{Cidr, EdgeLimits};

mod gateway;

pub use gateway::{GatewayConfig, TlsConfig, UpstreamConfig};

/// The configuration compiled into the binary.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/default.toml");

/// Largest config file accepted.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A configuration that cannot be used. The process must not start on one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Larger than [`MAX_CONFIG_BYTES`].
    #[error("{path}: larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not valid TOML, or not the expected shape (the message carries the
    /// line, column and field).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said, with line and field.
        message: String,
    },
    /// Well-formed but invalid.
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The kernel edge layer.
    #[serde(default)]
    pub edge: EdgeConfig,
    /// The userspace gateway: listeners, TLS, limits.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// The MCP servers behind the gateway.
    #[serde(default, rename = "upstream")]
    pub upstreams: Vec<UpstreamConfig>,
    /// Authentication: tokens, keys, the embedded issuer.
    #[serde(default)]
    pub auth: crate::auth::AuthConfig,
    /// Authorization: roles and what they may use (default deny).
    #[serde(default)]
    pub policy: crate::policy::PolicyConfig,
}

/// The `[edge]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Whether to load the XDP layer at all.
    pub enabled: bool,
    /// The interface to attach to.
    pub interface: String,
    /// Sources never rate limited.
    pub allow: Vec<String>,
    /// Sources always dropped.
    pub block: Vec<String>,
    /// Per-source limits.
    pub limits: EdgeLimits,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interface: "lo".into(),
            allow: Vec::new(),
            block: Vec::new(),
            limits: EdgeLimits::default(),
        }
    }
}

impl EdgeConfig {
    /// The allowlist, parsed.
    pub fn allow_cidrs(&self) -> Vec<Cidr> {
        self.allow.iter().filter_map(|s| s.parse().ok()).collect()
    }

    /// The blocklist, parsed.
    pub fn block_cidrs(&self) -> Vec<Cidr> {
        self.block.iter().filter_map(|s| s.parse().ok()).collect()
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read)?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The embedded default.
    pub fn embedded() -> Result<Self, ConfigError> {
        Self::parse(EMBEDDED_DEFAULT, "<embedded default config>")
    }

    /// Parses and validates `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            field,
            message,
        };
        self.edge
            .limits
            .validate()
            .map_err(|e| invalid("edge.limits".into(), e.to_string()))?;
        for (name, list) in [("allow", &self.edge.allow), ("block", &self.edge.block)] {
            for (i, entry) in list.iter().enumerate() {
                entry
                    .parse::<Cidr>()
                    .map_err(|e| invalid(format!("edge.{name}[{i}]"), e.to_string()))?;
            }
        }
        gateway::validate(&self.gateway, &self.upstreams).map_err(|(f, m)| invalid(f, m))?;
        if let Err(e) = self.auth.build() {
            return Err(invalid(format!("auth.{}", e.field), e.message));
        }
        if let Err(e) = crate::policy::Policy::from_config(&self.policy) {
            return Err(invalid("policy".into(), e.to_string()));
        }
        if self.edge.interface.is_empty() || self.edge.interface.len() >= libc::IFNAMSIZ {
            return Err(invalid(
                "edge.interface".into(),
                "must be 1-15 bytes".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let config = Config::embedded().unwrap();
        assert_eq!(config.edge.interface, "lo");
        assert_eq!(config.edge.limits, EdgeLimits::default());
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let err = Config::parse("[edge]\ninterface = \"lo\"\nbogus = 1\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn gateway_and_upstream_errors_name_the_field() {
        for (text, field) in [
            (
                "[gateway]\nplain_http_listen = \"0.0.0.0:80\"\n",
                "gateway.plain_http_listen",
            ),
            ("[gateway.tls]\ncert = \"c.pem\"\n", "gateway.tls"),
            ("[gateway.body]\nmax_depth = 0\n", "gateway.body.max_depth"),
            (
                "[gateway]\nallowed_origins = [\"evil\"]\n",
                "gateway.allowed_origins",
            ),
            (
                "[[upstream]]\nname = \"Bad Name\"\nurl = \"http://127.0.0.1:1/mcp\"\n",
                "upstream[0].name",
            ),
            (
                "[[upstream]]\nname = \"a\"\nurl = \"ftp://x/\"\n",
                "upstream[0].url",
            ),
            (
                "[[upstream]]\nname = \"a\"\nurl = \"http://x/\"\n[[upstream]]\nname = \"a\"\nurl = \"http://y/\"\n",
                "upstream[1].name",
            ),
        ] {
            let err = Config::parse(text, "t.toml").unwrap_err().to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
        let err = Config::parse("[[upstream]]\nname = \"a\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("url") && err.contains("line"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let err = Config::parse("[edge.limits]\npacket_burst = 0\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("edge.limits") && err.contains("packet_burst"),
            "{err}"
        );
        let err = Config::parse("[edge]\nblock = [\"198.18.0.0/33\"]\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("edge.block[0]"), "{err}");
        let err = Config::parse("[edge.limits]\nmode = \"loud\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("loud"), "{err}");
    }
}
