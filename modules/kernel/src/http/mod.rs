//! HTTP plumbing shared by every build: the request observer (request id, body limit, problem
//! rendering, metrics, access log) and the operations endpoints.

mod authenticate;
pub mod document;
pub mod idempotency;
mod inbound;
mod json_body;
mod observe;
pub mod openapi;
mod ops;
mod problems;
pub mod request_body;
mod serde_json_payload;
pub mod server;

pub use problems::{problem_response, respond};

pub use authenticate::Authenticate;
pub use inbound::InboundBody;
pub use json_body::JsonBody;
pub use observe::Observe;
pub use ops::OperationsApi;
pub use serde_json_payload::{SerdeJson, rfc3339};
