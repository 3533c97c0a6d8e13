//! The OpenAPI document at `/openapi.json` and the Swagger UI at `/docs`: served without
//! credentials, from the binary (the page loads nothing from elsewhere), and valid OpenAPI by
//! an independent validator. That every route is documented is checked beside the document
//! (`src/http/openapi/tests`), against the router with every option on.

use callsign::http::ApiDoc;
use serde_json::Value;
use utoipa::OpenApi;

use crate::helpers::*;

async fn app() -> TestApp {
    // The document does not depend on the store: SQLite is enough.
    spawn_app(Backend::Sqlite).await.expect("SQLite")
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_document_is_served_without_credentials() {
    let app = app().await;
    let response = get(&app, "/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let served = body(response).await;
    assert_eq!(served["openapi"], "3.1.0");
    // The compiled document, whatever the configuration.
    assert_eq!(served, serde_json::to_value(ApiDoc::openapi()).unwrap());
    assert!(served["paths"]["/identities/{id}/:issueAccessToken"]["post"].is_object());
}

#[tokio::test]
async fn the_docs_page_loads_only_from_this_server() {
    let app = app().await;
    // `/docs` redirects to the page.
    let page = get(&app, "/docs").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.url().path(), "/docs/");
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let assets: Vec<&str> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(assets.contains(&"./swagger-ui-bundle.js"), "{assets:?}");
    for asset in assets {
        assert!(!asset.contains("//"), "{asset} is not served by Callsign");
        let path = format!("/docs/{}", asset.trim_start_matches("./"));
        assert_eq!(get(&app, &path).await.status(), 200, "{path}");
    }
    let initializer = get(&app, "/docs/swagger-initializer.js").await;
    let initializer = initializer.text().await.unwrap();
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    // No validator badge: the browser would send the document's URL to an outside validator.
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "{initializer}"
    );
}

/// `openapi-spec-validator` (PyPI, in `tests/sdk/requirements.txt`) checks the served document
/// against the OpenAPI 3.1 schema, references included.
#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1() {
    let Some(python) = required_env(
        "CALLSIGN_TEST_PYTHON",
        "./scripts/test makes the venv and sets it",
    ) else {
        return;
    };
    let app = app().await;
    let document: Value = body(get(&app, "/openapi.json").await).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let output = tokio::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .await
        .expect("run python");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "not valid OpenAPI:\n{log}");
    assert!(log.contains("OK"), "{log}");
}
