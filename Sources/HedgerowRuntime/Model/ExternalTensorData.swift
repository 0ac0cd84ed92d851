import Foundation
import HedgerowCore

/// ONNX external data: an initializer whose bytes live in a file beside the model, named by the tensor's
/// `external_data` entries `location` (a path relative to the model's directory), `offset` and `length`. It is
/// how ONNX stores models past protobuf's 2 GiB limit, and how a parameter-server part reads only its rows of a
/// table.
///
/// The entries are the model file's, so hostile. What holds before a byte is read: the location is relative, has
/// no `..` component and resolves (links followed) to a regular file inside the model's real directory; offset and
/// length are decimal integers; the length, when given, is exactly what the tensor's shape and datatype need; and
/// offset + length lies within the file (checked arithmetic). Only those bytes are read, never the whole file.
/// Every refusal is `.loadFailed` naming the initializer and the entry.
enum ExternalTensorData {
    /// Where a tensor's bytes are.
    struct Location: Equatable {
        var path: String
        var offset: Int
        var length: Int
    }

    /// Bytes per element in raw form, for the datatypes an initializer may have (strings cannot be external).
    static func elementBytes(_ dataType: Int32) -> Int? {
        [1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2][dataType]
    }

    /// The tensor with its external bytes read into `raw_data`, ready for `TensorDecoding`.
    static func inlined(_ proto: Onnx_TensorProto, directory: String?, what: String) throws(HedgerowError) -> Onnx_TensorProto {
        let location = try locate(proto, directory: directory, what: what)
        var inline = proto
        inline.rawData = try read(location, what: what)
        inline.externalData = []
        inline.dataLocation = .default
        return inline
    }

    /// Checks every entry and the file, and says where the bytes are.
    static func locate(_ proto: Onnx_TensorProto, directory: String?, what: String) throws(HedgerowError) -> Location {
        guard let directory else {
            throw HedgerowError(.loadFailed, "\(what): its data is in an external file, which a model loaded from bytes cannot reach; load it from its file")
        }
        var entries: [String: String] = [:]
        for entry in proto.externalData {
            guard entries[entry.key] == nil else { throw HedgerowError(.loadFailed, "\(what): external_data names '\(entry.key)' twice") }
            entries[entry.key] = entry.value
        }
        guard let name = entries["location"], !name.isEmpty else {
            throw HedgerowError(.loadFailed, "\(what): external_data has no 'location'")
        }
        guard !name.hasPrefix("/"), !name.utf8.contains(0), !name.split(separator: "/").contains("..") else {
            throw HedgerowError(.loadFailed, "\(what): external data location \(ModelName.quoted(name)) must be a path inside the model's directory (relative, without '..')")
        }
        guard let realDirectory = ModelRepository.realPath(directory) else {
            throw HedgerowError(.loadFailed, "\(what): the model's directory \(directory) cannot be read")
        }
        guard let real = ModelRepository.realPath("\(realDirectory)/\(name)") else {
            throw HedgerowError(.loadFailed, "\(what): external data file \(ModelName.quoted(name)) does not exist beside the model")
        }
        guard ModelRepository.isInside(real, realDirectory) else {
            throw HedgerowError(.loadFailed, "\(what): external data file \(ModelName.quoted(name)) is a link that resolves outside the model's directory")
        }
        var status = stat()
        guard stat(real, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw HedgerowError(.loadFailed, "\(what): external data file \(ModelName.quoted(name)) is not a regular file")
        }
        let fileSize = Int(status.st_size)
        func number(_ key: String) throws(HedgerowError) -> Int? {
            guard let text = entries[key] else { return nil }
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let value = Int(text) else {
                throw HedgerowError(.loadFailed, "\(what): external_data '\(key)' is \(ModelName.quoted(text)), not a byte count")
            }
            return value
        }
        let offset = try number("offset") ?? 0
        let shape = proto.dims.map { Int($0) }
        let count = try TensorLimits.count(shape, what: what, kind: .loadFailed)
        guard let width = elementBytes(proto.dataType) else {
            throw HedgerowError(.loadFailed, "\(what): datatype \(ElementType.onnxName(proto.dataType)) cannot be stored as external data")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow else { throw HedgerowError(.loadFailed, "\(what): shape \(shape) needs more bytes than can be addressed") }
        if let length = try number("length"), length != needed {
            throw HedgerowError(.loadFailed, "\(what): external_data 'length' is \(length) bytes but shape \(shape) of \(ElementType.onnxName(proto.dataType)) needs \(needed)")
        }
        let (end, past) = offset.addingReportingOverflow(needed)
        guard !past, end <= fileSize else {
            throw HedgerowError(.loadFailed, "\(what): external data at offset \(offset) needs \(needed) bytes but \(ModelName.quoted(name)) has \(fileSize)")
        }
        return Location(path: real, offset: offset, length: needed)
    }

    /// Exactly the location's bytes.
    static func read(_ location: Location, what: String) throws(HedgerowError) -> Data {
        guard location.length > 0 else { return Data() }
        guard let file = FileHandle(forReadingAtPath: location.path) else {
            throw HedgerowError(.loadFailed, "\(what): cannot open external data file \(location.path)")
        }
        defer { try? file.close() }
        do {
            try file.seek(toOffset: UInt64(location.offset))
            let bytes = try file.read(upToCount: location.length) ?? Data()
            guard bytes.count == location.length else {
                throw HedgerowError(.loadFailed, "\(what): external data file \(location.path) ended after \(bytes.count) of \(location.length) bytes (did it shrink while loading?)")
            }
            return bytes
        } catch let error as HedgerowError {
            throw error
        } catch {
            throw HedgerowError(.loadFailed, "\(what): cannot read external data file \(location.path): \(error.localizedDescription)")
        }
    }
}
