//! The middleware every listener has, around a handler that panics: the panic is caught and
//! answered with the ACS error body (telling nothing of the panic), and the router keeps serving.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

use super::openapi::tests::routes::everything_on;
use super::with_layers;
use crate::testing::Fixture;

async fn call(router: &Router, path: &str) -> (StatusCode, Vec<u8>) {
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    (status, body.to_vec())
}

async fn boom() -> &'static str {
    panic!("secret detail of a bug")
}

#[tokio::test]
async fn a_panicking_handler_gets_an_acs_500_and_the_router_keeps_serving() {
    let fixture = Fixture::new().await;
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let router = with_layers(routes, everything_on(&fixture));

    for _ in 0..2 {
        let (status, body) = call(&router, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let body: Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(body["error"]["code"], "InternalError", "{body}");
        let message = body["error"]["message"].as_str().expect("a message");
        assert!(!message.contains("secret detail"), "{message}");

        let (status, body) = call(&router, "/fine").await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"fine"[..]));
    }
}
