# syntax=docker/dockerfile:1.7
# ontask: one image for every role (api, web, agent, worker, scheduler, relay).
#
#   docker build -t ghcr.io/ontask/ontask:dev .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp \
#     -v ontask-data:/var/lib/ontask ghcr.io/ontask/ontask:dev
#
# Stages: chef (cargo-chef) -> planner (dependency recipe) -> builder (cached
# dependency layer, then the workspace) -> runtime (distroless, non-root 1000).

ARG RUST_VERSION=1
ARG DEBIAN_SUITE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_SUITE} AS chef
# Build tools for crates with native parts (rdkafka's cmake build, ring, zstd).
# librdkafka 2.12 includes curl.h even when built without curl (librdkafka#5135);
# only the header is used, the binary links no libcurl.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake pkg-config libssl-dev libsasl2-dev libcurl4-openssl-dev protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ENV CARGO_TERM_COLOR=never \
    CARGO_NET_RETRY=5
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --package ontask-ontask --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked -p ontask-ontask \
 && install -D -m 0755 target/release/ontask /out/usr/local/bin/ontask \
 && install -d -o 1000 -g 1000 -m 0750 /out/var/lib/ontask

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ontask" \
      org.opencontainers.image.description="Event-driven task platform: one binary, every role" \
      org.opencontainers.image.source="https://github.com/ontask/ontask" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/usr/local/bin/ontask /usr/local/bin/ontask
COPY --from=builder --chown=1000:1000 /out/var/lib/ontask /var/lib/ontask
ENV ONTASK_DATA_DIR=/var/lib/ontask \
    ONTASK_LISTEN=0.0.0.0:8080 \
    ONTASK_LOG_FORMAT=json
# The root filesystem may be read-only: the binary writes only to the data dir
# (mount a volume there) and /tmp (mount a tmpfs).
VOLUME ["/var/lib/ontask"]
WORKDIR /var/lib/ontask
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ontask"]
CMD ["serve"]
