import Foundation

/// Calendar boundaries (days, Monday-started weeks, months) in the workspace time zone, in epoch millis.
///
/// Zones without daylight saving (Asia/Shanghai, the default) take a fixed-offset fast path; others ask the
/// time zone database for the offset at each moment.
public struct WorkspaceCalendar: Sendable {
    public let timeZone: TimeZone
    private let fixedOffset: Int64?

    public static let defaultTimeZoneID = "Asia/Shanghai"

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
        let probe = Date(timeIntervalSince1970: 1_700_000_000)
        let hasTransitions = timeZone.nextDaylightSavingTimeTransition(after: probe) != nil
            || timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: 1_000_000_000)) != nil
        fixedOffset = hasTransitions ? nil : Int64(timeZone.secondsFromGMT(for: probe)) * 1000
    }

    /// The calendar of a zone named like `Asia/Shanghai`; nil for an unknown name.
    public init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.init(timeZone: zone)
    }

    /// Asia/Shanghai (UTC+8, no daylight saving).
    public static let shanghai = WorkspaceCalendar(timeZone: TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt)

    private static let day: Int64 = 86_400_000

    private func offset(at utc: EpochMillis) -> Int64 {
        if let fixedOffset { return fixedOffset }
        return Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utc) / 1000))) * 1000
    }

    /// The local civil day number (days since 1970-01-01 local) of a moment.
    private func localDay(_ t: EpochMillis) -> Int64 {
        floorDiv(t + offset(at: t), Self.day)
    }

    /// The moment local midnight starts on a local day number.
    private func midnight(ofLocalDay day: Int64) -> EpochMillis {
        let local = day * Self.day
        let guess = local - offset(at: local)
        return local - offset(at: guess)
    }

    public func startOfDay(_ t: EpochMillis) -> EpochMillis { midnight(ofLocalDay: localDay(t)) }

    /// The start of the calendar window containing `t`.
    public func start(of window: TimeWindow, at t: EpochMillis) -> EpochMillis {
        let today = localDay(t)
        switch window {
        case .calendarDays(let days): return midnight(ofLocalDay: today - Int64(days - 1))
        case .thisWeek:
            // 1970-01-01 was a Thursday: day 0 → weekday index 3 with Monday as 0.
            let weekday = floorMod(today + 3, 7)
            return midnight(ofLocalDay: today - weekday)
        case .thisMonth:
            let civil = Timestamp.civilFromDays(Int(today))
            return midnight(ofLocalDay: Int64(Timestamp.daysFromCivil(year: civil.year, month: civil.month, day: 1)))
        default: return .min
        }
    }

    /// The next moment after `t` at which a calendar window's start moves.
    public func nextBoundary(of window: TimeWindow, after t: EpochMillis) -> EpochMillis {
        let today = localDay(t)
        switch window {
        case .calendarDays: return midnight(ofLocalDay: today + 1)
        case .thisWeek:
            let weekday = floorMod(today + 3, 7)
            return midnight(ofLocalDay: today - weekday + 7)
        case .thisMonth:
            let civil = Timestamp.civilFromDays(Int(today))
            let (year, month) = civil.month == 12 ? (civil.year + 1, 1) : (civil.year, civil.month + 1)
            return midnight(ofLocalDay: Int64(Timestamp.daysFromCivil(year: year, month: month, day: 1)))
        default: return .max
        }
    }
}

@inline(__always) func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always) func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }
