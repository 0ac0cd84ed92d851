import Foundation
import HedgerowHTTP
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An open-loop HTTP/2 load generator: requests leave at fixed intended times (`rate` per second) whether or
/// not earlier ones answered, and each latency is measured from its intended send time. A stall therefore
/// shows up in full in the percentiles instead of silently slowing the sender (coordinated omission).
public struct LoadGenerator: Sendable {
    public struct Configuration: Sendable {
        public var target: String
        public var method: HTTPMethod
        public var path: String
        /// Request headers (JSON's content type unless given: `content-type: application/grpc` and
        /// `te: trailers` make each request a gRPC call, counted a success only with `grpc-status: 0`).
        public var headers: HTTPHeaders
        public var body: ByteBuffer
        public var rate: Double
        public var duration: Duration
        /// Requests still unanswered this long after their intended time count as errors.
        public var timeout: TimeAmount

        public init(
            target: String, method: HTTPMethod = .POST, path: String, headers: HTTPHeaders = ["content-type": "application/json"],
            body: ByteBuffer, rate: Double, duration: Duration, timeout: TimeAmount = .seconds(10)
        ) {
            self.target = target
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
            self.rate = rate
            self.duration = duration
            self.timeout = timeout
        }
    }

    public struct Result: Sendable {
        public var sent: Int
        public var succeeded: Int
        public var errors: Int
        /// Status code or error kind → count, for what went wrong.
        public var errorKinds: [String: Int]
        public var elapsedSeconds: Double
        /// Latency from intended send time, microseconds, successful requests only.
        public var latency: Histogram<UInt64>

        public var achievedRate: Double { elapsedSeconds > 0 ? Double(succeeded) / elapsedSeconds : 0 }
        public func percentileMillis(_ p: Double) -> Double { Double(latency.valueAtPercentile(p)) / 1000 }
        public var maxMillis: Double { Double(latency.max) / 1000 }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// A gRPC answer's status: in its trailers, or in its headers when it has no body.
    static func grpcStatus(of response: HTTPResponse) -> String? {
        response.trailers?.first(name: "grpc-status") ?? response.headers.first(name: "grpc-status")
    }

    public func run() async -> Result {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = HTTP2ClientPool(group: group)
        let loop = group.next()
        let state = NIOLockedValueBox(Result(sent: 0, succeeded: 0, errors: 0, errorKinds: [:], elapsedSeconds: 0,
                                             latency: Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)))
        let total = Int(configuration.rate * Double(configuration.duration.components.seconds) + configuration.rate * Double(configuration.duration.components.attoseconds) / 1e18)
        let interval = 1e9 / configuration.rate
        let start = NIODeadline.now() + .milliseconds(50)
        let finished = loop.makePromise(of: Void.self)
        let outstanding = NIOLockedValueBox(total)
        let request = HTTPRequest(method: configuration.method, target: configuration.path, headers: configuration.headers, body: configuration.body)
        let config = configuration

        if total == 0 { finished.succeed() }
        for i in 0..<total {
            let intended = start + .nanoseconds(Int64(Double(i) * interval))
            loop.scheduleTask(deadline: intended) {
                state.withLockedValue { $0.sent += 1 }
                let call = pool.execute(request, to: config.target, on: loop, timeout: config.timeout)
                call.response.whenComplete { result in
                    let micros = UInt64(max(0, (NIODeadline.now() - intended).nanoseconds / 1000))
                    state.withLockedValue { state in
                        switch result {
                        case .success(let response) where response.status == .ok && Self.grpcStatus(of: response) ?? "0" == "0":
                            state.succeeded += 1
                            _ = state.latency.record(min(micros, 120_000_000))
                        case .success(let response) where response.status == .ok:
                            state.errors += 1
                            state.errorKinds["grpc-status \(Self.grpcStatus(of: response) ?? "?")", default: 0] += 1
                        case .success(let response):
                            state.errors += 1
                            state.errorKinds["HTTP \(response.status.code)", default: 0] += 1
                        case .failure(let error):
                            state.errors += 1
                            state.errorKinds[(error as? HTTP2ClientError)?.reason ?? "\(error)", default: 0] += 1
                        }
                    }
                    let left = outstanding.withLockedValue { $0 -= 1; return $0 }
                    if left == 0 { finished.succeed() }
                }
            }
        }
        try? await finished.futureResult.get()
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        pool.shutdown()
        try? await group.shutdownGracefully()
        var result = state.withLockedValue { $0 }
        result.elapsedSeconds = elapsed
        return result
    }
}
