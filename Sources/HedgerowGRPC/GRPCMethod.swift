/// The calls of `inference.GRPCInferenceService` Hedgerow serves, by their HTTP/2 path.
public enum GRPCMethod: String, Sendable, CaseIterable {
    case serverLive = "ServerLive"
    case serverReady = "ServerReady"
    case modelReady = "ModelReady"
    case serverMetadata = "ServerMetadata"
    case modelMetadata = "ModelMetadata"
    case modelInfer = "ModelInfer"

    public static let service = "inference.GRPCInferenceService"

    /// The method a request path names, or nil for another service or method.
    public init?(path: Substring) {
        let prefix = "/\(Self.service)/"
        guard path.hasPrefix(prefix) else { return nil }
        self.init(rawValue: String(path.dropFirst(prefix.count)))
    }

}

/// The `grpc-timeout` header: at most 8 digits and a unit (H, M, S, m, u, n). Nil when absent or malformed (the
/// call then has the router's default deadline).
public enum GRPCTimeout {
    /// Whole milliseconds, rounded up (a 100 µs deadline is 1 ms, never 0), capped at a day.
    public static func milliseconds(_ header: String?) -> Int? {
        guard let header, (2...9).contains(header.utf8.count), let unit = header.last,
              let amount = Int(header.dropLast()), amount >= 0 else { return nil }
        let nanosPerUnit: Double
        switch unit {
        case "H": nanosPerUnit = 3_600e9
        case "M": nanosPerUnit = 60e9
        case "S": nanosPerUnit = 1e9
        case "m": nanosPerUnit = 1e6
        case "u": nanosPerUnit = 1e3
        case "n": nanosPerUnit = 1
        default: return nil
        }
        let millis = (Double(amount) * nanosPerUnit / 1e6).rounded(.up)
        return Int(min(max(millis, 1), 86_400_000))
    }
}
