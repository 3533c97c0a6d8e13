//! Extractors that answer bad input with ACS-shaped 4xx errors instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, ErrorCode};

/// A JSON body. An empty body reads as `{}`: the SDKs send none where every field is optional.
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
        // No body at all is `{}`; whitespace alone is not JSON, and is refused as such.
        let body: &[u8] = if body.is_empty() {
            b"{}"
        } else if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "The request body must be JSON, sent with Content-Type: application/json.",
            ));
        } else {
            &body
        };
        // Every body Callsign takes is an object: serde would also read a struct from an
        // array of its fields in order (`["alice","secret"]`).
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequestBody,
                "The request body must be a JSON object.",
            ));
        }
        if std::str::from_utf8(body).is_err() {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequestBody,
                "The request body is not valid UTF-8.",
            ));
        }
        serde_json::from_slice(body).map(JsonBody).map_err(|error| {
            // serde's message quotes what it refused (an unknown field's name): bounded.
            ApiError::bad_request(
                ErrorCode::InvalidRequestBody,
                format!(
                    "The request body is not valid: {}.",
                    crate::text::echo(&error.to_string(), 200)
                ),
            )
        })
    }
}

/// Path parameters (percent-decoded); undecodable ones are a 400, not a plain-text rejection.
pub struct AcsPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AcsPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| AcsPath(value))
            .map_err(|rejection| {
                ApiError::bad_request(
                    ErrorCode::InvalidPath,
                    format!("The path is not valid: {}.", rejection.body_text()),
                )
            })
    }
}

/// The colon action of `…/{action}` routes (`:issueAccessToken`, `:introspect`, …): anything
/// else is an unknown route.
pub fn expect_action(action: &str, expected: &str) -> Result<(), ApiError> {
    if action == expected {
        Ok(())
    } else {
        Err(super::not_found_error())
    }
}

/// An optional whole number, written as an integer or as a number with no fraction (`60.0`):
/// JSON Schema counts both as integers. For `#[serde(default, deserialize_with = …)]`.
pub fn optional_whole_number<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|n| n.fract() == 0.0 && n.abs() < 1e15)
                .map(|n| n as i64)
        })
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number")))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Minutes {
        #[serde(default, deserialize_with = "super::optional_whole_number")]
        minutes: Option<i64>,
    }

    fn parse(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<Minutes>(json).map(|m| m.minutes)
    }

    #[test]
    fn whole_numbers_in_either_spelling() {
        assert_eq!(parse(r#"{"minutes":60}"#).unwrap(), Some(60));
        assert_eq!(parse(r#"{"minutes":60.0}"#).unwrap(), Some(60));
        assert_eq!(parse(r#"{"minutes":null}"#).unwrap(), None);
        assert_eq!(parse("{}").unwrap(), None);
        for bad in [
            r#"{"minutes":60.5}"#,
            r#"{"minutes":"60"}"#,
            r#"{"minutes":1e300}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
