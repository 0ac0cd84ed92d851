// A benchmark spike, not part of Hedgerow: the KServe v2 gRPC methods the gRPC benchmark drives with h2load, served by
// grpc-swift 2 (GRPCCore + the NIO HTTP/2 transport), so that its server stack can be measured against Hedgerow's own
// HTTP/2 server under the same load. See docs/grpc.md.
//   GRPCSwiftSpike --port N        (plaintext HTTP/2 on 127.0.0.1:N; prints "listening on N", runs until killed)
// No protobuf and no code generator: messages stay raw bytes, and the handlers are registered by hand the way the
// generated code would register them, so what is measured is the transport, the router and the RPC executor.
#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import GRPCCore
import GRPCNIOTransportHTTP2

/// Messages as their serialized bytes, copied in and out as they are.
struct RawBytes: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// `inference.GRPCInferenceService`, two of its methods. Like generated code, each handler reads its single request
/// message through `ServerRequest(stream:)` and answers through `StreamingServerResponse(single:)`.
struct InferenceService: RegistrableRPCService {
    static let name = "inference.GRPCInferenceService"
    /// ServerLiveResponse{live: true}: field 1, varint, 1.
    static let live: [UInt8] = [0x08, 0x01]

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: Self.name, method: "ServerLive"),
            deserializer: RawBytes(),
            serializer: RawBytes()
        ) { request, _ in
            _ = try await ServerRequest(stream: request)  // the request is read, then ignored
            return StreamingServerResponse(single: ServerResponse(message: Self.live))
        }
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: Self.name, method: "ModelInfer"),
            deserializer: RawBytes(),
            serializer: RawBytes()
        ) { request, _ in
            let request = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: request.message))  // echo
        }
    }
}

let arguments = CommandLine.arguments
guard let flag = arguments.firstIndex(of: "--port"), flag + 1 < arguments.count,
    let port = Int(arguments[flag + 1]), (0...65535).contains(port)
else {
    print("usage: GRPCSwiftSpike --port N")
    exit(2)
}

let server = GRPCServer(
    transport: HTTP2ServerTransport.Posix(
        address: .ipv4(host: "127.0.0.1", port: port),
        transportSecurity: .plaintext
    ),
    services: [InferenceService()]
)
try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await server.serve() }
    // Resolves once the listener is bound (and reports the real port if N was 0).
    let address = try await server.transport.listeningAddress
    print("listening on \(address.ipv4?.port ?? port)")
    fflush(nil)
}
