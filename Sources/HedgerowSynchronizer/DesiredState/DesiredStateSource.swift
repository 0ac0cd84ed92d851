import Foundation
import HedgerowCore

/// Watches the desired-state file. `refresh()` rereads it when its content changed; a valid file becomes the
/// state in force, an invalid one is refused (with every problem) and the last valid state stays.
public struct DesiredStateSource: Sendable {
    public let file: String
    public private(set) var current: DesiredState?
    public private(set) var currentHash: String?
    public private(set) var appliedAt: Date?
    /// The last refusal, cleared when a valid file is applied.
    public private(set) var lastError: String?
    private var lastContent: Data?

    public init(file: String) {
        self.file = file
    }

    public enum Change: Equatable {
        case unchanged
        case applied
        case refused(String)
    }

    public mutating func refresh() -> Change {
        guard let content = FileManager.default.contents(atPath: file) else {
            let message = "\(file): cannot read the desired-state file"
            if lastError == message { return .unchanged }
            lastError = message
            lastContent = nil
            return .refused(message)
        }
        if content == lastContent { return .unchanged }
        lastContent = content
        do {
            let state = try DesiredStateParser.parse(String(decoding: content, as: UTF8.self), file: file)
            current = state
            currentHash = Self.hash(content)
            appliedAt = Date()
            lastError = nil
            return .applied
        } catch {
            lastError = error.description
            return .refused(error.description)
        }
    }

    /// FNV-1a 64 of the file: a short, stable fingerprint to show which file is in force.
    static func hash(_ data: Data) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }
}
