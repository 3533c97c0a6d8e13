//! Serving: the listeners (with the slow-client guards), the background work (propagation, the
//! audit writer, housekeeping), and the graceful shutdown that drains requests and flushes what
//! is pending.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use super::Application;
use crate::dispatcher::Dispatcher;
use crate::http::{self, AppState};
use crate::signals::push::PushDelivery;

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl Application {
    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let cancel = CancellationToken::new();
        let background = tokio::spawn(self.propagation.run(cancel.clone()));
        let audit = tokio::spawn(self.audit_writer.run(cancel.clone()));
        let services = &self.state.services;
        let dispatcher = Dispatcher::new(
            services.store.clone(),
            services.clock.clone(),
            services.transmitter.queued_signal(),
        );
        let dispatching = tokio::spawn(dispatcher.run(cancel.clone()));
        let pushing = PushDelivery::new(services.transmitter.clone())
            .context("cannot set up pushing security events")?;
        tokio::spawn(pushing.run(cancel.clone()));
        tokio::spawn(housekeeping(self.state.clone(), cancel.clone()));
        if let Some(metrics) = self.state.metrics.clone() {
            tokio::spawn(metrics_upkeep(metrics, self.state.clone(), cancel.clone()));
        }
        if let Some(tls) = &self.tls {
            tls.watch(cancel.clone());
        }
        let handle = axum_server::Handle::new();
        let ops_handle = axum_server::Handle::new();
        let stoppers = [handle.clone(), ops_handle.clone()];
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down");
            for stopper in stoppers {
                stopper.graceful_shutdown(Some(SHUTDOWN_GRACE));
            }
        });
        let ops = match self.ops_listener {
            Some(listener) => {
                let app = http::ops_router(self.state.clone())
                    .into_make_service_with_connect_info::<SocketAddr>();
                let mut server = axum_server::from_tcp(listener)?
                    .handle(ops_handle)
                    .first_request_timeout(HEADER_TIMEOUT);
                guard_slow_clients(server.http_builder());
                Some(tokio::spawn(async move { server.serve(app).await }))
            }
            None => None,
        };
        let app = http::router(self.state, self.surface)
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = match self.tls {
            Some(tls) => {
                let mut server = axum_server::from_tcp_rustls(self.listener, tls.config)?
                    .handle(handle)
                    .first_request_timeout(HEADER_TIMEOUT);
                guard_slow_clients(server.http_builder());
                server.serve(app).await
            }
            None => {
                let mut server = axum_server::from_tcp(self.listener)?
                    .handle(handle)
                    .first_request_timeout(HEADER_TIMEOUT);
                guard_slow_clients(server.http_builder());
                server.serve(app).await
            }
        };
        cancel.cancel();
        let _ = background.await;
        let _ = audit.await;
        let _ = dispatching.await;
        if let Some(ops) = ops {
            ops.await
                .context("the ops listener panicked")?
                .context("the ops listener failed")?;
        }
        served.context("server failed")
    }
}

/// A client has this long to send a request's headers (also the first request's, after the
/// TLS handshake): a connection dribbling them (slowloris) is closed instead of held forever.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 streams one connection may have open at once; more are refused (`REFUSED_STREAM`).
const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// HTTP/2 streams a client may reset before the server has even accepted them: past this, the
/// connection is a rapid-reset attack (CVE-2023-44487) and is closed with `GOAWAY
/// ENHANCE_YOUR_CALM`.
const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// HTTP/2 streams the server may reset for a client's protocol errors (streams beyond
/// [`H2_MAX_CONCURRENT_STREAMS`] included) before it closes the connection with `GOAWAY
/// ENHANCE_YOUR_CALM`; a well-behaved client causes none.
const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// How often an idle HTTP/2 connection is pinged, to find dead peers; one that does not answer
/// within [`HEADER_TIMEOUT`] is closed.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

fn guard_slow_clients(builder: &mut Builder<TokioExecutor>) {
    builder.http1().header_read_timeout(HEADER_TIMEOUT);
    // HTTP/2 (with ALPN over TLS, or prior knowledge over plain HTTP): bounded streams and
    // resets per connection, and pings to find dead peers. PING and SETTINGS floods need no
    // setting: the server answers one at a time and stops reading while an answer is unsent.
    builder
        .http2()
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS)
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(HEADER_TIMEOUT);
}

/// Periodic upkeep off the request path, first at start: the guests' per-address rate limiter
/// forgets quiet addresses, the audit trail makes room for the coming days and forgets what is
/// past retention, guests whose tokens have expired are deleted, ended sessions are purged, and
/// the identity providers' keys are refetched once stale.
async fn housekeeping(state: AppState, cancel: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {
                let services = &state.services;
                services.guests.forget_quiet_addresses();
                services.users.forget_quiet_addresses();
                state.limits.forget_quiet();
                if let Err(error) = services.audit.prepare().await {
                    tracing::warn!(%error, "making room for the coming days' audit events failed");
                }
                if !state.audit_retention.is_zero() {
                    // How long it took, not what time it is: no part for the injected clock.
                    let started = tokio::time::Instant::now();
                    match services.audit.purge(state.audit_retention).await {
                        Ok(0) => {}
                        Ok(purged) => {
                            let elapsed_ms = started.elapsed().as_millis();
                            tracing::info!(purged, elapsed_ms, "purged audit events past retention");
                        }
                        Err(error) => tracing::warn!(%error, "purging the audit trail failed"),
                    }
                }
                services.identities.forget_quiet_limits();
                match services.guests.purge_expired().await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "deleted guest identities whose tokens had expired"),
                    Err(error) => tracing::warn!(%error, "purging expired guests failed"),
                }
                match services.sessions.purge_ended().await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "purged ended sessions"),
                    Err(error) => tracing::warn!(%error, "purging ended sessions failed"),
                }
                for authority in state.bearer_authorities() {
                    authority.verifier.refresh_if_stale().await;
                }
            }
        }
    }
}

/// How often the Prometheus recorder folds recorded latencies into its histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The recorder keeps every latency sample until upkeep folds it in: without this, an instance
/// nobody scrapes would grow by every request it serves.
async fn metrics_upkeep(metrics: PrometheusHandle, state: AppState, cancel: CancellationToken) {
    let mut every = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {
                metrics.run_upkeep();
                state.services.transmitter.report_queues().await;
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
