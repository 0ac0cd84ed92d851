# Hedgerow — the two commands of README.md, and what they need.
#   make up     install what is missing, build (release) and run `hedgerow up`
#   make test   install what is missing (the tests also use openssl, curl and the ONNX test data), run every test,
#               then a 2-minute soak of the debug build
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev pkg-config openssl curl libonnx-testdata python3
ARGS ?=

.PHONY: up test deps build release bench-tools soak-short

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
	$(MAKE) --no-print-directory soak-short

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
