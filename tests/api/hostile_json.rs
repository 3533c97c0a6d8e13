//! JSON that parsers disagree on or choke on (duplicate keys, deep nesting, numbers beyond any
//! machine type), sent to every route that reads a body, signed or public: a 400
//! `InvalidRequestBody` where it is in a field Callsign reads or on a route that refuses unknown
//! fields, the normal answer where it is in a field an ACS route ignores, never a 500, and the
//! server keeps answering.

use reqwest::Response;
use serde_json::json;

use crate::helpers::*;

backend_tests!(hostile_json_in_read_fields_is_400_and_in_ignored_fields_changes_nothing);

/// A route, whether it is signed with the access key, the fields of a valid body in order, as
/// raw JSON text, and whether it refuses unknown fields (Callsign's own `/v1/…` routes; the
/// ACS routes are as lenient as ACS).
struct Route {
    path: String,
    signed: bool,
    fields: Vec<(&'static str, &'static str)>,
    strict: bool,
}

impl Route {
    fn body(&self, fields: &[(&str, &str)]) -> String {
        let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", inner.join(","))
    }

    /// The valid body with `extra` appended.
    fn with(&self, extra: &[(&str, &str)]) -> String {
        let mut fields = self.fields.clone();
        fields.extend_from_slice(extra);
        self.body(&fields)
    }

    async fn send(&self, app: &TestApp, body: String) -> Response {
        if self.signed {
            app.post(&self.path).raw_body(body).send().await
        } else {
            app.client
                .post(format!("{}{}", app.base, self.path))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("request sent")
        }
    }
}

/// The status and the JSON body (null when the body is not JSON).
async fn outcome(response: Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(json!(null)))
}

async fn hostile_json_in_read_fields_is_400_and_in_ignored_fields_changes_nothing(app: TestApp) {
    let id = app.create_identity().await;
    let routes = [
        Route {
            path: format!("/identities?{API}"),
            signed: true,
            fields: vec![("createTokenWithScopes", r#"["chat"]"#)],
            strict: false,
        },
        Route {
            path: identity_path(&id, "/:issueAccessToken"),
            signed: true,
            fields: vec![("scopes", r#"["chat"]"#)],
            strict: false,
        },
        Route {
            path: "/tokens/:introspect".to_owned(),
            signed: true,
            fields: vec![("token", r#""x.y.z""#)],
            strict: false,
        },
        Route {
            path: "/v1/accounts".to_owned(),
            signed: true,
            fields: vec![("username", r#""json-hostile""#), ("password", r#""pw""#)],
            strict: true,
        },
        Route {
            path: "/v1/sessions".to_owned(),
            signed: false,
            fields: vec![("username", r#""nobody""#), ("password", r#""pw""#)],
            strict: true,
        },
        Route {
            path: "/v1/sessions/refresh".to_owned(),
            signed: false,
            fields: vec![("refreshToken", r#""csr_x""#)],
            strict: true,
        },
        Route {
            path: "/v1/sessions/sign-out".to_owned(),
            signed: false,
            fields: vec![("refreshToken", r#""csr_x""#)],
            strict: true,
        },
    ];
    let deep_array = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let huge_integer = "9".repeat(5_000);
    let mut failures = Vec::new();
    for route in &routes {
        let (first, first_value) = route.fields[0];
        let refused = [
            // The same key twice, even with the same value: no "last one wins" guessing.
            route.with(&[(first, first_value)]),
            route.body(&[(first, first_value), (first, r#""other""#)]),
            deep_array.clone(),
            route.body(&[(first, &deep_array)]),
            route.body(&[(first, "1e999999")]),
            route.body(&[(first, &huge_integer)]),
            route.body(&[(first, "-0")]),
            format!("{}\u{0}", route.with(&[])),
        ];
        for body in refused {
            let (status, answer) = outcome(route.send(&app, body.clone()).await).await;
            if status != 400 || answer["error"]["code"] != "InvalidRequestBody" {
                failures.push(format!("{} {body:.60}: {status} {answer:.120}", route.path));
            }
        }
        // Unknown fields are refused on Callsign's own routes, and elsewhere skipped unread,
        // whatever they hold (the body limit bounds them): the request is answered as it would
        // be without them.
        let (expected, baseline) = if route.strict {
            (400, json!({ "error": { "code": "InvalidRequestBody" } }))
        } else {
            outcome(route.send(&app, route.with(&[])).await).await
        };
        let ignored = [
            route.with(&[("nested", &deep_array)]),
            route.with(&[("nested", &deep_object)]),
            route.with(&[("big", "1e999999")]),
            route.with(&[("big", &huge_integer)]),
        ];
        for body in ignored {
            let (status, answer) = outcome(route.send(&app, body.clone()).await).await;
            if status != expected || answer["error"]["code"] != baseline["error"]["code"] {
                failures.push(format!("{} {body:.60}: {status} {answer:.120}", route.path));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        app.post(&format!("/identities?{API}"))
            .send()
            .await
            .status(),
        201
    );
}
