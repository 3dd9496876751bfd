# loadtape in a container: the binary alone on Debian slim, for `loadtape run --segment K/N` in a
# Kubernetes Indexed Job (deploy/kubernetes/) or any container runner.
#
#   docker build -t registry.example.com/loadtape:0.1.0 .
#   docker push registry.example.com/loadtape:0.1.0
#
# Stage 1 builds with the pinned toolchain and the lockfile; stage 2 ships only the binary and
# the CA bundle (HTTPS targets are checked against it; `--ca FILE` adds a private CA).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# ring and zstd build with the C compiler the rust image ships; jemalloc (the binary's
# allocator) also runs its configure script and make, which the slim image lacks. No cmake,
# no OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
RUN cargo build --release --locked --bin loadtape \
 && install -m 0755 target/release/loadtape /usr/local/bin/loadtape

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/loadtape /usr/local/bin/loadtape
# Not root: a load generator needs no privilege. 65532 is the usual "nonroot" id.
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["loadtape"]
CMD ["--help"]
