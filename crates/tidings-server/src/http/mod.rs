//! HTTP plumbing shared by every capability: the error envelope, middleware, extractors.

pub mod cookies;
pub mod error;
pub mod middleware;
pub mod operator;
pub mod rate_limit;
pub mod response;

pub use error::ApiError;
pub use operator::{Operator, bearer_token};
pub use response::{ApiJson, Envelope, Pagination};
