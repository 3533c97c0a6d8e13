//! The document against itself and against the router it describes: well formed, and in step
//! with the routes the fully configured router serves, both ways.

pub(in crate::http) mod routes;

use std::collections::BTreeSet;

use serde_json::Value;

use super::ApiDoc;
use utoipa::OpenApi;

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document serialises")
}

/// Every operation: (method in upper case, documented path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            item.iter()
                .map(|(method, operation)| (method.to_uppercase(), path.clone(), operation.clone()))
        })
        .collect()
}

#[test]
fn the_document_is_openapi_3_1_with_both_backend_schemes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Callsign");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["hmac"]["type"], "apiKey");
    assert_eq!(schemes["hmac"]["in"], "header");
    assert_eq!(schemes["hmac"]["name"], "Authorization");
    assert!(
        schemes["hmac"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("HMAC-SHA256") && d.contains("x-ms-content-sha256"))
    );
    for bearer in ["bearer", "appBearer"] {
        assert_eq!(schemes[bearer]["type"], "http");
        assert_eq!(schemes[bearer]["scheme"], "bearer");
        assert_eq!(schemes[bearer]["bearerFormat"], "JWT");
    }
}

/// OpenAPI requires a description on every response; utoipa leaves it out when none is given.
#[test]
fn every_response_has_a_description() {
    let doc = document();
    let mut responses = Vec::new();
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            responses.push((format!("{method} {path} {status}"), response.clone()));
        }
    }
    for (name, response) in doc["components"]["responses"]
        .as_object()
        .expect("responses")
    {
        responses.push((name.clone(), response.clone()));
    }
    for (name, response) in responses {
        let described = match response["$ref"].as_str() {
            Some(_) => true, // the component is checked itself
            None => response["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
        };
        assert!(described, "{name} has no description");
    }
}

#[test]
fn every_operation_has_a_unique_camel_case_id_and_declares_its_security() {
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document()) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        let camel = id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric());
        assert!(camel, "{method} {path}: operationId {id:?}");
        assert!(ids.insert(id.to_owned()), "{id} is used twice");
        assert!(
            operation["security"].is_array(),
            "{method} {path} does not say how it is authenticated"
        );
        assert!(
            operation["summary"].is_string(),
            "{method} {path} has no summary"
        );
    }
}

#[test]
fn the_identity_routes_require_api_version() {
    for (method, path, operation) in operations(&document()) {
        let is_acs = path.starts_with("/identities") || path.starts_with("/teamsUser");
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let api_version = parameters
            .iter()
            .find(|p| p["name"] == "api-version" && p["in"] == "query");
        assert_eq!(
            api_version.is_some_and(|p| p["required"] == true),
            is_acs,
            "{method} {path}"
        );
    }
}

/// Every `$ref` points at something in the document.
#[test]
fn every_reference_resolves() {
    fn refs(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.insert(target.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let doc = document();
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    assert!(found.contains("#/components/schemas/ErrorBody"));
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }
}

/// The error codes are the wire names, every one of them.
#[test]
fn error_codes_are_a_string_enum_of_every_code() {
    use crate::http::ErrorCode;
    let doc = document();
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("an enum");
    for code in [
        ErrorCode::Denied,
        ErrorCode::TeamsUserExchangeNotSupported,
        ErrorCode::InternalError,
    ] {
        assert!(codes.contains(&Value::from(code.as_str())), "{code:?}");
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
}

/// The Swagger UI's own errors (an unknown asset, a path that is not UTF-8) leave with the ACS
/// body, as every other error does.
#[tokio::test]
async fn the_docs_pages_errors_have_the_acs_shape() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    let docs = super::docs::<()>();
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    for (path, status, code) in [
        ("/docs/e", StatusCode::NOT_FOUND, "NotFound"),
        ("/docs/swagger-ui.css/e", StatusCode::NOT_FOUND, "NotFound"),
        ("/docs/%FF", StatusCode::BAD_REQUEST, "InvalidPath"),
    ] {
        let response = docs.clone().oneshot(get(path)).await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    let index = docs.oneshot(get("/docs/")).await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
}

/// The docs page and everything beside it: no framing, no sniffing, nothing loaded from
/// elsewhere.
#[tokio::test]
async fn the_docs_pages_are_held_to_a_strict_content_security_policy() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    let docs = super::docs::<()>();
    for path in [
        "/docs/",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
        "/openapi.json",
        "/docs/e",
    ] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = docs.clone().oneshot(request).await.unwrap();
        if path != "/docs/e" {
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let csp = header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp:?}");
        }
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp:?}");
        assert_eq!(header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(header("x-content-type-options"), Some("nosniff"), "{path}");
    }
}
