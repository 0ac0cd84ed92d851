import NIOCore

/// What identifies "the same request" when a client sends it again: the model, the upstream path (version
/// pinned) and a 64-bit hash of the body. Used to quarantine queries of death; never a security boundary (the
/// hash is fast, not collision resistant: a collision can only make the router refuse or exonerate a request
/// it would otherwise have sent).
struct RequestFingerprint: Hashable, Sendable, CustomStringConvertible {
    let model: String
    let hash: UInt64

    init(model: String, target: String, body: ByteBuffer) {
        self.model = model
        var hasher = Hash64()
        hasher.combine(target.utf8)
        body.withUnsafeReadableBytes { hasher.combine($0) }
        self.hash = hasher.value
    }

    init(model: String, hash: UInt64) {
        self.model = model
        self.hash = hash
    }

    /// `model/0123456789abcdef`: what the router logs and answers, so an operator can find the request.
    var description: String {
        let hex = String(hash, radix: 16)
        return "\(model)/\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }
}

/// A word-at-a-time multiply-xorshift hash (8 bytes per step): fast enough to run on every request body.
struct Hash64 {
    private(set) var value: UInt64 = 0x9E37_79B9_7F4A_7C15

    mutating func combine<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for byte in bytes { mix(UInt64(byte)) }
        mix(0xFF)  // a separator, so ("ab", "c") and ("a", "bc") differ
    }

    mutating func combine(_ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset + 8 <= buffer.count {
            mix(UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < buffer.count {
            tail |= UInt64(buffer[offset]) << shift
            shift += 8
            offset += 1
        }
        mix(tail ^ (UInt64(buffer.count) << 56))
    }

    private mutating func mix(_ word: UInt64) {
        var h = (value ^ word) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        value = h &* 0x94D0_49BB_1331_11EB
        value ^= value >> 29
    }
}
