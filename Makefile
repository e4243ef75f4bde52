# Portico — run `make help` for the targets.

TOOLS_BIN   ?= $(HOME)/.cache/portico/bin
ENVTEST_DIR ?= $(HOME)/.cache/portico/k8s-1.37.2
CONTROLLER_GEN  ?= $(TOOLS_BIN)/controller-gen
GOLANGCI_LINT   ?= $(TOOLS_BIN)/golangci-lint
PEBBLE          ?= $(TOOLS_BIN)/pebble
H2SPEC          ?= $(TOOLS_BIN)/h2spec
HELM            ?= $(TOOLS_BIN)/helm
HELM_VERSION    ?= v3.22.0
# h2spec v2.6.0 (commit 70ac2294): its go.mod lacks the /v2 suffix, so the
# module proxy serves the release only as this pseudo-version (@latest is
# the 2018 v2.2.1).
H2SPEC_VERSION  ?= v0.0.0-20200804131034-70ac22940108
CONTROLLER_TOOLS_VERSION ?= v0.23.0
PEBBLE_VERSION           ?= v2.10.1
GOLANGCI_LINT_VERSION    ?= v2.15.0
GO_TEST_FLAGS ?=
CONFORMANCE_VERSION ?= $(shell git describe --always --dirty)
# Stamped into the binary (`portico version`) and the image labels. The build
# date is the commit time, so two builds of one commit are identical.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GIT_COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct HEAD 2>/dev/null || echo 0)
BUILD_DATE  ?= $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
LDFLAGS     := -X main.version=$(VERSION) -X main.gitCommit=$(GIT_COMMIT) -X main.buildDate=$(BUILD_DATE)

export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)
export PORTICO_ENVTEST_DIR := $(ENVTEST_DIR)

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: build
build: ## Build bin/portico and bin/demo-backend.
	go build -ldflags '$(LDFLAGS)' -o bin/portico ./cmd/portico
	go build -o bin/demo-backend ./cmd/demo-backend

.PHONY: image
image: ## Multi-arch OCI image (linux/amd64, linux/arm64) without Docker: _output/image (OCI layout), _output/portico-image.tar, SBOMs; prints the digest.
	go run ./cmd/portico-image --version '$(VERSION)' --revision '$(GIT_COMMIT)' --source-date-epoch $(SOURCE_DATE_EPOCH) --platforms $(IMAGE_PLATFORMS) --out _output

.PHONY: run
run: build ## Quickstart: demo backends + portico standalone on examples/quickstart (Ctrl-C stops).
	hack/quickstart.sh

.PHONY: run-cluster
run-cluster: ## Local cluster (apiserver, controller-manager, pod runner, loopback LBs) with Portico deployed; prints KUBECONFIG.
	PORTICO_ENVTEST_KCM=1 hack/envtest-bins.sh >/dev/null
	go build -o bin/portico-devcluster ./cmd/portico-devcluster
	bin/portico-devcluster up

.PHONY: conformance
conformance: ## Gateway API conformance suite v1.6.3 in the local cluster; writes conformance/reports/v1.6.3/.
	PORTICO_ENVTEST_KCM=1 hack/envtest-bins.sh >/dev/null
	cd conformance && go test -tags conformance -run 'TestConformance|TestIngressConformance' -count=1 -timeout 60m -v . -args -portico-version $(CONFORMANCE_VERSION)

.PHONY: fmt
fmt: ## gofmt the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet the code.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: manifests
manifests: controller-gen ## Generate RBAC (manifests/base/rbac/role.yaml, and the chart's copy), Portico's CRDs (manifests/portico/) and their deep copies from kubebuilder markers.
	$(CONTROLLER_GEN) rbac:roleName=portico paths=./controllers/... output:rbac:artifacts:config=manifests/base/rbac
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=manifests/portico
	$(MAKE) chart-rbac

.PHONY: chart-rbac
chart-rbac: ## Rewrite charts/portico/templates/rbac.yaml from manifests/base/rbac/role.yaml (no controller-gen run).
	hack/chart-rbac.sh

.PHONY: crds
crds: ## Copy the pinned Gateway API and Istio CRDs into manifests/.
	hack/gateway-crds.sh
	hack/istio-crds.sh

.PHONY: golden
golden: ## Regenerate translate golden files (review the diff!).
	go test ./controllers/translate/ -run TestGolden -update

.PHONY: readme-nginx
readme-nginx: ## Regenerate the README's ingress-nginx annotation tables and sample report, and the migrate golden files, from the registries (review the diff!).
	go test ./cmd/portico/ -run 'TestMigrateCorpus|TestReadmeNginx' -count=1 -update

##@ Testing

.PHONY: test
test: envtest-bins tools check-imports ## Run every test: unit, golden, router, envtest (real kube-apiserver), manifests; the serving tests on both HTTP/1 engines.
	PORTICO_HELM=$(HELM) go test -race -timeout 30m $(GO_TEST_FLAGS) -count=1 ./...
	PORTICO_HTTP1_ENGINE=std go test -race $(GO_TEST_FLAGS) -count=1 ./router/ ./standalone/

.PHONY: test-edge
test-edge: tools ## Adversarial edge suite: builds portico, runs it as a process and attacks it over loopback (no root needed; under 5 min).
	PORTICO_H2SPEC=$(H2SPEC) go test -tags edge -count=1 -timeout 10m $(GO_TEST_FLAGS) ./edge/...
	PORTICO_HTTP1_ENGINE=std PORTICO_H2SPEC=$(H2SPEC) go test -tags edge -count=1 -timeout 10m $(GO_TEST_FLAGS) ./edge/...

.PHONY: helm-test
helm-test: helm-tools envtest-bins ## Helm chart: lint, golden templates, schema, RBAC drift; then on the local cluster (root): the image run from its root filesystem, server-side dry runs, install/upgrade/uninstall.
	PORTICO_ENVTEST_KCM=1 hack/envtest-bins.sh >/dev/null
	PORTICO_HELM=$(HELM) go test -tags helmcluster -count=1 -timeout 20m $(GO_TEST_FLAGS) ./charts/

.PHONY: helm-golden
helm-golden: helm-tools ## Regenerate charts/testdata/*.golden.yaml (review the diff!).
	PORTICO_HELM=$(HELM) go test ./charts/ -run TestGolden -update

.PHONY: check-imports
check-imports: ## Fail if router, tls, serving or dataplane import Kubernetes, Istio or controller packages.
	hack/check-imports.sh

.PHONY: bench
bench: ## Run benchmarks (lookup, compile, proxy, translate).
	go test -run '^$$' -bench . -benchmem ./router/ ./controllers/translate/

.PHONY: bench-peers
bench-peers: build ## Portico beside nginx and HAProxy, CPU per request: HTTP/1.1 (64/16/1024 connections; 3 B/1 KiB/64 KiB), HTTPS, new TLS handshakes, HTTP/2, fixed-rate latency; JSON in bench/results/.
	@command -v nginx >/dev/null && command -v haproxy >/dev/null && command -v wrk >/dev/null && command -v h2load >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq nginx haproxy wrk nghttp2-client >/dev/null)
	go build -o bin/hsload ./bench/hsload
	go build -o bin/rateload ./bench/rateload
	bench/peers.sh $(BENCH_SECONDS) 64 3
	bench/peers.sh $(BENCH_SECONDS) 16 3
	bench/peers.sh $(BENCH_SECONDS) 1024 3
	bench/peers.sh $(BENCH_SECONDS) 64 1024
	bench/peers.sh $(BENCH_SECONDS) 64 65536
	bench/peers.sh $(BENCH_SECONDS) 64 3 https
	bench/peers.sh $(BENCH_SECONDS) 16 3 handshake
	bench/peers.sh $(BENCH_SECONDS) 8 3 h2
	bench/peers.sh $(BENCH_SECONDS) 64 3 rate

BENCH_SECONDS ?= 10

.PHONY: bench-scale
bench-scale: build envtest-bins ## Control plane at N Ingresses (N=10000) on a real kube-apiserver beside nginx reloading N hosts; JSON in bench/results/ (root).
	@command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq nginx >/dev/null)
	go run ./cmd/portico-scale -n $(N) -changes $(SCALE_CHANGES) -burst $(SCALE_BURST) -portico bin/portico

N ?= 10000
SCALE_CHANGES ?= 100
SCALE_BURST ?= 1000

.PHONY: fuzz
fuzz: ## Fuzz the parsers for 30s each: path canonicaliser, HTTP/1.x framing checker, ClientHello peeker, PROXY header reader, YAML reader and document splitter.
	go test -run '^$$' -fuzz FuzzCanonicalPath -fuzztime 30s ./router/
	go test -run '^$$' -fuzz FuzzFraming -fuzztime 30s ./router/
	go test -run '^$$' -fuzz FuzzFastEngine -fuzztime 30s ./router/
	go test -run '^$$' -fuzz FuzzPeekClientHello -fuzztime 30s ./router/
	go test -run '^$$' -fuzz FuzzParseProxyHeader -fuzztime 30s ./router/
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./standalone/
	go test -run '^$$' -fuzz FuzzSplitDocuments -fuzztime 30s ./standalone/

##@ Tools

.PHONY: envtest-bins
envtest-bins: ## Build kube-apiserver 1.37.2 and etcd 3.6 into $(ENVTEST_DIR) (once).
	hack/envtest-bins.sh >/dev/null

.PHONY: tools
tools: helm-tools ## Install test tools (Pebble, the ACME test server, h2spec, Helm) into $(TOOLS_BIN).
	@test -x $(PEBBLE) || GOBIN=$(TOOLS_BIN) go install github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION)
	@test -x $(H2SPEC) || GOBIN=$(TOOLS_BIN) go install github.com/summerwind/h2spec/cmd/h2spec@$(H2SPEC_VERSION)

.PHONY: helm-tools
helm-tools: ## Install Helm $(HELM_VERSION) into $(TOOLS_BIN) (from the Go module proxy).
	@test -x $(HELM) || GOBIN=$(TOOLS_BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: controller-gen
controller-gen:
	@test -x $(CONTROLLER_GEN) || GOBIN=$(TOOLS_BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: golangci-lint
golangci-lint:
	@test -x $(GOLANGCI_LINT) || GOBIN=$(TOOLS_BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
