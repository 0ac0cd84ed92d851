import HedgerowCore

/// The life of one model version on a worker, as a value: events return what the manager must do.
///
/// ```
///   load ──▶ LOADING ──loaded──▶ AVAILABLE ──unload──▶ UNLOADING ──last request done──▶ (removed)
///               │                    ▲                    │
///               └──failed──▶ FAILED ─┘ (load again)       └──load again──▶ AVAILABLE (nothing was dropped)
/// ```
/// Invariants: a version is removed only when UNLOADING, no request holds it (reference counted) and no load is
/// running, so an unload never drops an in-flight request; at most one load runs at a time.
struct ModelLifecycle: Sendable, Equatable {
    private(set) var state: ModelVersionState = .loading
    private(set) var error: String?
    private(set) var inFlight = 0
    private(set) var loadInProgress = true

    enum Action: Equatable {
        case none
        /// Start reading and compiling the model off the serving threads.
        case startLoad
        /// Drop the model from memory.
        case remove
    }

    /// A new lifecycle begins in LOADING with its load started by the caller.
    init() {}

    mutating func loadRequested() -> Action {
        switch state {
        case .loading, .available:
            return .none
        case .failed:
            state = .loading
            error = nil
            loadInProgress = true
            return .startLoad
        case .unloading:
            // Still in memory (or still loading): cancel the unload.
            state = loadInProgress ? .loading : .available
            return .none
        }
    }

    mutating func loadFinished(error loadError: String?) -> Action {
        loadInProgress = false
        switch state {
        case .loading:
            if let loadError {
                state = .failed
                error = loadError
            } else {
                state = .available
            }
            return .none
        case .unloading:
            return inFlight == 0 ? .remove : .none
        case .available, .failed:
            return .none
        }
    }

    mutating func unloadRequested() -> Action {
        switch state {
        case .failed:
            return .remove
        case .unloading:
            return .none
        case .loading:
            state = .unloading
            return .none
        case .available:
            state = .unloading
            return inFlight == 0 ? .remove : .none
        }
    }

    /// Whether a request may use the version now; if so it holds a reference until `requestFinished`.
    mutating func requestStarted() -> Bool {
        guard state == .available else { return false }
        inFlight += 1
        return true
    }

    mutating func requestFinished() -> Action {
        inFlight -= 1
        return state == .unloading && inFlight == 0 && !loadInProgress ? .remove : .none
    }
}
