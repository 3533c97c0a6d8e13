//! The client address per-address limits count: on a dual-stack listener each IPv4 client is its
//! own address (not one IPv6 network shared by all), an IPv4 proxy is recognised as trusted, an
//! `X-Forwarded-For` hop may carry a port, and a trusted proxy's hop that names no address
//! refuses the request instead of counting it against the proxy.

use std::net::IpAddr;

use serde_json::json;

use crate::helpers::*;

/// A server with a per-address limit of 3 a minute, on `listen`, with `extra` arguments.
async fn limited_app(listen: &str, extra: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    settings.listen = listen.to_owned();
    let args = [&["--rate-limit-per-address", "3"], extra].concat();
    spawn_app_with(settings, dir, &args).await
}

/// A client whose connections leave from `local` (any 127.0.0.0/8 address is loopback).
fn client_from(app: &TestApp, local: &str) -> reqwest::Client {
    client_builder_trusting(&app.trust_file)
        .local_address(local.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A refresh with a token that does not exist: 401 while under the limit, 429 over it.
async fn refresh(app: &TestApp, client: &reqwest::Client, forwarded_for: Option<&str>) -> u16 {
    let mut request = client
        .post(format!("{}/v1/sessions/refresh", app.base))
        .json(&json!({ "refreshToken": "csr_not-a-token" }));
    if let Some(hops) = forwarded_for {
        request = request.header("x-forwarded-for", hops);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_listener_have_their_own_buckets() {
    let app = limited_app("[::]:0", &[]).await;
    let (first, second) = (
        client_from(&app, "127.0.0.1"),
        client_from(&app, "127.0.0.2"),
    );
    for _ in 0..3 {
        assert_eq!(refresh(&app, &first, None).await, 401);
    }
    assert_eq!(refresh(&app, &first, None).await, 429);
    assert_eq!(
        refresh(&app, &second, None).await,
        401,
        "another IPv4 client is counted apart"
    );
}

#[tokio::test]
async fn an_ipv4_proxy_of_a_dual_stack_listener_is_trusted_with_hops_that_carry_ports() {
    let app = limited_app("[::]:0", &["--trusted-proxies", "127.0.0.1"]).await;
    let proxy = client_from(&app, "127.0.0.1");
    for _ in 0..3 {
        let status = refresh(&app, &proxy, Some("192.0.2.1:4711")).await;
        assert_eq!(status, 401);
    }
    assert_eq!(refresh(&app, &proxy, Some("192.0.2.1:4711")).await, 429);
    for other in ["192.0.2.2:4711", "[2001:db8::2]:4711", "::ffff:192.0.2.3"] {
        let status = refresh(&app, &proxy, Some(other)).await;
        assert_eq!(status, 401, "{other} is a client of its own");
    }
    // The proxy itself, sending no X-Forwarded-For, is a client of its own too.
    assert_eq!(refresh(&app, &proxy, None).await, 401);
}

#[tokio::test]
async fn a_trusted_proxys_hop_that_names_no_address_is_refused() {
    let app = limited_app("127.0.0.1:0", &["--trusted-proxies", "127.0.0.1"]).await;
    for hops in ["garbage", "192.0.2.1, unknown", "192.0.2.1:port"] {
        let response = app
            .client
            .post(format!("{}/v1/sessions/refresh", app.base))
            .header("x-forwarded-for", hops)
            .json(&json!({ "refreshToken": "csr_not-a-token" }))
            .send()
            .await
            .unwrap();
        // Answered inside the request frame, like every other answer: with its request id.
        assert!(response.headers().contains_key("x-request-id"), "{hops}");
        assert_error(response, 400, "InvalidForwardedFor").await;
    }
    // Garbage a client put before the proxy's own hop is never read.
    let response = refresh(&app, &app.client, Some("garbage, 192.0.2.1")).await;
    assert_eq!(response, 401);
}
