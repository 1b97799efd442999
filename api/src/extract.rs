//! Extractors whose rejections answer in the API's error format.

use axum::extract::FromRequestParts;
use axum::extract::rejection::QueryRejection;

use crate::error::Error;

/// A query string read into `T`, as axum's `Query`; one that does not read (`limit=abc`,
/// `outside=maybe`) is a 400 `BAD_USER_INPUT` in the API's JSON error format, naming the
/// parameter, instead of axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Error {
        // The inner error names the parameter: "limit: invalid digit found in string".
        let reason = std::error::Error::source(&rejection).map_or_else(|| rejection.body_text(), ToString::to_string);
        Error::BadUserInput(format!("query string: {reason}"))
    }
}
