# Bazaar: the two commands first (`make run`, `make test`), then the operator's tools.
# Works on a fresh Debian machine with only Python 3.11+, make and git: uv is bootstrapped into
# .tools/ when it is not on PATH, and `make test` installs the Debian packages it needs.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
DEBIAN_PACKAGES := postgresql pgbouncer redis-server haproxy prometheus prometheus-alertmanager \
	prometheus-redis-exporter wrk docker.io debootstrap
PYTEST_ARGS ?=

export UV_LINK_MODE ?= copy

.PHONY: help run test lint format deps sync chart-sync chart-docs stack stack-down stack-logs stack-status \
	loadtest scaleout bench schema clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

sync: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv) ## install the locked dependencies into .venv
	$(UV) sync --frozen

run: sync ## the app on http://127.0.0.1:8000 (SQLite, in-process tasks, demo data)
	DJANGO_SETTINGS_MODULE=config.settings.dev \
	DJANGO_SUPERUSER_EMAIL=$${DJANGO_SUPERUSER_EMAIL:-admin@bazaar.local} \
	DJANGO_SUPERUSER_PASSWORD=$${DJANGO_SUPERUSER_PASSWORD:-bazaar-admin} \
	$(UV) run bazaar dev --addr 127.0.0.1:8000

deps: ## install the Debian packages the tests and the stack run (as root; else print the command)
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
		| grep -q "ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "Missing Debian packages. Run: sudo apt-get install -y $$missing"; exit 1; \
	fi

lint: sync ## ruff lint and format check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: sync ## format the code
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

test: deps lint ## everything: lint, unit and real-service tests, chart, stack, observability, load
	$(UV) run pytest $(PYTEST_ARGS)

chart-sync: sync ## copy observability/ rules and dashboards, and the app's web slices, into the chart
	$(UV) run python charts/bazaar/hack/sync-observability.py
	$(UV) run python charts/bazaar/hack/web-slices.py

chart-docs: sync ## regenerate the chart README's values table from values.schema.json
	$(UV) run python charts/bazaar/hack/values-table.py

schema: sync ## regenerate the committed OpenAPI schema
	cd app && $(abspath $(UV)) run python manage.py spectacular --validate --fail-on-warn --file ../docs/openapi.yaml

SLICES ?= 0
stack: deps sync ## the production-shaped stack on this machine (LB :8080, Prometheus :9090); SLICES=1: a web process per slice
	$(UV) run python -m tools.stack up $(if $(filter 1,$(SLICES)),--slices)

stack-down: ## stop the stack; leaves no process behind
	$(UV) run python -m tools.stack down

stack-logs: ## follow the stack's logs
	$(UV) run python -m tools.stack logs

stack-status: ## what the stack runs and where
	$(UV) run python -m tools.stack status

CLUSTER_DEBIAN_PACKAGES := containerd runc containernetworking-plugins iptables conntrack socat \
	openssl gcc libc6-dev
.PHONY: cluster cluster-down cluster-status cluster-deps

cluster-deps: ## install the Debian packages the local cluster runs on (as root; else print it)
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(CLUSTER_DEBIAN_PACKAGES)"

cluster: cluster-deps sync ## a single-node Kubernetes built from its Go modules (.cluster/kubeconfig)
	$(UV) run python -m tools.cluster up

cluster-down: ## stop the cluster; leaves no process, mount, netns, veth or iptables chain behind
	$(UV) run python -m tools.cluster down

cluster-status: ## the cluster's processes and whether its API server is ready
	$(UV) run python -m tools.cluster status

IMAGE ?= bazaar/bazaar:local
.PHONY: image image-local image-down
image: ## build the production image with your Docker (IMAGE=bazaar/bazaar:local)
	docker build --target runtime --tag $(IMAGE) .

image-local: deps sync ## the same Dockerfile without a registry: private engine, local base twins
	$(UV) run python -m tools.image build --tag local

image-down: ## stop the private Docker engine of image-local (its image cache stays)
	$(UV) run python -m tools.image engine down

clean: ## remove local state (the stack must be down)
	rm -rf .stack .tools app/db.sqlite3 app/media app/staticfiles loadtests/reports

HOST ?= http://127.0.0.1:8080
USERS ?= 40
SPAWN_RATE ?= 10
DURATION ?= 60s
LOCUST_WORKERS ?= 0
loadtest: sync ## Locust against HOST (default: make stack), SLO-gated; reports in loadtests/reports/
	$(UV) run python -m loadtests.run --host $(HOST) --users $(USERS) --spawn-rate $(SPAWN_RATE) \
		--run-time $(DURATION) --workers $(LOCUST_WORKERS)

scaleout: deps sync ## highest throughput within the p95 gate with 1 and 2 web processes
	$(UV) run python -m loadtests.scaleout

BENCH_QUICK ?= 0
bench: deps sync ## the benchmark suite: ratios against baselines run on this machine
	$(UV) run python -m loadtests.bench $(if $(filter 1,$(BENCH_QUICK)),--quick)
