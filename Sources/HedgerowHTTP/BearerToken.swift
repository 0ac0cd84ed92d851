/// `Authorization: Bearer <token>` checks for the admin endpoints of every role.
public enum BearerToken {
    /// Compares in time that depends only on the expected token's length, never on where the first differing
    /// byte is, so response times do not reveal the token byte by byte.
    public static func matches(header: String, expected: String) -> Bool {
        let prefix = "Bearer "
        guard header.hasPrefix(prefix) else { return false }
        let given = Array(header.utf8.dropFirst(prefix.utf8.count))
        let wanted = Array(expected.utf8)
        var difference = UInt8(given.count == wanted.count ? 0 : 1)
        for i in 0..<wanted.count {
            difference |= wanted[i] ^ (i < given.count ? given[i] : 0)
        }
        return difference == 0
    }
}
