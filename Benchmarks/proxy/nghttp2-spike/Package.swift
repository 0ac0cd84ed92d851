// swift-tools-version:6.0
// A spike, not part of Hedgerow: an HTTP/2 proxy whose framing is libnghttp2 and whose sockets are SwiftNIO's,
// to measure what the router's plumbing would cost without swift-nio-http2. See Benchmarks/README.md.
import PackageDescription

let package = Package(
    name: "nghttp2-spike",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")],
    targets: [
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .executableTarget(
            name: "NGHTTP2Spike",
            dependencies: ["CNGHTTP2", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v5]  // a single-threaded spike: no concurrency checking needed
)