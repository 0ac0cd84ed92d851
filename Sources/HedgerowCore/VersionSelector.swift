/// Which version of a model a client asked for.
public enum VersionSelector: Hashable, Sendable {
    /// No version in the URL: the model's default version (its `stable` label's, else the highest routable one), or its
    /// canary for the canary's share of request ids.
    case latest
    case version(ModelVersion)
    /// `/labels/{l}` in the TensorFlow Serving API, resolved by the router through the routing table.
    case label(String)
}
