//! Liveness and readiness.

use crate::helpers::*;

backend_tests!(health_and_readiness_answer_without_auth);

async fn health_and_readiness_answer_without_auth(app: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("x-request-id"));
    }
}
