import Foundation
import HedgerowCore

/// Watches the desired-state file. `refresh()` rereads it when its content changed; a valid file becomes the
/// state in force, an invalid one is refused (with every problem) and the last valid state stays.
public struct DesiredStateSource: Sendable {
    public let file: String
    public private(set) var current: DesiredState?
    public private(set) var currentHash: String?
    public private(set) var appliedAt: Date?
    /// The last refused edit's problems, kept after a later valid edit so an operator can still see what was
    /// refused and why.
    public private(set) var lastError: String?
    public private(set) var lastErrorAt: Date?
    /// The file as it is on disk now is refused: the state in force is an older one.
    public private(set) var isRefused = false
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
            if lastError == message && isRefused { return .unchanged }
            lastError = message
            lastErrorAt = Date()
            isRefused = true
            lastContent = nil
            return .refused(message)
        }
        if content == lastContent { return .unchanged }
        lastContent = content
        do {
            let state = try DesiredStateParser.parse(contents: content, file: file)
            current = state
            currentHash = Self.hash(content)
            appliedAt = Date()
            isRefused = false
            return .applied
        } catch {
            lastError = error.description
            lastErrorAt = Date()
            isRefused = true
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
