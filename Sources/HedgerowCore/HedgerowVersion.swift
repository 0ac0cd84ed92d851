/// The version every process reports: in `GET /v2` (KServe server metadata) and in `hedgerow_build_info`.
public enum HedgerowVersion {
    public static let current = "0.1.0"
}
