//! Listing routes in pages (the audit trail, app users): the page size, RFC 3339 bounds, one item
//! fetched beyond the page to tell whether another follows, and the `nextLink` that carries the
//! same query on. Every refusal is a 400 `InvalidQueryParameter`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ApiError, ErrorCode};
use crate::clock::millis;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

pub(super) fn invalid(message: String) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidQueryParameter, message)
}

/// The page size asked for (`maxPageSize`), 1 to 1000; 100 when absent.
pub(super) fn page_size(requested: Option<u32>) -> Result<u32, ApiError> {
    let page = requested.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&page) {
        Ok(page)
    } else {
        Err(invalid(format!("'maxPageSize' must be 1 to {MAX_PAGE}.")))
    }
}

/// An RFC 3339 time parameter, as unix ms.
pub(super) fn parse_time(name: &str, raw: &str) -> Result<i64, ApiError> {
    OffsetDateTime::parse(raw, &Rfc3339)
        .map(millis)
        .map_err(|_| {
            invalid(format!(
                "'{name}' must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z."
            ))
        })
}

/// `items` fetched as a page plus one: the page, and its last item when another page follows.
pub(super) fn take_page<T>(mut items: Vec<T>, page: u32) -> (Vec<T>, bool) {
    let more = items.len() > page as usize;
    items.truncate(page as usize);
    (items, more)
}

/// `path?…` with the parameters that are present, and `maxPageSize` and `continuationToken`.
pub(super) fn next_link(
    path: &str,
    params: &[(&str, Option<&str>)],
    page_size: Option<u32>,
    continuation: &str,
) -> String {
    let size = page_size.map(|size| size.to_string());
    let query: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .chain([
            ("maxPageSize", size.as_deref()),
            ("continuationToken", Some(continuation)),
        ])
        .filter_map(|(name, value)| value.map(|value| (name, value)))
        .collect();
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(query).unwrap_or_default()
    )
}
