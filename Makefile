# pulumi-jobs — `make up` releases the dev stack to a local cluster; `make test` tests everything.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(CURDIR)
BIN     := $(ROOT)/bin
STATE   := $(ROOT)/.state
STACK   ?= dev
CLUSTER := pulumi-jobs
NODES   := 3

PULUMI_VERSION := v3.259.0
K8S_VERSION    := v1.36.3
# The Kubernetes provider we build; infra's pulumi-kubernetes SDK is the same release.
KUBERNETES_PROVIDER_VERSION := 4.25.0
# The Pulumi YAML language host, for plain `pulumi up` of the YAML examples.
YAML_VERSION := v1.25.0
# The Helm CLI that `make bench` releases the P5 chart with, beside ours (not part of `make tools`).
HELM_VERSION := v4.3.2
# Our component provider's version (the package users add): its one source is infra/vocab/version.go.
PULUMI_JOBS_VERSION := $(shell sed -n 's/^const Version = "\(.*\)"$$/\1/p' infra/vocab/version.go)

export KWOK_WORKDIR := $(STATE)/kwok
KUBECONFIG_FILE     := $(STATE)/kubeconfig

# The workspace's modules (go.work); tools/ is never among them.
MODULES := ./infra/... ./deploy/... ./provider/... ./tests/...

PULUMI_LDFLAGS := -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)
K8S_LDFLAGS    := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36

CLUSTER_TOOLS := kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl kubectl
pkg.kube-apiserver          := k8s.io/kubernetes/cmd/kube-apiserver
pkg.kube-controller-manager := k8s.io/kubernetes/cmd/kube-controller-manager
pkg.kube-scheduler          := k8s.io/kubernetes/cmd/kube-scheduler
pkg.kubectl                 := k8s.io/kubernetes/cmd/kubectl
pkg.etcd                    := go.etcd.io/etcd/server/v3
pkg.kwok                    := sigs.k8s.io/kwok/cmd/kwok
pkg.kwokctl                 := sigs.k8s.io/kwok/cmd/kwokctl

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- toolchain: built from the pinned modules in tools/, only when missing or stale ---

.PHONY: tools
tools: $(BIN)/pulumi $(BIN)/pulumi-language-yaml $(BIN)/pulumi-resource-kubernetes $(BIN)/pulumi-resource-pulumi-jobs $(addprefix $(BIN)/,$(CLUSTER_TOOLS)) ## build the pinned Pulumi CLI, YAML host, Kubernetes provider, our component provider and local control plane into bin/
	@echo "toolchain ready in bin/ (pulumi $(PULUMI_VERSION), pulumi-language-yaml $(YAML_VERSION), pulumi-resource-kubernetes v$(KUBERNETES_PROVIDER_VERSION), pulumi-resource-pulumi-jobs v$(PULUMI_JOBS_VERSION), kubernetes $(K8S_VERSION))"

$(BIN)/pulumi: tools/pulumi/go.mod tools/pulumi/go.sum
	@start=$$(date +%s); cd tools/pulumi && GOWORK=off go build -ldflags '$(PULUMI_LDFLAGS)' -o $@ github.com/pulumi/pulumi/pkg/v3/cmd/pulumi; \
	echo "built bin/pulumi in $$(( $$(date +%s) - start ))s"

# The real provider: upstream's main embeds files its build generates, so ours
# generates them from the module's own schema.json and terraform-mapping.json.
$(BIN)/pulumi-resource-kubernetes: tools/kubernetes/go.mod tools/kubernetes/go.sum tools/kubernetes/main.go tools/kubernetes/gen/main.go
	@start=$$(date +%s); cd tools/kubernetes; \
	GOWORK=off go run ./gen $(KUBERNETES_PROVIDER_VERSION) . || exit 1; \
	CGO_ENABLED=0 GOWORK=off go build -ldflags '-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$(KUBERNETES_PROVIDER_VERSION)' -o $@ . || exit 1; \
	echo "built bin/pulumi-resource-kubernetes v$(KUBERNETES_PROVIDER_VERSION) in $$(( $$(date +%s) - start ))s"

# The YAML language host for `runtime: yaml` programs; the CLI finds it next to
# itself in bin/, with or without PULUMI_IGNORE_AMBIENT_PLUGINS.
$(BIN)/pulumi-language-yaml: tools/yaml/go.mod tools/yaml/go.sum
	@start=$$(date +%s); cd tools/yaml && CGO_ENABLED=0 GOWORK=off go build -ldflags '-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$(YAML_VERSION)' -o $@ github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml || exit 1; \
	echo "built bin/pulumi-language-yaml $(YAML_VERSION) in $$(( $$(date +%s) - start ))s"

# The Helm CLI, to compare a chart's release with Helm's own: `make bench` (P5) and `make test`
# (TestChartLifecycle) build it; not in `make tools`, it is a two-minute build.
$(BIN)/helm: tools/helm/go.mod tools/helm/go.sum
	@start=$$(date +%s); cd tools/helm && CGO_ENABLED=0 GOWORK=off go build -ldflags '-X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)' -o $@ helm.sh/helm/v4/cmd/helm || exit 1; \
	echo "built bin/helm $(HELM_VERSION) in $$(( $$(date +%s) - start ))s"
bin/helm: $(BIN)/helm ; @: # `make bin/helm` from the repository root

# Our component provider: the library's Release and Jobs for every language.
# Its schema is committed (provider/schema.json); a test keeps the two equal.
PROVIDER_SOURCES := provider/go.mod provider/go.sum $(shell find provider infra -name '*.go' -not -name '*_test.go' 2>/dev/null) infra/go.mod infra/go.sum
$(BIN)/pulumi-resource-pulumi-jobs: $(PROVIDER_SOURCES)
	@start=$$(date +%s); go build -o $@ ./provider || exit 1; \
	echo "built bin/pulumi-resource-pulumi-jobs v$(PULUMI_JOBS_VERSION) in $$(( $$(date +%s) - start ))s"

# Where the `pulumi` CLI keeps its plugins: $PULUMI_HOME, else .pulumi in the
# home directory of the user's account (Pulumi asks the system, not $HOME).
# Used only to skip a plugin that is current; the CLI itself decides where
# it installs.
PULUMI_PLUGIN_HOME = $(or $(PULUMI_HOME),$(or $(shell getent passwd "$$(id -u)" 2>/dev/null | cut -d: -f6),$(HOME))/.pulumi)

.PHONY: plugins
plugins: $(BIN)/pulumi $(BIN)/pulumi-resource-kubernetes $(BIN)/pulumi-resource-pulumi-jobs ## install bin/'s Kubernetes provider and component provider into the `pulumi` CLI's plugin cache (PULUMI_HOME, default ~/.pulumi) at the versions the SDKs ask for
	@for plugin in kubernetes:$(KUBERNETES_PROVIDER_VERSION) pulumi-jobs:$(PULUMI_JOBS_VERSION); do \
	  name=$${plugin%%:*}; version=$${plugin#*:}; file=$(BIN)/pulumi-resource-$$name; \
	  installed='$(PULUMI_PLUGIN_HOME)'/plugins/resource-$$name-v$$version/pulumi-resource-$$name; \
	  if cmp -s "$$file" "$$installed"; then echo "plugin $$name v$$version is current in $(PULUMI_PLUGIN_HOME)"; continue; fi; \
	  $(BIN)/pulumi plugin install resource "$$name" "v$$version" --file "$$file" --reinstall || exit 1; \
	  echo "installed plugin $$name v$$version from bin/"; \
	done

.PHONY: schema
schema: $(BIN)/pulumi $(BIN)/pulumi-resource-pulumi-jobs $(BIN)/pulumi-resource-kubernetes ## write provider/schema.json from the component provider
	@PATH='$(BIN)':"$$PATH" $(BIN)/pulumi package get-schema $(BIN)/pulumi-resource-pulumi-jobs > provider/schema.json.tmp && mv provider/schema.json.tmp provider/schema.json
	@echo "wrote provider/schema.json"

# --- SDKs for other languages, generated offline by Pulumi's own code generators pinned in tools/ ---

SCHEMA  ?= provider/schema.json
SDK_DIR := $(ROOT)/sdk

$(BIN)/sdkgen: tools/sdkgen/go.mod tools/sdkgen/go.sum $(filter-out %_test.go,$(wildcard tools/sdkgen/*.go))
	@start=$$(date +%s); cd tools/sdkgen && GOWORK=off go build -o $@ . || exit 1; \
	echo "built bin/sdkgen in $$(( $$(date +%s) - start ))s"

$(BIN)/sdkgen-dotnet: tools/sdkgen-dotnet/go.mod tools/sdkgen-dotnet/go.sum tools/sdkgen-dotnet/logo.png $(filter-out %_test.go,$(wildcard tools/sdkgen-dotnet/*.go))
	@start=$$(date +%s); cd tools/sdkgen-dotnet && GOWORK=off go build -o $@ . || exit 1; \
	echo "built bin/sdkgen-dotnet in $$(( $$(date +%s) - start ))s"

.PHONY: sdks
sdks: $(BIN)/sdkgen $(BIN)/sdkgen-dotnet $(BIN)/pulumi-resource-kubernetes ## generate sdk/dotnet, sdk/nodejs, sdk/python from provider/schema.json (the C# SDK cannot be compiled here)
	@$(BIN)/sdkgen -schema '$(SCHEMA)' -out '$(SDK_DIR)' -language nodejs,python -dep tools/kubernetes/schema-embed.json
	@$(BIN)/sdkgen-dotnet -schema '$(SCHEMA)' -out '$(SDK_DIR)' -dep tools/kubernetes/schema-embed.json

$(addprefix $(BIN)/,$(CLUSTER_TOOLS)): $(BIN)/%: tools/cluster/go.mod tools/cluster/go.sum
	@start=$$(date +%s); cd tools/cluster && CGO_ENABLED=0 GOWORK=off go build -ldflags '$(K8S_LDFLAGS)' -o $@ $(pkg.$*); \
	echo "built bin/$* in $$(( $$(date +%s) - start ))s"

# --- local cluster: real API server, controllers and scheduler; kwok's simulated nodes ---

$(STATE)/kwok.yaml: tools/cluster/go.mod tools/cluster/go.sum $(wildcard tools/cluster/kwokconfig/*.go tools/cluster/kwokconfig/stages/*.yaml)
	@mkdir -p $(STATE) && cd tools/cluster && GOWORK=off go run ./kwokconfig > $@.tmp && mv $@.tmp $@

.PHONY: cluster-up
cluster-up: tools $(STATE)/kwok.yaml ## start the local cluster (reuses a running one)
	@if $(BIN)/kwokctl get clusters 2>/dev/null | grep -qx '$(CLUSTER)'; then \
	  if $(BIN)/kubectl --kubeconfig $(KUBECONFIG_FILE) get --raw /readyz >/dev/null 2>&1; then \
	    echo "cluster $(CLUSTER) is already running"; \
	  else \
	    $(BIN)/kwokctl start cluster --name $(CLUSTER) --wait 60s; \
	  fi; \
	else \
	  start=$$(date +%s); \
	  $(BIN)/kwokctl -c $(STATE)/kwok.yaml create cluster --name $(CLUSTER) --runtime binary \
	    --kube-apiserver-binary=$(BIN)/kube-apiserver --kube-controller-manager-binary=$(BIN)/kube-controller-manager \
	    --kube-scheduler-binary=$(BIN)/kube-scheduler --kwok-controller-binary=$(BIN)/kwok --etcd-binary=$(BIN)/etcd \
	    --kubeconfig $(KUBECONFIG_FILE) --wait 60s --quiet-pull; \
	  $(BIN)/kwokctl scale node --name $(CLUSTER) --replicas $(NODES); \
	  for i in $$(seq 60); do \
	    $(BIN)/kubectl --kubeconfig $(KUBECONFIG_FILE) get --raw /readyz >/dev/null 2>&1 && break; \
	    if [ $$i = 60 ]; then echo "cluster $(CLUSTER) does not answer through $(KUBECONFIG_FILE) after 30 s"; exit 1; fi; \
	    sleep 0.5; \
	  done; \
	  echo "cluster $(CLUSTER) ready in $$(( $$(date +%s) - start ))s; KUBECONFIG=$(KUBECONFIG_FILE)"; \
	fi

.PHONY: cluster-down
cluster-down: ## stop and delete the local cluster
	@if [ -x $(BIN)/kwokctl ] && $(BIN)/kwokctl get clusters 2>/dev/null | grep -qx '$(CLUSTER)'; then \
	  $(BIN)/kwokctl delete cluster --name $(CLUSTER) --kubeconfig $(KUBECONFIG_FILE); \
	else echo "no cluster $(CLUSTER)"; fi

# --- the deploy driver (Automation API, the program run inline) ---

.PHONY: driver
driver:
	@go build -o $(BIN)/pulumi-jobs ./deploy/cmd/pulumi-jobs

.PHONY: up
up: tools cluster-up driver ## release the dev stack (STACK=…) to the local cluster
	@$(BIN)/pulumi-jobs up --stack $(STACK) --kubeconfig $(KUBECONFIG_FILE)

.PHONY: refresh
refresh: tools cluster-up driver ## read the dev stack (STACK=…) back from the local cluster
	@$(BIN)/pulumi-jobs refresh --stack $(STACK) --kubeconfig $(KUBECONFIG_FILE)

.PHONY: preview
preview: tools cluster-up driver ## preview the dev stack (STACK=…) on the local cluster
	@$(BIN)/pulumi-jobs preview --stack $(STACK) --kubeconfig $(KUBECONFIG_FILE)

.PHONY: down
down: driver ## destroy the stack, then stop the local cluster (stopped even when the destroy fails)
	@rc=0; \
	if [ -x $(BIN)/pulumi ] && [ -f $(KUBECONFIG_FILE) ] && $(BIN)/kubectl --kubeconfig $(KUBECONFIG_FILE) get --raw /readyz >/dev/null 2>&1; then \
	  $(BIN)/pulumi-jobs destroy --stack $(STACK) --kubeconfig $(KUBECONFIG_FILE) || rc=$$?; \
	  if [ $$rc -ne 0 ]; then echo "make down: destroying stack $(STACK) failed (exit $$rc); stopping the local cluster anyway"; fi; \
	else echo "make down: no local cluster answers; nothing to destroy"; fi; \
	$(MAKE) --no-print-directory cluster-down; \
	exit $$rc

.PHONY: deploy-settings
deploy-settings: tools driver ## Pulumi Deployments push-to-deploy settings: STACK=org/proj/stack GITHUB_REPO=owner/name PRESET=dev|prod
	@$(BIN)/pulumi-jobs deploy-settings --stack '$(STACK)' --github-repo '$(GITHUB_REPO)' --preset '$(PRESET)'

# --- checks ---

.PHONY: vet
vet: ## gofmt and go vet over every module of the workspace
	@bad=$$(gofmt -l infra deploy provider tests tools examples); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@go vet $(MODULES)

.PHONY: test
test: tools sdks $(BIN)/helm $(STATE)/kwok.yaml node vet ## unit tests, then end-to-end tests on the real engine and a local cluster with one real node (Helm's CLI too, to compare a chart's run with Helm's)
	@go test -count=1 ./infra/... ./deploy/... ./provider/...
	@# One end-to-end run: the suite shares one local cluster, and TestReadme types the blocks of the
	@# README and docs/ on two local clusters of its own, one after the other.
	@PULUMI_JOBS_BIN=$(BIN) PULUMI_JOBS_E2E=require go test -count=1 -timeout 45m -v ./tests/...

.PHONY: bench
bench: tools $(BIN)/helm $(STATE)/kwok.yaml ## benchmarks (figures printed, never asserted)
	@go test -run '^$$' -bench . -benchmem ./infra/...
	@PULUMI_JOBS_BIN=$(BIN) PULUMI_JOBS_E2E=require go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./tests/

.PHONY: clean
clean: ## remove the local cluster, state and built tools
	@$(MAKE) --no-print-directory cluster-down || true
	rm -rf $(BIN) $(STATE)

# --- the real node: kubelet, containerd + runc, CNI and kube-proxy beside kwok's simulated nodes ---
# Built from tools/node/* (never in go.work) and Debian's packages; the end-to-end tests of
# tests/realnode_*.go start it in a cluster of their own and remove everything it started.

NODE_DEBS := runc containernetworking-plugins iptables postgresql
NODE_IMAGES := $(STATE)/node-images.tar
NODE_KUBE_TOOLS := kubelet kube-proxy
NODE_CONTAINERD_TOOLS := containerd containerd-shim-runc-v2 ctr
pkg.kubelet                 := k8s.io/kubernetes/cmd/kubelet
pkg.kube-proxy              := k8s.io/kubernetes/cmd/kube-proxy
pkg.containerd              := github.com/containerd/containerd/v2/cmd/containerd
pkg.containerd-shim-runc-v2 := github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
pkg.ctr                     := github.com/containerd/containerd/v2/cmd/ctr

.PHONY: node
node: node-deps $(addprefix $(BIN)/,$(NODE_KUBE_TOOLS) $(NODE_CONTAINERD_TOOLS) crictl) $(NODE_IMAGES) ## build the real node (kubelet, kube-proxy, containerd, crictl) and its test images; install its Debian packages
	@echo "real node ready: bin/{$(subst $(eval) ,$(comma),$(NODE_KUBE_TOOLS) $(NODE_CONTAINERD_TOOLS) crictl)}, $(NODE_IMAGES)"
comma := ,

# Debian's runc, CNI plugins, iptables and PostgreSQL, installed with apt-get when one is missing (as root).
.PHONY: node-deps
node-deps: ## install the real node's Debian packages when missing: runc, containernetworking-plugins, iptables, postgresql
	@missing=$$(for p in $(NODE_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make node-deps: missing Debian packages: $$missing; run as root, or: sudo apt-get install -y $$missing"; exit 1; fi; \
	start=$$(date +%s); \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; }; \
	echo "installed $$missing in $$(( $$(date +%s) - start ))s"

$(addprefix $(BIN)/,$(NODE_KUBE_TOOLS)): $(BIN)/%: tools/node/kube/go.mod tools/node/kube/go.sum
	@start=$$(date +%s); cd tools/node/kube && CGO_ENABLED=0 GOWORK=off go build -ldflags '$(K8S_LDFLAGS)' -o $@ $(pkg.$*); \
	echo "built bin/$* in $$(( $$(date +%s) - start ))s"

$(addprefix $(BIN)/,$(NODE_CONTAINERD_TOOLS)): $(BIN)/%: tools/node/containerd/go.mod tools/node/containerd/go.sum
	@start=$$(date +%s); cd tools/node/containerd && CGO_ENABLED=0 GOWORK=off go build -tags no_devmapper,no_zfs,no_btrfs -o $@ $(pkg.$*); \
	echo "built bin/$* in $$(( $$(date +%s) - start ))s"

$(BIN)/crictl: tools/node/crictl/go.mod tools/node/crictl/go.sum
	@start=$$(date +%s); cd tools/node/crictl && CGO_ENABLED=0 GOWORK=off go build -o $@ sigs.k8s.io/cri-tools/cmd/crictl; \
	echo "built bin/crictl in $$(( $$(date +%s) - start ))s"

$(NODE_IMAGES): tools/images/go.mod tools/images/go.sum $(wildcard tools/images/*.go tools/images/cmd/*/*.go)
	@mkdir -p $(STATE) && start=$$(date +%s); cd tools/images && GOWORK=off go run . -out $@ || exit 1; \
	echo "built $(NODE_IMAGES) in $$(( $$(date +%s) - start ))s"

.PHONY: node-up
node-up: tools node $(STATE)/kwok.yaml ## a local cluster with one real node and PostgreSQL, in the foreground: Ctrl-C stops it and removes everything it started
	@go run ./tests/localcluster/cmd/realnode -bin $(BIN) -kwok-config $(STATE)/kwok.yaml -images $(NODE_IMAGES) -dir $(STATE)/real-node

.PHONY: node-clean
node-clean: ## remove what a real node left on this machine when its process was killed (the next start does it too)
	@go run ./tests/localcluster/cmd/realnode -bin $(BIN) -clean
