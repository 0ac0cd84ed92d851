#if canImport(Glibc)
import Glibc
#endif

/// Background work that must never slow served requests (a canary's mirrored requests on a worker, their
/// comparison on a router) runs on threads with the lowest CPU priority: when the cores are busy, the kernel runs
/// the served threads first (at nice 19 a thread gets about 1/70 of a nice-0 thread's share), and when they are
/// idle the background work still gets all of them.
public enum BackgroundPriority {
    /// Gives the calling thread nice 19. On Linux the nice value is a per-thread attribute, so this touches no other
    /// thread; raising it needs no privilege. Cheap (one system call): callers on pooled threads call it per work item.
    /// Returns false where it is not supported or was refused.
    @discardableResult
    public static func lowerCurrentThread() -> Bool {
        #if os(Linux)
        return setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) == 0
        #else
        return false
        #endif
    }
}
