//! The `api-version` query parameter every ACS identity call carries.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, ErrorCode};

/// The first ACS Identity API version; everything from it on is served with today's behaviour.
const OLDEST: &str = "2021-03-07";

/// The query parameter as the OpenAPI document declares it. [`RequireApiVersion`] reads the
/// query itself, so this type is only ever described, never built.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub struct ApiVersion {
    /// `YYYY-MM-DD` or `YYYY-MM-DD-preview…`, 2021-03-07 or later; the SDKs send `2023-10-01`.
    #[param(
        rename = "api-version",
        example = "2023-10-01",
        pattern = r"^((202[2-9]|20[3-9][0-9]|2[1-9][0-9]{2}|[3-9][0-9]{3})-[0-9]{2}-[0-9]{2}|2021-(0[4-9]|[1-9][0-9])-[0-9]{2}|2021-03-(0[7-9]|[1-9][0-9]))(-preview[0-9]*)?$"
    )]
    api_version: String,
}

/// Accepts `YYYY-MM-DD` or `YYYY-MM-DD-preview…` no older than [`OLDEST`], so newer versions the
/// SDKs send keep working.
pub fn is_supported(version: &str) -> bool {
    let date = version.get(..10).unwrap_or_default();
    let suffix = version.get(10..).unwrap_or_default();
    let date_shape = date.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    let suffix_ok = suffix.is_empty()
        || suffix
            .strip_prefix("-preview")
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    date.len() == 10 && date_shape && suffix_ok && date >= OLDEST
}

/// Extracted first by every ACS identity handler: refuses a request without a supported
/// `api-version` before anything else about it is read.
pub struct RequireApiVersion;

impl<S: Send + Sync> FromRequestParts<S> for RequireApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let version = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| *name == "api-version")
                .map(|(_, value)| value)
        });
        match version {
            None => Err(ApiError::bad_request(
                ErrorCode::MissingApiVersionParameter,
                "The api-version query parameter is required, e.g. ?api-version=2023-10-01.",
            )),
            Some(v) if !is_supported(v) => Err(ApiError::bad_request(
                ErrorCode::UnsupportedApiVersion,
                format!("api-version must be {OLDEST} or later, as YYYY-MM-DD[-preview]."),
            )),
            Some(_) => Ok(RequireApiVersion),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_supported;

    #[test]
    fn versions() {
        for ok in [
            "2021-03-07",
            "2023-10-01",
            "2025-04-01-preview",
            "2030-01-01",
            "2021-10-31-preview1",
        ] {
            assert!(is_supported(ok), "{ok}");
        }
        for bad in [
            "",
            "2020-07-20-preview2",
            "2023-1-01",
            "latest",
            "2023-10-01-beta",
            "2023-10-01x",
        ] {
            assert!(!is_supported(bad), "{bad}");
        }
    }
}
