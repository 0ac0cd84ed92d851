// swift-tools-version:6.0
import PackageDescription

// Imports point one way: CLI -> roles (Worker, Router, Synchronizer) -> HTTP / GRPC / Runtime / Metrics -> Core.
// Roles never import each other; they meet through Core's wire types over HTTP.
let package = Package(
    name: "hedgerow",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "hedgerow", targets: ["HedgerowCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "HedgerowCLI",
            dependencies: [
                "HedgerowCore", "HedgerowHTTP", "HedgerowMetrics",
                "HedgerowWorker", "HedgerowRouter", "HedgerowSynchronizer", "HedgerowBench", "HedgerowRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Core holds what every role shares: wire types, the desired state, and the pure hedging parts (delay
        // window, budget) that the router and a sharded entry's lookups both use.
        .target(name: "HedgerowCore", dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]),
        .target(
            name: "HedgerowHTTP",
            dependencies: [
                "HedgerowCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "HedgerowMetrics",
            dependencies: [
                "HedgerowCore", "HedgerowHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // KServe v2 over gRPC: the protocol's messages (SwiftProtobuf, generated from Protos/) and its framing and
        // statuses over Hedgerow's own HTTP/2 server and client (docs/grpc.md says why not grpc-swift).
        .target(
            name: "HedgerowGRPC",
            dependencies: [
                "HedgerowCore", "HedgerowHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Element-wise kernels built for baseline x86-64 and for AVX2/FMA, picked at run time (see its header).
        .target(name: "CHedgerowKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "HedgerowRuntime",
            dependencies: [
                "HedgerowCore", "COpenBLAS", "CHedgerowKernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Generated/README.md"]
        ),
        .target(
            name: "HedgerowWorker",
            dependencies: [
                "HedgerowCore", "HedgerowHTTP", "HedgerowGRPC", "HedgerowMetrics", "HedgerowRuntime",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "HedgerowRouter",
            dependencies: [
                "HedgerowCore", "HedgerowHTTP", "HedgerowGRPC", "HedgerowMetrics",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Hedging/Hedging.md"]
        ),
        .target(
            name: "HedgerowSynchronizer",
            dependencies: [
                // Runtime for the model format only: a sharded model's tables are read from its file to split it.
                "HedgerowCore", "HedgerowHTTP", "HedgerowMetrics", "HedgerowRuntime",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `hedgerow bench`: open-loop load generation and the hedging scenarios (a tool, not a role).
        .target(
            name: "HedgerowBench",
            dependencies: [
                "HedgerowCore", "HedgerowHTTP", "HedgerowSynchronizer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(
            name: "HedgerowMetricsTests",
            dependencies: [
                "HedgerowMetrics",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HedgerowCoreTests", dependencies: ["HedgerowCore"]),
        .testTarget(name: "HedgerowGRPCTests", dependencies: [
            "HedgerowGRPC", "HedgerowHTTP", "HedgerowCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .testTarget(
            name: "HedgerowHTTPTests",
            dependencies: [
                "HedgerowHTTP", "HedgerowCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HedgerowRuntimeTests", dependencies: ["HedgerowRuntime", "HedgerowCore", "CHedgerowKernels"]),
        .testTarget(
            name: "HedgerowWorkerTests",
            dependencies: [
                "HedgerowWorker", "HedgerowCore", "HedgerowRuntime", "HedgerowHTTP", "HedgerowGRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HedgerowRouterTests", dependencies: [
            "HedgerowRouter", "HedgerowCore", "HedgerowHTTP", "HedgerowGRPC", .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(
            name: "HedgerowSynchronizerTests",
            dependencies: ["HedgerowSynchronizer", "HedgerowCore", .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        // Fuzz targets (Fuzz/README.md). Built normally, each is a replayer: `FuzzKServe FILE...` runs the files
        // through the same entry the fuzzer calls (what a regression check needs). `make fuzz` builds them with
        // `-sanitize=fuzzer,address -parse-as-library -DFUZZING`, where they hand their command line to libFuzzer.
        .target(
            name: "HedgerowFuzzing",
            dependencies: [
                "HedgerowCore", "HedgerowRuntime", "HedgerowWorker", "HedgerowSynchronizer", "HedgerowGRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Fuzz/Entries"
        ),
        // Declares libFuzzer's driver entry for the FUZZING builds.
        .target(name: "FuzzDriver", path: "Fuzz/Driver"),
        .executableTarget(name: "FuzzKServe", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzKServe"),
        .executableTarget(name: "FuzzGRPCInfer", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzGRPCInfer"),
        .executableTarget(name: "FuzzTFServing", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzTFServing"),
        .executableTarget(name: "FuzzLookup", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzLookup"),
        .executableTarget(name: "FuzzONNXLoader", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzONNXLoader"),
        .executableTarget(name: "FuzzDesiredState", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzDesiredState"),
        .executableTarget(name: "FuzzRoutingTable", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzRoutingTable"),
        .executableTarget(name: "FuzzWorkerMessages", dependencies: ["HedgerowFuzzing", "FuzzDriver"], path: "Fuzz/Targets/FuzzWorkerMessages"),
        // Starts the real binary: `hedgerow` must be built (swift test builds every product first).
        .testTarget(
            name: "HedgerowIntegrationTests",
            dependencies: [
                // The runtime's ONNX types: tests build candidate versions from an example model's file.
                "HedgerowCore", "HedgerowHTTP", "HedgerowRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
    ]
)
