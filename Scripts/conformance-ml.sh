#!/usr/bin/env bash
# The ai.onnx.ml node tests through `hedgerow conformance`: generated from the pinned `onnx` package's test-case
# definitions (Scripts/make-onnx-ml-testdata.py; Debian's libonnx-testdata has none) into .build/onnx-ml-testdata,
# then run; fails on any failed case or when fewer than MIN_PASSED pass.
#   bash Scripts/conformance-ml.sh [path to the hedgerow binary, default .build/debug/hedgerow]
# The virtualenv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/hedgerow-ci/onnx-venv and is reused while its pins match.
set -euo pipefail
BINARY="${1:-.build/debug/hedgerow}"
ONNX_VERSION=1.23.2
NUMPY_VERSION=2.4.6
MIN_PASSED=6
VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hedgerow-ci/onnx-venv"
OUT=.build/onnx-ml-testdata

say() { echo "conformance-ml: $*"; }
fail() { echo "conformance-ml: FAILED: $*" >&2; exit 1; }

[ -x "$BINARY" ] || fail "no $BINARY (run swift build first)"
stamp="onnx==$ONNX_VERSION numpy==$NUMPY_VERSION"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.hedgerow-pins" 2>/dev/null)" = "$stamp" ]; then
    say "reusing the virtualenv at $VENV"
else
    say "creating the virtualenv at $VENV ($stamp)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || fail "cannot create a virtualenv at $VENV (Debian needs python3-venv)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "onnx==$ONNX_VERSION" "numpy==$NUMPY_VERSION" \
        || fail "pip could not install $stamp"
    printf '%s' "$stamp" > "$VENV/.hedgerow-pins"
fi
rm -rf "$OUT"
"$VENV/bin/python" Scripts/make-onnx-ml-testdata.py "$OUT"
"$BINARY" conformance --testdata "$OUT" --minimum-passed "$MIN_PASSED" | grep -v '  0       0          0        0$'
