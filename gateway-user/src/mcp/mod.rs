//! MCP Streamable HTTP, sans-IO: the JSON-RPC envelope, protocol revisions
//! and their transport rules, the gateway's session table, and Server-Sent
//! Events framing. Nothing here touches a socket or reads the clock; the
//! proxy ([`crate::proxy`]) calls these with what it received and acts on the
//! decisions.

mod error;
mod jsonrpc;
mod session;
mod sse;
mod transport;
mod version;

pub use error::{ErrorCode, RpcError};
pub use jsonrpc::{BodyLimits, Incoming, Message, MessageKind, RequestId, parse_body};
pub use session::{Session, SessionError, SessionId, SessionLimits, SessionTable};
pub use sse::{SseError, SseEvent, SseLimits, SseParser};
pub use transport::{HeaderView, PostPlan, SessionMode, check_session_message, plan_post};
pub use version::ProtocolVersion;
