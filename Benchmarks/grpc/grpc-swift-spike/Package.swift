// swift-tools-version:6.0
// A spike, not part of Hedgerow: the two gRPC unary methods h2load drives, served by grpc-swift 2's server stack
// (GRPCCore over grpc-swift-nio-transport), to compare it with Hedgerow's own HTTP/2 server under the same load.
// See docs/grpc.md.
import PackageDescription

let package = Package(
    name: "grpc-swift-spike",
    platforms: [.macOS(.v15)],  // grpc-swift 2's availability floor
    products: [.executable(name: "GRPCSwiftSpike", targets: ["GRPCSwiftSpike"])],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "GRPCSwiftSpike",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
    ]
)
