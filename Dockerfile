# syntax=docker/dockerfile:1
#
# minichat image: build the web client with Node, embed it in a static Go
# binary, and run that binary alone on distroless as a non-root user.
#
#   docker build -t minichat \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse --short=12 HEAD)" .
#   docker run -d --name minichat -p 8080:8080 -v minichat-data:/data minichat
#
# Settings are environment variables (MINICHAT_<FLAG>) or flags after the image
# name. Change the port with MINICHAT_ADDR, not --addr, so that the health
# check follows it. Operator guide: docs/operations.md.
#
# How this file is checked without a Docker engine (docs/operations.md, "How
# the image is verified"): in a fresh clone, each stage's commands are run
# as written below, on Debian bookworm with Node 20 and Go 1.26.8 —
#   web:     npm ci, then npm run build, in a directory holding only
#            package.json, package-lock.json and frontend/ (as copied below);
#   build:   go mod download with an empty module cache, then the exact
#            CGO_ENABLED=0 go build line below on a directory holding only
#            what the COPY lines copy, giving a statically linked binary
#            with the client embedded;
#   runtime: that binary run as uid/gid 65532 with only the ENV below set,
#            from an empty /data owned by 65532: it served the client, the
#            API and /ws, and `minichat healthcheck` exited 0.

# --- 1. web client -----------------------------------------------------------
# The output is plain files, so this stage runs on the build host's platform.
FROM --platform=$BUILDPLATFORM node:20.20.2-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ frontend/
RUN npm run build

# --- 2. static binary ----------------------------------------------------------
# Cross-compiles for the target platform (docker buildx --platform ...); with a
# plain `docker build` TARGETOS/TARGETARCH are the host's.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY main.go embed.go ./
COPY server/ server/
COPY --from=web /src/frontend/dist/ frontend/dist/
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/minichat . \
 && mkdir -p /out/data

# --- 3. runtime ------------------------------------------------------------------
# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot (65532);
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/minichat /minichat
# An empty /data owned by nonroot: a new named volume copies this ownership, so
# the server can create minichat.db there.
COPY --from=build --chown=65532:65532 /out/data /data
ENV MINICHAT_DATA_DIR=/data \
    MINICHAT_ADDR=:8080
VOLUME /data
EXPOSE 8080
USER 65532:65532
# healthcheck reads MINICHAT_ADDR (and MINICHAT_TLS_CERT) and asks
# http://127.0.0.1:PORT/healthz; no curl or shell is needed in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/minichat", "healthcheck"]
# SIGTERM (docker stop) shuts down gracefully: sockets get 1001, the store is
# drained. Allow at least twice --shutdown-grace (default 5 s) before SIGKILL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/minichat"]
