GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kubeguard/kubeguard/internal/cli.version=$(VERSION)

.PHONY: manifests build test bench bench-webhook bench-rbac bench-netpol bench-cluster docs fuzz schemas vet test-cluster cluster-up cluster-down

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubeguard ./cmd/kubeguard

# The report tests validate against the official SARIF 2.1.0 schema and the
# Jenkins JUnit XSD (with xmllint), fetched once into .cache/ (see
# hack/fetch-schema).
schemas: .cache/sarif-schema-2.1.0.json .cache/jenkins-junit.xsd
.cache/sarif-schema-2.1.0.json:
	$(GO) run ./hack/fetch-schema sarif $@
.cache/jenkins-junit.xsd:
	$(GO) run ./hack/fetch-schema junit $@

# End-to-end tests run a real kube-apiserver and kube-controller-manager,
# built once from the release pinned in test/cluster/go.mod into .cache/,
# and etcd from Debian.
test-cluster:
	$(GO) run ./hack/cluster build

cluster-up:
	$(GO) run ./hack/cluster up

cluster-down:
	$(GO) run ./hack/cluster down

test: schemas test-cluster
	$(GO) vet ./...
	KUBEGUARD_SARIF_SCHEMA=$(CURDIR)/.cache/sarif-schema-2.1.0.json KUBEGUARD_JUNIT_SCHEMA=$(CURDIR)/.cache/jenkins-junit.xsd $(GO) test ./...

bench:
	$(GO) run ./hack/bench

# RBAC analysis at 10,000 roles and 20,000 bindings.
bench-rbac:
	$(GO) run ./hack/benchrbac

# Connectivity matrix at 2,000 pods, 50 namespaces, 500 policies.
bench-netpol:
	$(GO) run ./hack/benchnetpol

# kubeguard cluster on a test cluster loaded with 10,000 pods.
bench-cluster: test-cluster
	$(GO) run ./hack/benchcluster

# Load test of kubeguard webhook over loopback TLS (latency, throughput, RSS).
bench-webhook:
	$(GO) run ./hack/benchwebhook

manifests:
	$(GO) run ./hack/manifests > deploy/kubeguard.yaml

docs:
	$(GO) run ./cmd/kubeguard controls -o markdown > docs/controls.md

fuzz:
	$(GO) test ./pkg/object -run '^$$' -fuzz FuzzDecode -fuzztime 60s
	$(GO) test ./pkg/object -run '^$$' -fuzz FuzzFast -fuzztime 60s
