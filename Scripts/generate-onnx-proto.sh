#!/usr/bin/env bash
# Regenerates Sources/HedgerowRuntime/Generated/onnx.pb.swift from the ONNX project's own schema.
#
# Needs: protoc (Debian protobuf-compiler), Python 3 with pip, and swift. Run from the repository root:
#     bash Scripts/generate-onnx-proto.sh
# It builds protoc-gen-swift from swift-protobuf 1.39.0 (the version Package.swift depends on), takes onnx.proto3
# from the `onnx` Python package (made by its own gen_proto.py), and writes the generated file.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "onnx==1.23.2"
onnx_dir=$("$work/venv/bin/python" -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')
mkdir -p "$work/proto"
"$work/venv/bin/python" "$onnx_dir/gen_proto.py" -o "$work/proto" --protoc_path "$(command -v protoc)" onnx >/dev/null

git clone -q https://github.com/apple/swift-protobuf.git "$work/swift-protobuf"
git -C "$work/swift-protobuf" checkout -q 1.39.0
swift build -c release --package-path "$work/swift-protobuf" --product protoc-gen-swift

mkdir -p "$work/out"
(cd "$work/proto" && protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_out="$work/out" onnx.proto3)
cp "$work/out/onnx.pb.swift" "$root/Sources/HedgerowRuntime/Generated/onnx.pb.swift"
echo "wrote Sources/HedgerowRuntime/Generated/onnx.pb.swift"
