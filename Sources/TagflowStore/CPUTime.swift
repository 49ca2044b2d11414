#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU time used so far, user and system: by the calling thread (`CLOCK_THREAD_CPUTIME_ID`) or by the
/// whole process, every thread (`CLOCK_PROCESS_CPUTIME_ID`).
public func cpuTime(_ clock: clockid_t) -> Duration {
    var time = timespec()
    clock_gettime(clock, &time)
    return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
}
