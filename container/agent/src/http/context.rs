//! The sandbox a request is for, from its `X-Sandbox-Id` header (required in local multi-sandbox mode).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sandbox_protocol::SANDBOX_ID_HEADER;

use super::AppState;
use crate::error::AgentError;
use crate::tenant::Tenant;

pub struct TenantCtx(pub Arc<Tenant>);

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = AgentError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AgentError> {
        let header = match parts.headers.get(SANDBOX_ID_HEADER) {
            Some(value) => {
                Some(value.to_str().map_err(|_| AgentError::invalid("the X-Sandbox-Id header is not valid text"))?)
            }
            None => None,
        };
        state.sandboxes.get(header).map(TenantCtx)
    }
}
