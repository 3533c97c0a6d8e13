use serde_json::{Value, json};

use super::*;

const APP: &str = "2c3e1e83-0000-4000-8000-0000000000aa";
const USER: &str = "32c0a5db-1111-4111-8111-111111111111";
const AUDIENCE: &str = "https://auth.msft.communication.azure.com";

fn policy() -> OrgExchangePolicy {
    OrgExchangePolicy {
        clients: vec![APP.into()],
        scopes: vec!["Teams.ManageCalls".into(), "Teams.ManageChats".into()],
        user_claim: "oid".into(),
        audience: AUDIENCE.into(),
    }
}

/// An Entra ID v1 user token for `USER`, issued to `APP`, with `changes` laid over it.
fn token(changes: Value) -> BearerClaims {
    let mut claims = json!({
        "appid": APP,
        "oid": USER,
        "scp": "Teams.ManageCalls Teams.ManageChats",
    });
    for (name, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => claims.as_object_mut().unwrap().remove(name),
            value => claims
                .as_object_mut()
                .unwrap()
                .insert(name.clone(), value.clone()),
        };
    }
    BearerClaims {
        issuer: "https://login.example/tenant/v2.0".into(),
        subject: "pairwise-subject".into(),
        expires_at: 1_800_000_000,
        claims: claims.as_object().unwrap().clone(),
    }
}

fn user() -> OrgUserId {
    OrgUserId::parse(USER).unwrap()
}

fn judge(changes: Value) -> Result<(), ExchangeRefused> {
    policy().judge(&token(changes), APP, user())
}

#[test]
fn an_entra_user_token_for_the_app_and_user_is_exchanged() {
    assert_eq!(judge(json!({})), Ok(()));
}

#[test]
fn v2_keycloak_and_okta_spellings_are_understood() {
    // Entra ID v2 names the client in azp; Keycloak puts scopes in `scope`, Okta in a list.
    assert_eq!(judge(json!({"appid": null, "azp": APP})), Ok(()));
    let keycloak = json!({"scp": null, "scope": "openid Teams.ManageCalls Teams.ManageChats"});
    assert_eq!(judge(keycloak), Ok(()));
    assert_eq!(
        judge(json!({"scp": ["Teams.ManageChats", "Teams.ManageCalls"]})),
        Ok(())
    );
    // A scope written under the audience counts as its name.
    let full = format!("{AUDIENCE}/Teams.ManageCalls {AUDIENCE}/Teams.ManageChats");
    assert_eq!(judge(json!({"scp": full})), Ok(()));
}

#[test]
fn every_configured_scope_is_required() {
    assert_eq!(
        judge(json!({"scp": "Teams.ManageCalls"})),
        Err(ExchangeRefused::MissingScope("Teams.ManageChats".into()))
    );
    assert_eq!(
        judge(json!({"scp": null})),
        Err(ExchangeRefused::MissingScope("Teams.ManageCalls".into()))
    );
    // Under another audience it is another API's scope.
    let elsewhere =
        "https://graph.example/Teams.ManageCalls https://graph.example/Teams.ManageChats";
    assert!(matches!(
        judge(json!({"scp": elsewhere})),
        Err(ExchangeRefused::MissingScope(_))
    ));
}

#[test]
fn the_token_must_be_the_presented_apps_and_an_allowed_one() {
    let other = "9f0f0f0f-0000-4000-8000-0000000000bb";
    let refused = policy().judge(&token(json!({})), other, user());
    assert!(matches!(refused, Err(ExchangeRefused::OtherApp { .. })));
    assert_eq!(refused.unwrap_err().field(), Field::AppId);
    // The token is the presented app's, but that app is not configured.
    let refused = policy().judge(&token(json!({"appid": other})), other, user());
    assert_eq!(refused, Err(ExchangeRefused::AppNotAllowed(other.into())));
    // Client claims that disagree, or none at all, make the token unusable.
    assert!(matches!(
        judge(json!({"azp": other})),
        Err(ExchangeRefused::NoClient(_))
    ));
    assert!(matches!(
        judge(json!({"appid": null})),
        Err(ExchangeRefused::NoClient(_))
    ));
    assert!(judge(json!({"appid": 7})).unwrap_err().is_about_token());
}

#[test]
fn the_token_must_be_the_presented_users() {
    let other = "44444444-4444-4444-8444-444444444444";
    assert_eq!(
        judge(json!({"oid": other})),
        Err(ExchangeRefused::OtherUser(USER.into()))
    );
    // The object id compares as a GUID: directories differ in case.
    assert_eq!(judge(json!({"oid": USER.to_uppercase()})), Ok(()));
    assert_eq!(
        judge(json!({"oid": null})),
        Err(ExchangeRefused::NoUser {
            claim: "oid".into()
        })
    );
    // Another claim can carry the object id.
    let keycloak = OrgExchangePolicy {
        user_claim: "sub_id".into(),
        ..policy()
    };
    let claims = token(json!({"oid": null, "sub_id": USER}));
    assert_eq!(keycloak.judge(&claims, APP, user()), Ok(()));
}

#[test]
fn fields_are_required_and_user_id_is_an_object_id() {
    let presented = |app_id, user_id| Presented { app_id, user_id };
    let check = |token, app_id, user_id| policy().check_fields(token, presented(app_id, user_id));
    assert_eq!(check("t", APP, USER), Ok(user()));
    assert_eq!(
        check("", APP, USER),
        Err(ExchangeRefused::Required(Field::Token))
    );
    assert_eq!(
        check("t", "", USER),
        Err(ExchangeRefused::Required(Field::AppId))
    );
    assert_eq!(
        check("t", APP, ""),
        Err(ExchangeRefused::Required(Field::UserId))
    );
    // A missing token is an invalid token (401, as ACS answers); a missing id is a field's.
    assert!(ExchangeRefused::Required(Field::Token).is_about_token());
    assert!(!ExchangeRefused::Required(Field::AppId).is_about_token());
    let refused = check("t", APP, "alice").unwrap_err();
    assert_eq!(refused.field(), Field::UserId);
    assert!(refused.to_string().contains("GUID"), "{refused}");
}
