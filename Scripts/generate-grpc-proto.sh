#!/usr/bin/env bash
# Regenerates Sources/HedgerowGRPC/Generated/inference.pb.swift from Protos/inference.proto.
#
# Needs: protoc (Debian protobuf-compiler) and swift. Run from the repository root (after one `swift build`, so that
# swift-protobuf is checked out at the version Package.swift resolves):
#     bash Scripts/generate-grpc-proto.sh
# Only the messages are generated: the six unary calls are served by Hedgerow's own HTTP/2 server (see
# docs/grpc.md), so no service stubs are needed.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

checkout="$root/.build/checkouts/swift-protobuf"
[ -d "$checkout" ] || swift package resolve
cp -r "$checkout" "$work/swift-protobuf"
swift build -c release --package-path "$work/swift-protobuf" --product protoc-gen-swift

mkdir -p "$work/out" "$root/Sources/HedgerowGRPC/Generated"
protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_opt=Visibility=Public --proto_path="$root/Protos" --swift_out="$work/out" inference.proto
cp "$work/out/inference.pb.swift" "$root/Sources/HedgerowGRPC/Generated/inference.pb.swift"
echo "wrote Sources/HedgerowGRPC/Generated/inference.pb.swift"
