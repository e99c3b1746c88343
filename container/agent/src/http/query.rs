//! Query parameters as the typed structs of the protocol crate (`PtyQuery`, `LogQuery`, ...): `Params<T>` reads the
//! query into `T`, and a value of the wrong kind is a `VALIDATION_FAILED` that quotes the query and says what was
//! expected.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AgentError;

/// A route's query parameters; an absent parameter is `None`, one the route does not take is ignored.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AgentError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AgentError> {
        let query = parts.uri.query();
        sandbox_protocol::query::read_query(query)
            .map(Params)
            .map_err(|why| AgentError::invalid(format!("the query {:?} is refused: {why}", query.unwrap_or_default())))
    }
}
