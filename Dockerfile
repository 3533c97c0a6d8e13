# Multi-stage build: compile with the Rust toolchain, run on a slim base as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The commit /version and callsign_build_info report (no .git in the build context).
ARG CALLSIGN_GIT_COMMIT=unknown
ENV CALLSIGN_GIT_COMMIT=$CALLSIGN_GIT_COMMIT
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin callsign

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/callsign --create-home callsign
COPY --from=build /src/target/release/callsign /usr/local/bin/callsign
USER callsign
WORKDIR /var/lib/callsign
# Probes, version and metrics on their own plain-HTTP port, for the orchestrator only.
ENV CALLSIGN_LISTEN=0.0.0.0:8080 \
    CALLSIGN_OPS_LISTEN=0.0.0.0:9090 \
    CALLSIGN_DATA_DIR=/var/lib/callsign/data \
    CALLSIGN_LOG_FORMAT=json
VOLUME /var/lib/callsign/data
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/callsign", "health"]
ENTRYPOINT ["/usr/local/bin/callsign"]
CMD ["serve"]
