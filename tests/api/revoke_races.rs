//! Revocations racing refreshes. Every session of a user rotates its refresh token as fast as it
//! can while the session, all the user's sessions, the user or its identity is revoked. Once the
//! revocation has returned, no refresh token of what it ended works and no access token it
//! killed is active, whatever the refreshes in flight did. Many rounds, the revocation fired at
//! a different moment of the load in each.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};

use crate::app_client::*;
use crate::helpers::*;

backend_tests!(
    signing_out_while_refreshing_leaves_that_session_no_live_refresh_token,
    signing_out_everywhere_while_refreshing_leaves_no_live_token,
    erasing_the_user_while_refreshing_leaves_no_live_token,
    deleting_the_identity_while_refreshing_leaves_no_live_token,
    revoking_the_identity_while_refreshing_kills_every_token_issued_before,
);

const ROUNDS: u32 = 12;
/// Sessions (refresh-token families) per user, each refreshed by its own task.
const SESSIONS: usize = 3;

async fn signing_out_while_refreshing_leaves_that_session_no_live_refresh_token(app: TestApp) {
    race(app, Revocation::SignOut).await;
}

async fn signing_out_everywhere_while_refreshing_leaves_no_live_token(app: TestApp) {
    race(app, Revocation::SignOutEverywhere).await;
}

async fn erasing_the_user_while_refreshing_leaves_no_live_token(app: TestApp) {
    race(app, Revocation::EraseUser).await;
}

async fn deleting_the_identity_while_refreshing_leaves_no_live_token(app: TestApp) {
    race(app, Revocation::DeleteIdentity).await;
}

async fn revoking_the_identity_while_refreshing_kills_every_token_issued_before(app: TestApp) {
    race(app, Revocation::RevokeIdentityTokens).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revocation {
    /// `POST /v1/sessions/sign-out` for the first session: it ends; the others live on.
    SignOut,
    /// `POST /v1/sessions/sign-out-everywhere`: every session ends, their access tokens die.
    SignOutEverywhere,
    /// `DELETE /v1/users/{id}`: everything of the user goes.
    EraseUser,
    /// `DELETE /identities/{id}`: the sessions on it end, its tokens die.
    DeleteIdentity,
    /// `POST /identities/{id}/:revokeAccessTokens`: access tokens issued before it die; the
    /// sessions live on and their next refresh gets a working token.
    RevokeIdentityTokens,
    /// What a sign-out became when a refresh spent its token first: reuse, which ends every
    /// session of the user and kills their access tokens, as signing out everywhere does.
    SignOutOfASpentToken,
}

impl Revocation {
    /// Whether the session at `index` ends.
    fn ends_session(self, index: usize) -> bool {
        match self {
            Revocation::SignOut => index == 0,
            Revocation::RevokeIdentityTokens => false,
            _ => true,
        }
    }

    /// Whether every access token the sessions were given dies.
    fn kills_all_access_tokens(self) -> bool {
        !matches!(self, Revocation::SignOut | Revocation::RevokeIdentityTokens)
    }
}

/// A user signed in [`SESSIONS`] times, and once more for a session no one refreshes.
struct User {
    id: String,
    identity: String,
    sessions: Vec<Value>,
    spare: Value,
}

/// What one session's refresher was answered, in order.
#[derive(Default)]
struct Chain {
    /// The refresh token the last 200 returned (the sign-in's, if none did).
    newest_refresh_token: String,
    /// The same, where the revocation can read it while the refresher runs.
    published: Arc<Mutex<String>>,
    /// Every access token it was given, the sign-in's first.
    access_tokens: Vec<String>,
    /// When each refresh answered 200 was sent and answered.
    answered: Vec<(Instant, Instant)>,
    /// Answers other than 200 and 401.
    unexpected: Vec<String>,
}

/// Figures over all rounds of one test.
#[derive(Default, Debug)]
struct Tally {
    refreshed: usize,
    /// Refreshes sent before the revocation returned and answered 200 after it was sent.
    overlapping: usize,
    refused_after: usize,
    access_tokens_checked: usize,
}

async fn race(app: TestApp, revocation: Revocation) {
    let settings = app.settings.clone();
    let dir = app._dir.clone().expect("a data directory");
    drop(app);
    // A process of its own: the load and the server do not share the test's runtime.
    let app = spawn_process(&settings, dir, &["--rate-limits", "off"]).await;
    let shared = Arc::new(app.with_client(app.client.clone()));
    let mut tally = Tally::default();
    for round in 0..ROUNDS {
        let user = sign_up(&app, &format!("racer{round}")).await;
        let stop = Arc::new(AtomicBool::new(false));
        let published: Vec<_> = user
            .sessions
            .iter()
            .map(|session| {
                let token = session["refreshToken"].as_str().unwrap_or_default();
                Arc::new(Mutex::new(token.to_owned()))
            })
            .collect();
        let refreshers: Vec<_> = user
            .sessions
            .iter()
            .zip(&published)
            .map(|(session, published)| {
                tokio::spawn(refresh_until_refused(
                    shared.clone(),
                    session.clone(),
                    published.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        // The revocation lands at a different point of the load each round: before the first
        // rotation, between two, or in the middle of many.
        tokio::time::sleep(Duration::from_micros(u64::from(round) * 2_300 % 26_000)).await;
        let (sent, sent_ms) = (Instant::now(), unix_ms());
        let status = send_revocation(&app, &user, &published[0], revocation).await;
        let returned = Instant::now();
        // Signing out presents the session's newest refresh token, which its refresher may
        // spend first: then the sign-out is reuse, refused, and ends everything.
        let revocation = match (revocation, status) {
            (Revocation::SignOut, 401) => Revocation::SignOutOfASpentToken,
            (_, 204) => revocation,
            (_, status) => panic!("{revocation:?}: {status}"),
        };
        // Let the refreshers run on for a moment: requests after the revocation must fail too.
        tokio::time::sleep(Duration::from_millis(15)).await;
        stop.store(true, Ordering::Relaxed);
        let mut chains = Vec::new();
        for refresher in refreshers {
            chains.push(refresher.await.expect("the refresher does not panic"));
        }

        for (index, chain) in chains.iter().enumerate() {
            assert!(
                chain.unexpected.is_empty(),
                "{revocation:?}, round {round}: {:?}",
                chain.unexpected
            );
            tally.refreshed += chain.answered.len();
            tally.overlapping += chain
                .answered
                .iter()
                .filter(|(request, answer)| *request < returned && *answer > sent)
                .count();
            let again = app.refresh(&chain.newest_refresh_token).await;
            if revocation.ends_session(index) {
                assert_eq!(
                    again.status(),
                    401,
                    "{revocation:?}, round {round}: session {index}'s newest refresh token still works"
                );
                tally.refused_after += 1;
            } else {
                assert_eq!(
                    again.status(),
                    200,
                    "{revocation:?}, round {round}: session {index} ended"
                );
                let fresh = body(again).await;
                let token = fresh["accessToken"]["token"].as_str().unwrap_or_default();
                assert!(
                    app.is_active(token).await,
                    "a token issued after the revocation works"
                );
            }
        }
        tally.access_tokens_checked +=
            check_access_tokens(&app, &chains, revocation, sent_ms, round).await;
    }
    eprintln!("{revocation:?}: {tally:?}");
    assert!(
        tally.overlapping > 0,
        "no refresh was in flight at a revocation: {tally:?}"
    );
}

/// Asserts what the revocation must have killed is inactive; returns how many were checked.
async fn check_access_tokens(
    app: &TestApp,
    chains: &[Chain],
    revocation: Revocation,
    sent_ms: i64,
    round: u32,
) -> usize {
    let tokens = chains.iter().flat_map(|chain| &chain.access_tokens);
    let must_be_dead: Vec<&String> = if revocation.kills_all_access_tokens() {
        tokens.collect()
    } else if revocation == Revocation::RevokeIdentityTokens {
        // Issued before the revocation was sent: at or before its cut-off.
        tokens
            .filter(|token| claims(token)["iatMs"].as_i64().unwrap_or(i64::MAX) <= sent_ms)
            .collect()
    } else {
        // Signing out ends the session; its access tokens are the identity's and run out.
        Vec::new()
    };
    let active =
        futures_util::future::join_all(must_be_dead.iter().map(|token| app.is_active(token))).await;
    let alive = active.iter().filter(|&&active| active).count();
    assert_eq!(
        alive,
        0,
        "{revocation:?}, round {round}: {alive} of {} access tokens still active",
        active.len()
    );
    active.len()
}

/// Refreshes `session` in a loop, each time with the token the last answer returned, until
/// refused or stopped.
async fn refresh_until_refused(
    app: Arc<TestApp>,
    session: Value,
    published: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
) -> Chain {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let mut chain = Chain {
        newest_refresh_token: text(&session["refreshToken"]),
        published,
        access_tokens: vec![text(&session["accessToken"]["token"])],
        ..Chain::default()
    };
    while !stop.load(Ordering::Relaxed) {
        let request = Instant::now();
        let response = app.refresh(&chain.newest_refresh_token).await;
        let answer = Instant::now();
        match response.status().as_u16() {
            200 => {
                let rotated = body(response).await;
                chain.newest_refresh_token = text(&rotated["refreshToken"]);
                *chain.published.lock().unwrap() = chain.newest_refresh_token.clone();
                chain
                    .access_tokens
                    .push(text(&rotated["accessToken"]["token"]));
                chain.answered.push((request, answer));
            }
            401 => break,
            status => {
                let body = response.text().await.unwrap_or_default();
                chain.unexpected.push(format!("{status}: {body}"));
                break;
            }
        }
    }
    chain
}

async fn sign_up(app: &TestApp, name: &str) -> User {
    let mut sessions = vec![app.new_session(name).await];
    while sessions.len() < SESSIONS {
        let signed_in = app.sign_in(name, PASSWORD).await;
        assert_eq!(signed_in.status(), 201);
        sessions.push(body(signed_in).await);
    }
    let spare = body(app.sign_in(name, PASSWORD).await).await;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    User {
        id: text(&sessions[0]["user"]["id"]),
        identity: text(&sessions[0]["user"]["communicationUserId"]),
        sessions,
        spare,
    }
}

async fn send_revocation(
    app: &TestApp,
    user: &User,
    newest_of_first: &Mutex<String>,
    revocation: Revocation,
) -> u16 {
    // A spent refresh token would be reuse: the first session's newest one, or the spare's.
    let newest = newest_of_first.lock().unwrap().clone();
    let response = match revocation {
        Revocation::SignOut => {
            app.public_post("/v1/sessions/sign-out", &json!({ "refreshToken": newest }))
                .await
        }
        Revocation::SignOutEverywhere => {
            let spare = json!({ "refreshToken": user.spare["refreshToken"] });
            app.public_post("/v1/sessions/sign-out-everywhere", &spare)
                .await
        }
        Revocation::EraseUser => {
            app.signed(Method::DELETE, &user_path(&user.id, ""))
                .send()
                .await
        }
        Revocation::DeleteIdentity => {
            app.signed(Method::DELETE, &identity_path(&user.identity, ""))
                .send()
                .await
        }
        Revocation::RevokeIdentityTokens => app.revoke(&user.identity).await,
        Revocation::SignOutOfASpentToken => unreachable!("an outcome, never sent"),
    };
    response.status().as_u16()
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
