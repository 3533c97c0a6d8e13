//! The password policy for new accounts: a configurable minimum length and no common password,
//! each refusal a 400 naming its rule; signing in is not held to it.

use crate::app_client::PASSWORD;
use crate::helpers::*;

backend_tests!(
    common_passwords_are_refused_naming_the_rule,
    the_minimum_length_is_configurable_and_old_passwords_still_sign_in,
);

async fn common_passwords_are_refused_naming_the_rule(app: TestApp) {
    for common in ["password1", "qwerty123", "P@ssw0rd!"] {
        let refused = app.create_account("dana", common).await;
        let message = assert_error(refused, 400, "InvalidPassword").await;
        assert!(
            message.contains("rule: not a common password"),
            "{common}: {message}"
        );
    }
    let refused = app.create_account("dana-scully", "Dana-Scully").await;
    let message = assert_error(refused, 400, "InvalidPassword").await;
    assert!(message.contains("rule: not the username"), "{message}");
    assert_eq!(app.create_account("dana", PASSWORD).await.status(), 201);
}

async fn the_minimum_length_is_configurable_and_old_passwords_still_sign_in(app: TestApp) {
    let short = "mauve-otter"; // 11 characters, not common
    assert_eq!(app.create_account("early", short).await.status(), 201);

    let app = app.restart_with(&["--password-min-length", "12"]).await;
    let refused = app.create_account("later", short).await;
    let message = assert_error(refused, 400, "InvalidPassword").await;
    assert!(message.contains("at least 12 characters"), "{message}");
    assert_eq!(
        app.create_account("later", "mauve-otte42").await.status(),
        201
    );
    // Set under the old minimum: still good for signing in.
    assert_eq!(app.sign_in("early", short).await.status(), 201);
}
