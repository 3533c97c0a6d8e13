//! Calls client apps make for their users: accounts, sessions, guests, bearer routes.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::test_logs::{record_secret, record_secrets_in};

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// A JSON POST with no access-key signature, as a client app sends it.
    pub async fn public_post(&self, path: &str, body: &Value) -> Response {
        record_secrets_in(body);
        self.client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /v1/accounts`, signed with the primary access key.
    pub async fn create_account(&self, username: &str, password: &str) -> Response {
        self.post("/v1/accounts")
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Response {
        self.public_post(
            "/v1/sessions",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Creates an account and signs it in; returns the session body.
    pub async fn new_session(&self, username: &str) -> Value {
        let created = self.create_account(username, PASSWORD).await;
        assert_eq!(created.status(), 201, "{}", body(created).await);
        let session = self.sign_in(username, PASSWORD).await;
        assert_eq!(session.status(), 201);
        body(session).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.public_post(
            "/v1/sessions/refresh",
            &json!({ "refreshToken": refresh_token }),
        )
        .await
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        record_secret(token);
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
    }
}

/// `/v1/users/<id><suffix>`
pub fn user_path(user_id: &str, suffix: &str) -> String {
    format!("/v1/users/{user_id}{suffix}")
}

/// A raw identity id, percent-encoded for a path segment.
pub fn encoded(id: &str) -> String {
    id.replace(':', "%3A")
}
