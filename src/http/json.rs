//! A JSON body extractor that answers bad input with ACS-shaped 4xx errors. An empty body reads
//! as `{}`, as the SDKs send no body where every field is optional.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::ApiError;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::payload_too_large())?;
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "The request body must be JSON, sent with Content-Type: application/json.",
            ));
        } else {
            &body
        };
        serde_json::from_slice(body).map(JsonBody).map_err(|error| {
            ApiError::bad_request(
                "InvalidRequestBody",
                format!("The request body is not valid: {error}."),
            )
        })
    }
}
