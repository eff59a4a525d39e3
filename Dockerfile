# kubeguard's image: one static, stripped binary on an empty base, running
# as the non-root user the Helm chart sets (65532). Build it with
#   docker build -t ghcr.io/kubeguard/kubeguard:$(git describe --tags) .
# `kubeguard scan Dockerfile` passes every Dockerfile control on it.
FROM golang:1.26@sha256:9edf71320ef8a791c4c33ec79f90496d641f306a91fb112d3d060d5c1cee4e20 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN make release-binary VERSION=${VERSION} OUT=/out/kubeguard

FROM scratch
COPY --from=build /out/kubeguard /kubeguard
USER 65532:65532
# The chart probes the webhook and controller over HTTPS; an image
# health check would duplicate them.
HEALTHCHECK NONE
ENTRYPOINT ["/kubeguard"]
