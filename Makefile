# Biometrics Realtime — the README's commands. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT ?= swift
VENV := .venv
PYTHON := $(VENV)/bin/python3
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := librdkafka-dev libhiredis-dev libssl-dev libsqlite3-dev redis-server kcat pkg-config python3-venv

.PHONY: deps apt-deps python-deps build release run test bench fuzz chaos soak clean

## deps: Debian packages (librdkafka, hiredis, OpenSSL, redis-server, kcat) and the Python test peers in .venv
deps: apt-deps python-deps

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

python-deps: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

## build: debug build of every target, tests included
build: apt-deps
	$(SWIFT) build --build-tests

## release: release binaries of every executable (gateway, verification-worker, metrics-exporter, biometricsctl, …)
## in .build/release — what deploy/ installs
release: apt-deps
	$(SWIFT) build -c release
	@$(SWIFT) build -c release --show-bin-path

## run: the whole dev stack on an embedded broker; prints READY …, the URLs and a dev token
run: deps
	$(SWIFT) build
	exec .build/debug/biometricsctl dev

## test: every test, against a real (embedded) Kafka-protocol broker, real redis-server and real Python peers
## At most TEST_WIDTH tests at once: each integration test runs brokers, gateways, redis-servers and Python peers,
## and all 365 at once on 2 cores starved timing bounds (a seek, a liveness window) on CI.
TEST_WIDTH ?= 16
test: deps
	$(SWIFT) build --build-tests
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) BIOMETRICS_PYTHON=$(CURDIR)/$(PYTHON) $(SWIFT) test --skip-build

## fuzz: libFuzzer + AddressSanitizer on the decoders of untrusted bytes and the JWT path, FUZZ_RUNS executions each
## (default 1M); FUZZ_TARGETS picks some (socket-io messages jwt)
fuzz:
	Fuzz/run.sh

## bench: Kafka client against kcat; gateway against a raw NIO server and python-socketio; a 10k-client reconnect
## storm; notification service end to end; verify round trips through gateway → Kafka → worker → Kafka →
## gateway; the envelope codec's CPU per message (release build; not a test)
bench: deps release
	.build/release/biometricsctl bench codec
	.build/release/biometricsctl bench kafka
	BIOMETRICS_PYTHON=$(CURDIR)/$(PYTHON) .build/release/biometricsctl bench gateway
	BIOMETRICS_PYTHON=$(CURDIR)/$(PYTHON) .build/release/biometricsctl bench reconnect
	.build/release/biometricsctl bench notify
	.build/release/biometricsctl bench verify

## chaos: fault injection under a steady mixed load of SDK clients, every part a real process: kill -9 each service in
## turn, redis-server stopped and restarted, the broker down 30 s, one of two gateways down; prints what the clients
## saw, what was lost and the time to recover (bench-results/chaos.md, .json; ~8 min; release build; not a test)
chaos: deps release
	.build/release/biometricsctl chaos

## soak: SOAK_MINUTES (default 30) of the same load with connection churn; RSS, open fds, consumer lag and latency
## percentiles every 10 s, plotted, with a verdict (bench-results/soak.md, .json, .png)
soak: deps release
	.build/release/biometricsctl soak --python $(CURDIR)/$(PYTHON)

clean:
	rm -rf .build $(VENV) .run bench-results
