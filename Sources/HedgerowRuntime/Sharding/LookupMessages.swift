import Foundation
import HedgerowCore

/// The lookup protocol between an entry and a parameter-server part: one request per shard per inference, carrying
/// the deduplicated global rows of every table that shard holds, answered with their float32 values. Binary and
/// little-endian, so that rows move as they are stored:
///
///     request  = "HLQ1" digest:str8 tableCount:u16 { name:str16 count:u32 row:i64 × count } × tableCount
///     response = "HLA1" tableCount:u16 { count:u32 width:u32 value:f32 × (count × width) } × tableCount
///     str8 / str16 = a u8 / u16 byte length, then UTF-8
///
/// `digest` names the part's exact content (model version and layout): a shard holding other content answers 409,
/// so a rollout never mixes versions. Decoding is for hostile bytes: every count is checked against the bytes left
/// (with overflow-checked products) before anything is allocated, and trailing bytes are refused.
public enum LookupMessages {
    public struct TableRows: Sendable, Equatable {
        public var table: String
        /// Global rows, in `0..<rows`.
        public var rows: [Int64]
        public init(table: String, rows: [Int64]) { (self.table, self.rows) = (table, rows) }
    }

    public struct Request: Sendable, Equatable {
        public var digest: String
        public var tables: [TableRows]
        public init(digest: String, tables: [TableRows]) { (self.digest, self.tables) = (digest, tables) }
    }

    public struct Values: Sendable, Equatable {
        public var width: Int
        /// `count × width` floats: the requested rows in request order.
        public var values: [Float]
        public init(width: Int, values: [Float]) { (self.width, self.values) = (width, values) }
    }

    public static let contentType = "application/x-hedgerow-lookup"
    static let maxTables = 1024

    public static func encode(_ request: Request) -> Data {
        var out = Data("HLQ1".utf8)
        let digest = Array(request.digest.utf8.prefix(255))
        out.append(UInt8(digest.count))
        out.append(contentsOf: digest)
        append(UInt16(clamping: request.tables.count), to: &out)
        for table in request.tables.prefix(Int(UInt16.max)) {
            let name = Array(table.table.utf8.prefix(Int(UInt16.max)))
            append(UInt16(name.count), to: &out)
            out.append(contentsOf: name)
            append(UInt32(clamping: table.rows.count), to: &out)
            for row in table.rows.prefix(Int(UInt32.max)) { append(UInt64(bitPattern: row), to: &out) }
        }
        return out
    }

    public static func decodeRequest(_ data: Data) throws(HedgerowError) -> Request {
        var reader = Reader(data)
        try reader.magic("HLQ1")
        let digest = try reader.string(length: Int(try reader.integer(UInt8.self)))
        let tableCount = Int(try reader.integer(UInt16.self))
        guard tableCount <= maxTables else { throw HedgerowError(.badRequest, "lookup request names \(tableCount) tables; at most \(maxTables)") }
        var tables: [TableRows] = []
        for _ in 0..<tableCount {
            let name = try reader.string(length: Int(try reader.integer(UInt16.self)))
            let count = Int(try reader.integer(UInt32.self))
            try reader.require(count, of: 8, what: "table '\(name)': \(count) rows")
            var rows = [Int64]()
            rows.reserveCapacity(count)
            for _ in 0..<count { rows.append(Int64(bitPattern: try reader.integer(UInt64.self))) }
            tables.append(TableRows(table: name, rows: rows))
        }
        try reader.end()
        return Request(digest: digest, tables: tables)
    }

    public static func encode(_ response: [Values]) -> Data {
        var out = Data("HLA1".utf8)
        append(UInt16(clamping: response.count), to: &out)
        for table in response {
            append(UInt32(clamping: table.width == 0 ? 0 : table.values.count / table.width), to: &out)
            append(UInt32(clamping: table.width), to: &out)
            out.reserveCapacity(out.count + table.values.count * 4)
            for value in table.values { append(value.bitPattern, to: &out) }
        }
        return out
    }

    /// `expected`: the (rows, width) the entry asked for, per table; a response of any other shape is refused.
    public static func decodeResponse(_ data: Data, expected: [(rows: Int, width: Int)]) throws(HedgerowError) -> [Values] {
        var reader = Reader(data)
        try reader.magic("HLA1")
        let count = Int(try reader.integer(UInt16.self))
        guard count == expected.count else {
            throw HedgerowError(.internalError, "lookup answer has \(count) tables, \(expected.count) were asked for")
        }
        var tables: [Values] = []
        for (rows, width) in expected {
            let givenRows = Int(try reader.integer(UInt32.self)), givenWidth = Int(try reader.integer(UInt32.self))
            guard givenRows == rows, givenWidth == width else {
                throw HedgerowError(.internalError, "lookup answer holds \(givenRows) rows of \(givenWidth) values; \(rows) of \(width) were asked for")
            }
            let (elements, overflow) = rows.multipliedReportingOverflow(by: width)
            guard !overflow else { throw HedgerowError(.internalError, "lookup answer of \(rows) × \(width) values cannot be addressed") }
            try reader.require(elements, of: 4, what: "\(rows) rows of \(width) values")
            var values = [Float]()
            values.reserveCapacity(elements)
            for _ in 0..<elements { values.append(Float(bitPattern: try reader.integer(UInt32.self))) }
            tables.append(Values(width: width, values: values))
        }
        try reader.end()
        return tables
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Bounds-checked little-endian reads over hostile bytes.
    private struct Reader {
        let data: Data
        var offset: Int

        init(_ data: Data) {
            self.data = data
            offset = data.startIndex
        }

        var left: Int { data.endIndex - offset }

        mutating func magic(_ text: String) throws(HedgerowError) {
            guard left >= 4, data[offset..<offset + 4].elementsEqual(text.utf8) else {
                throw HedgerowError(.badRequest, "not a Hedgerow lookup message (expected \(text))")
            }
            offset += 4
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(HedgerowError) -> T {
            let size = MemoryLayout<T>.size
            guard left >= size else { throw HedgerowError(.badRequest, "lookup message ends inside a \(size)-byte field") }
            var value: T = 0
            for i in 0..<size { value |= T(data[offset + i]) << (8 * i) }
            offset += size
            return value
        }

        mutating func string(length: Int) throws(HedgerowError) -> String {
            guard left >= length else { throw HedgerowError(.badRequest, "lookup message ends inside a \(length)-byte name") }
            let bytes = data[offset..<offset + length]
            offset += length
            guard let text = String(bytes: bytes, encoding: .utf8) else { throw HedgerowError(.badRequest, "lookup message holds a name that is not UTF-8") }
            return text
        }

        /// `count` items of `size` bytes must be left.
        func require(_ count: Int, of size: Int, what: String) throws(HedgerowError) {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= left else { throw HedgerowError(.badRequest, "lookup message claims \(what) but has \(left) bytes left") }
        }

        func end() throws(HedgerowError) {
            guard left == 0 else { throw HedgerowError(.badRequest, "\(left) bytes follow the lookup message") }
        }
    }
}
