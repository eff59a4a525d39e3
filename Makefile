GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kubeguard/kubeguard/internal/cli.version=$(VERSION)

.PHONY: build test bench docs fuzz sarif-schema vet

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubeguard ./cmd/kubeguard

# The SARIF test validates against the official SARIF 2.1.0 schema, fetched
# once into .cache/ (see hack/fetch-sarif-schema).
sarif-schema: .cache/sarif-schema-2.1.0.json
.cache/sarif-schema-2.1.0.json:
	$(GO) run ./hack/fetch-sarif-schema $@

test: sarif-schema
	$(GO) vet ./...
	KUBEGUARD_SARIF_SCHEMA=$(CURDIR)/.cache/sarif-schema-2.1.0.json $(GO) test ./...

bench:
	$(GO) run ./hack/bench

docs:
	$(GO) run ./cmd/kubeguard controls -o markdown > docs/controls.md

fuzz:
	$(GO) test ./pkg/object -run '^$$' -fuzz FuzzDecode -fuzztime 60s
