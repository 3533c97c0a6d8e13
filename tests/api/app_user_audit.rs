//! What app users and the backends acting for them do is in the audit trail: account created,
//! identities created (the default one at the first sign-in, and more), linked and unlinked,
//! sessions ended one at a time and everywhere.

use reqwest::Method;
use serde_json::json;

use crate::app_client::*;
use crate::audit::actions;
use crate::helpers::*;

backend_tests!(the_app_user_paths_are_audited);

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
