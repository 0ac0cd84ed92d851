/// Which version of a model a client asked for.
public enum VersionSelector: Hashable, Sendable {
    /// No version in the URL: the model's default (highest available) version.
    case latest
    case version(ModelVersion)
    /// `/labels/{l}` in the TensorFlow Serving API, resolved by the router through the routing table.
    case label(String)
}
