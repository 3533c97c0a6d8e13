//! `GET /v1/users`: app users found by username prefix, identity and creation time, in pages
//! that follow one another through `nextLink`.

use reqwest::Method;
use serde_json::Value;

use crate::app_client::encoded;
use crate::helpers::*;

backend_tests!(
    users_are_found_by_prefix_and_identity_in_pages,
    bad_search_parameters_are_clear_400s,
);

async fn search(app: &TestApp, query: &str) -> Value {
    let response = app
        .signed(Method::GET, &format!("/v1/users?{query}"))
        .send()
        .await;
    assert_eq!(response.status(), 200);
    body(response).await
}

fn names(page: &Value) -> Vec<&str> {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect()
}

async fn users_are_found_by_prefix_and_identity_in_pages(app: TestApp) {
    let mut ids = Vec::new();
    for name in ["alice", "alina", "bob", "al_x"] {
        let session = app.new_session(name).await;
        ids.push((
            name,
            session["user"]["communicationUserId"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    let mut found = names(&search(&app, "usernamePrefix=ALI").await)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    found.sort();
    assert_eq!(found, ["alice", "alina"]);
    // `_` is a character, not a wildcard.
    assert_eq!(names(&search(&app, "usernamePrefix=al_").await), ["al_x"]);

    // One at a time: every one of the four, each once, through nextLink.
    let mut seen = Vec::new();
    let mut page = search(&app, "maxPageSize=1").await;
    loop {
        seen.extend(names(&page).into_iter().map(str::to_owned));
        let Some(next) = page["nextLink"].as_str() else {
            break;
        };
        let next = next.strip_prefix("/v1/users?").unwrap().to_owned();
        page = search(&app, &next).await;
    }
    seen.sort();
    assert_eq!(seen, ["al_x", "alice", "alina", "bob"]);

    let (_, bobs_identity) = &ids[2];
    let holders = search(&app, &format!("identity={}", encoded(bobs_identity))).await;
    assert_eq!(names(&holders), ["bob"]);
    let future = search(&app, "createdFrom=2100-01-01T00:00:00Z").await;
    assert_eq!(names(&future), Vec::<&str>::new());
    let past = search(&app, "createdTo=2000-01-01T00:00:00Z&usernamePrefix=a").await;
    assert_eq!(names(&past), Vec::<&str>::new());
}

async fn bad_search_parameters_are_clear_400s(app: TestApp) {
    for query in [
        "maxPageSize=0",
        "maxPageSize=1001",
        "createdFrom=yesterday",
        "continuationToken=nope",
        "identity=not-an-identity",
        "unknown=1",
        // A NUL, which PostgreSQL's text cannot hold, and other control characters.
        "oidcSubject=%00%C3%AD",
        "usernamePrefix=al%00",
        "usernamePrefix=al%0A",
    ] {
        let response = app
            .signed(Method::GET, &format!("/v1/users?{query}"))
            .send()
            .await;
        assert_eq!(response.status(), 400, "{query}");
    }
    // Another resource's identity is one no user here holds.
    let other = app
        .signed(
            Method::GET,
            "/v1/users?identity=8:acs:other_00000000-0000-0000-0000-000000000000",
        )
        .send()
        .await;
    assert_error(other, 404, "IdentityNotFound").await;
}
