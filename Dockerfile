# syntax=docker/dockerfile:1
# Multi-stage build: compile with the Rust toolchain, run the stripped binary on distroless
# (glibc, CA certificates, no shell, no package manager) as a non-root user.
#
#   docker build --build-arg CALLSIGN_GIT_COMMIT="$(git rev-parse --short=12 HEAD)" -t callsign:0.1.0 .
#
# BuildKit (the default builder) keeps the crate registry and the target directory in cache
# mounts, so a rebuild after a source change compiles only Callsign, not its dependencies.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The commit /version and callsign_build_info report (no .git in the build context).
ARG CALLSIGN_GIT_COMMIT=unknown
ENV CALLSIGN_GIT_COMMIT=$CALLSIGN_GIT_COMMIT \
    CARGO_PROFILE_RELEASE_STRIP=true \
    CARGO_PROFILE_RELEASE_DEBUG=false
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
# The target directory is a cache mount, gone after this step: the binary is copied out of it.
# The empty data directory is made here because the runtime image has no shell to make it.
RUN --mount=type=cache,id=callsign-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=callsign-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=callsign-target,target=/src/target,sharing=locked \
    cargo build --release --locked --bin callsign \
    && install -D -m 0755 target/release/callsign /out/callsign \
    && install -d -m 0700 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/callsign /usr/local/bin/callsign
# Owner-only, as Callsign wants its data directory (it holds the SQLite database, a generated
# master key and TLS key); with PostgreSQL and a configured certificate nothing is written there.
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /var/lib/callsign/data
# distroless's `nonroot`, by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /var/lib/callsign
# Probes, version and metrics on their own plain-HTTP port, for the orchestrator only.
ENV CALLSIGN_LISTEN=0.0.0.0:8080 \
    CALLSIGN_OPS_LISTEN=0.0.0.0:9090 \
    CALLSIGN_DATA_DIR=/var/lib/callsign/data \
    CALLSIGN_LOG_FORMAT=json
VOLUME /var/lib/callsign/data
EXPOSE 8080 9090
# No shell in the image: the binary probes its own /healthz (the ops listener's); the start
# period covers start-up waiting for the database (CALLSIGN_STARTUP_TIMEOUT_SECS).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/callsign", "health"]
ENTRYPOINT ["/usr/local/bin/callsign"]
CMD ["serve"]
