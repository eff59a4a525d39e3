# An image build that breaks every Dockerfile control.
ARG BASE_TAG=3.20
# want-next: DF-SECRET
ARG GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789
# want-next: DF-BASE-NOT-PINNED
FROM golang:1.25 AS builder
RUN go build -o /app ./...

# want-next: DF-BASE-LATEST, DF-ROOT-USER, DF-NO-HEALTHCHECK
FROM ubuntu
# want-next: DF-PKG-UNPINNED, DF-PKG-CACHE, DF-BUILD-TOOLS-FINAL
RUN apt-get update && apt-get install -y curl gcc ca-certificates=20240203
# want-next: DF-CURL-PIPE
RUN curl -fsSL https://example.com/install.sh | bash
# want-next: DF-SECRET
RUN curl -H "PRIVATE-TOKEN: glpat-Xk2mR9vTq4LzN8wB3yHc" https://gitlab.example.com/api/v4/projects
# want-next: DF-SUDO
RUN sudo chmod 0755 /usr/local/bin
# want-next: DF-ADD-REMOTE
ADD https://example.com/tool.tar.gz /opt/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/verified.tar.gz /opt/
# want-next: DF-SECRET
ENV DB_PASSWORD=hunter2hunter2 LOG_LEVEL=info
ENV API_TOKEN_FILE=/run/secrets/token
# want-next: DF-EXPOSE-SSH
EXPOSE 22/tcp 8080
COPY --from=builder /app /app
