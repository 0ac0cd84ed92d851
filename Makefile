# Hedgerow — the two commands of README.md, and what they need.
#   make up     install what is missing, build (release) and run `hedgerow up`
#   make test   install what is missing (the tests also use openssl, curl and the ONNX test data) and run every test
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev pkg-config openssl curl libonnx-testdata
ARGS ?=

.PHONY: up test deps build release bench-tools

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

release: deps
	swift build -c release --product hedgerow

up: release
	.build/release/hedgerow up $(ARGS)

test: deps
	swift test

# h2load for the load measurements in README.md and Benchmarks/.
bench-tools:
	@dpkg -s nghttp2-client >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nghttp2-client >/dev/null; }

# The protocol fuzzer's long run (Scripts/protocol-fuzz.py) against a freshly started worker and router of the
# release binary; FUZZ_ARGS adds flags (e.g. FUZZ_ARGS="--seed 7 --scale 8").
FUZZ_ARGS ?=
.PHONY: protocol-fuzz
protocol-fuzz: release
	python3 Scripts/protocol-fuzz.py --start .build/release/hedgerow $(FUZZ_ARGS)
