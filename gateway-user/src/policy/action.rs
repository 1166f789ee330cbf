//! What a JSON-RPC message asks to do, in the terms policy decides on.

/// An MCP request or notification, classified for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// `tools/call` of this tool.
    CallTool(&'a str),
    /// `resources/read`, `resources/subscribe`, `resources/unsubscribe` of this URI.
    ReadResource(&'a str),
    /// `prompts/get` of this prompt.
    GetPrompt(&'a str),
    /// `tools/list` (the response is filtered).
    ListTools,
    /// `resources/list` (filtered).
    ListResources,
    /// `resources/templates/list` (filtered).
    ListResourceTemplates,
    /// `prompts/list` (filtered).
    ListPrompts,
    /// Any other method (`initialize`, `ping`, notifications, …).
    Method(&'a str),
}

/// A message whose target cannot be determined: denied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{method}` needs a string `params.{field}`")]
pub struct ClassifyError {
    /// The method.
    pub method: String,
    /// The missing parameter.
    pub field: &'static str,
}

impl<'a> Action<'a> {
    /// Classifies a JSON-RPC `method` with its `params`.
    pub fn classify(
        method: &'a str,
        params: Option<&'a serde_json::Value>,
    ) -> Result<Self, ClassifyError> {
        let param = |field: &'static str| {
            params
                .and_then(|p| p.get(field))
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| ClassifyError {
                    method: method.to_owned(),
                    field,
                })
        };
        Ok(match method {
            "tools/call" => Self::CallTool(param("name")?),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                Self::ReadResource(param("uri")?)
            }
            "prompts/get" => Self::GetPrompt(param("name")?),
            "tools/list" => Self::ListTools,
            "resources/list" => Self::ListResources,
            "resources/templates/list" => Self::ListResourceTemplates,
            "prompts/list" => Self::ListPrompts,
            other => Self::Method(other),
        })
    }
}

/// Methods any principal with some access to an upstream may send: the
/// session lifecycle, nothing that reaches a tool, resource or prompt.
pub const LIFECYCLE_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
];
