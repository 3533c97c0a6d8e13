//! What app users and the backends acting for them do is in the audit trail: account created,
//! a provider's user created at its first request, identities created (the default one at the
//! first sign-in, and more), linked and unlinked, sessions ended one at a time and everywhere.

use reqwest::Method;
use serde_json::json;

use crate::app_client::*;
use crate::audit::actions;
use crate::helpers::*;
use crate::idp::{AUDIENCE, LocalIdp};

backend_tests!(
    the_app_user_paths_are_audited,
    a_provider_s_user_is_audited_once_when_first_seen,
);

async fn the_app_user_paths_are_audited(app: TestApp) {
    let session = app.new_session("nora").await;
    let nora = session["user"]["id"].as_str().unwrap().to_owned();
    let default = session["user"]["communicationUserId"].as_str().unwrap();
    let created = app.post(&user_path(&nora, "/identities")).send().await;
    assert_eq!(created.status(), 201);
    let second = body(created).await["communicationUserId"]
        .as_str()
        .unwrap()
        .to_owned();

    let omar = body(app.create_account("omar", PASSWORD).await).await;
    let omar = omar["id"].as_str().unwrap();
    let linking = user_path(omar, &format!("/identities/{}", encoded(&second)));
    assert_eq!(app.post(&linking).send().await.status(), 201);
    assert_eq!(
        app.signed(Method::DELETE, &linking).send().await.status(),
        204
    );

    let out = app
        .public_post(
            "/v1/sessions/sign-out",
            &json!({ "refreshToken": session["refreshToken"] }),
        )
        .await;
    assert_eq!(out.status(), 204);
    let again = body(app.sign_in("nora", PASSWORD).await).await;
    let everywhere = app
        .public_post(
            "/v1/sessions/sign-out-everywhere",
            &json!({ "refreshToken": again["refreshToken"] }),
        )
        .await;
    assert_eq!(everywhere.status(), 204);

    let noras = app
        .audit_events(&format!("appUser={nora}&action=session.endedEverywhere"), 1)
        .await;
    assert_eq!(noras[0]["actor"], "public");
    let noras = app.audit(&format!("appUser={nora}&maxPageSize=100")).await["value"]
        .as_array()
        .unwrap()
        .clone();
    let done = actions(&noras);
    for expected in [
        "account.created",
        "identity.created",
        "session.ended",
        "session.endedEverywhere",
    ] {
        assert!(done.contains(&expected), "{expected}: {done:?}");
    }
    let created = app
        .audit(&format!("appUser={nora}&action=identity.created"))
        .await["value"]
        .as_array()
        .unwrap()
        .clone();
    let created: Vec<_> = created.iter().map(|e| &e["identity"]).collect();
    assert_eq!(created.len(), 2, "{created:?}");
    for identity in [default, second.as_str()] {
        assert!(created.iter().any(|id| **id == identity), "{identity}");
    }

    let omars = app.audit(&format!("appUser={omar}")).await["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        actions(&omars),
        ["identity.unlinked", "identity.linked", "account.created"]
    );
    assert_eq!(omars[0]["identity"], second.as_str());
    assert_eq!(omars[0]["actor"], "accessKey:primary");
}

/// A user of the app's identity provider is created by its first bearer request: that is
/// audited once (before its default identity), and later requests create no one.
async fn a_provider_s_user_is_audited_once_when_first_seen(app: TestApp) {
    let idp = LocalIdp::start().await;
    let app = app
        .restart_with(&["--oidc-issuer", &idp.issuer, "--oidc-audience", AUDIENCE])
        .await;
    let bearer = idp.token("user-una");
    for _ in 0..2 {
        let token = app
            .bearer(Method::GET, "/api/token", &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 201);
        body(token).await;
    }
    let found = app
        .signed(Method::GET, "/v1/users?oidcSubject=user-una")
        .send()
        .await;
    assert_eq!(found.status(), 200);
    let una = body(found).await["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.audit_events(&format!("appUser={una}&action=token.issued"), 2)
        .await;
    let created = app
        .audit(&format!("appUser={una}&action=appUser.created"))
        .await["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["actor"], "public");
    assert_eq!(created[0]["appUser"], una.as_str());
    let unas = app.audit(&format!("appUser={una}&maxPageSize=100")).await["value"]
        .as_array()
        .unwrap()
        .clone();
    let done = actions(&unas);
    assert_eq!(done.last(), Some(&"appUser.created"), "{done:?}");
    assert!(done.contains(&"identity.created"), "{done:?}");
}
