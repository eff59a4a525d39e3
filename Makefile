GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
# the commit's date, not the build's: builds of one commit are identical
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null)
CLI     := github.com/kubeguard/kubeguard/internal/cli
LDFLAGS := -X $(CLI).version=$(VERSION) -X $(CLI).commit=$(COMMIT) -X $(CLI).date=$(DATE)
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
OUT     ?= bin/kubeguard

.PHONY: manifests build release release-binary test bench bench-audit bench-image bench-webhook bench-policies bench-rbac bench-html bench-verify compare-verify bench-netpol bench-cluster bench-startup compare-node bench-node docs fuzz schemas vet test-cluster cluster-up cluster-down

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubeguard ./cmd/kubeguard

# A stripped, static, reproducible binary: no cgo, no paths of the build
# machine, no build ID, the commit's date. The image (Dockerfile) and
# `make release` use it.
release-binary:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "-s -w -buildid= $(LDFLAGS)" -o $(OUT) ./cmd/kubeguard

# An archive per platform in dist/ (kubeguard_OS_ARCH.tar.gz, as the GitHub
# Action and the krew manifest fetch them), their SHA-256 sums and the krew
# plugin manifest. Archives are reproducible too: sorted, owned by root,
# dated at the commit, gzip without a timestamp.
release:
	rm -rf dist && mkdir -p dist
	for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		d=dist/kubeguard_$${os}_$${arch}; mkdir -p $$d; \
		GOOS=$$os GOARCH=$$arch $(MAKE) --no-print-directory release-binary OUT=$$d/kubeguard$$ext || exit 1; \
		tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='$(DATE)' -C $$d -cf - kubeguard$$ext | gzip -n > $$d.tar.gz || exit 1; \
	done
	cd dist && sha256sum kubeguard_*.tar.gz > SHA256SUMS
	$(GO) run ./hack/krew -version $(VERSION) -sums dist/SHA256SUMS > dist/kubeguard.krew.yaml

# The report tests validate against the official SARIF 2.1.0 schema and the
# Jenkins JUnit XSD (with xmllint), fetched once into .cache/ (see
# hack/fetch-schema).
schemas: .cache/sarif-schema-2.1.0.json .cache/jenkins-junit.xsd .cache/cyclonedx/bom-1.6.schema.json .cache/spdx-schema-2.3.json
.cache/sarif-schema-2.1.0.json:
	$(GO) run ./hack/fetch-schema sarif $@
.cache/jenkins-junit.xsd:
	$(GO) run ./hack/fetch-schema junit $@
.cache/cyclonedx/bom-1.6.schema.json:
	$(GO) run ./hack/fetch-schema cyclonedx $(@D)
.cache/spdx-schema-2.3.json:
	$(GO) run ./hack/fetch-schema spdx $@

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
	KUBEGUARD_SARIF_SCHEMA=$(CURDIR)/.cache/sarif-schema-2.1.0.json KUBEGUARD_JUNIT_SCHEMA=$(CURDIR)/.cache/jenkins-junit.xsd \
		KUBEGUARD_CYCLONEDX_SCHEMA=$(CURDIR)/.cache/cyclonedx/bom-1.6.schema.json KUBEGUARD_SPDX_SCHEMA=$(CURDIR)/.cache/spdx-schema-2.3.json $(GO) test ./...

bench:
	$(GO) run ./hack/bench

# Image scanning against osv-scanner, side by side: agreement on the test
# images, then a generated image (1,000 Debian packages, 300 Go modules,
# 2,000 npm packages) against 200,000 generated OSV records.
bench-image: .cache/osv-scanner
	$(GO) run ./hack/benchimage

# kubeguard audit scan on a million generated audit events, on one core.
bench-audit:
	$(GO) run ./hack/benchaudit

# kubeguard node against kube-bench (built from source) on the same
# fixture node, verdict by verdict, with their times.
KUBE_BENCH_DIR = $$($(GO) mod download -json github.com/aquasecurity/kube-bench@v0.15.6 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
compare-node: .cache/kube-bench
	$(GO) run ./hack/comparenode .cache/kube-bench $(KUBE_BENCH_DIR)/cfg

# A full node check in-process, then both binaries' wall time and peak
# RSS on the same fixture nodes (compare-node).
bench-node: compare-node
	$(GO) test ./pkg/node -run '^$$' -bench BenchmarkCheck -benchmem

.cache/kube-bench:
	cd $(KUBE_BENCH_DIR) && $(GO) build -o $(CURDIR)/.cache/kube-bench .

# The peer of bench-image, built from source; its module needs Go 1.27.
.cache/osv-scanner:
	GOTOOLCHAIN=go1.27.3 GOBIN=$(CURDIR)/.cache $(GO) install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0

# RBAC analysis at 10,000 roles and 20,000 bindings.
bench-rbac:
	$(GO) run ./hack/benchrbac

# Connectivity matrix at 2,000 pods, 50 namespaces, 500 policies.
bench-netpol:
	$(GO) run ./hack/benchnetpol

# kubeguard cluster on a test cluster loaded with 10,000 pods.
bench-cluster: test-cluster
	$(GO) run ./hack/benchcluster

# Binary size, start-up time and RSS on one small file, against kube-score
# or kube-linter when on PATH.
bench-startup:
	$(GO) run ./hack/benchstartup

# The Gatekeeper policy library's templates and constraints in the webhook
# at 500 req/s, in a scan of the corpus, and kubeguard test against gator
# verify (built from source) on the library's suites.
bench-policies: .cache/gator
	$(GO) run ./hack/benchpolicies

.cache/gator:
	GOBIN=$(CURDIR)/.cache $(GO) install github.com/open-policy-agent/gatekeeper/v3/cmd/gator@v3.23.1

# The HTML report of the corpus: size, time to write it, and the time
# until Debian's Chromium paints its summary and readies its findings.
bench-html:
	$(GO) run ./hack/benchhtml

# Image verification at admission: cold, 1,000 cached admissions over 20
# signed images, and a burst on new ones, with the registry requests made.
bench-verify:
	$(GO) run ./hack/benchverify

# kubeguard's verdicts on signed, unsigned and wrongly signed images
# against cosign's (built from source), case by case.
compare-verify: .cache/cosign
	$(GO) run ./hack/compareverify

.cache/cosign:
	GOBIN=$(CURDIR)/.cache $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5

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
	$(GO) test ./pkg/audit -run '^$$' -fuzz FuzzDecodeAgrees -fuzztime 60s
	$(GO) test ./pkg/audit -run '^$$' -fuzz FuzzDecode$$ -fuzztime 60s
