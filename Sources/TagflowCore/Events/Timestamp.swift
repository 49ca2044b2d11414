/// Milliseconds since 1970-01-01T00:00:00Z: the one time unit Tagflow stores and computes with.
public typealias EpochMillis = Int64

/// Parsing and printing of ISO 8601 / RFC 3339 timestamps as senders write them.
public enum Timestamp {
    /// Parses `2026-11-23T08:15:00Z`, `…T08:15:00.123456+08:00`, `…+0800`, a space instead of `T`,
    /// 0–9 fraction digits, and no zone (read as UTC). Returns nil for anything else.
    public static func parse(_ text: String) -> EpochMillis? {
        var text = text
        return text.withUTF8(parse(utf8:))  // no array of the bytes: every event has a timestamp or two
    }

    private static func parse(utf8 text: UnsafeBufferPointer<UInt8>) -> EpochMillis? {
        var end = text.count
        while end > 0, text[end - 1] == 0x20 { end -= 1 }
        let utf8 = UnsafeBufferPointer(rebasing: text[..<end])
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= utf8.count else { return nil }
            var value = 0
            for k in 0..<count {
                let byte = utf8[i + k]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            i += count
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < utf8.count, utf8[i] == byte else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
            let day = digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var millis = 0
        var offsetMinutes = 0
        if i < utf8.count {
            guard utf8[i] == UInt8(ascii: "T") || utf8[i] == UInt8(ascii: "t") || utf8[i] == 0x20 else { return nil }
            i += 1
            guard let h = digits(2), expect(UInt8(ascii: ":")), let m = digits(2) else { return nil }
            hour = h
            minute = m
            if expect(UInt8(ascii: ":")) {
                guard let s = digits(2) else { return nil }
                second = s
                if expect(UInt8(ascii: ".")) || expect(UInt8(ascii: ",")) {
                    var count = 0
                    var fraction = 0
                    while i < utf8.count, utf8[i] >= 0x30, utf8[i] <= 0x39 {
                        if count < 3 { fraction = fraction * 10 + Int(utf8[i] - 0x30) }
                        count += 1
                        i += 1
                    }
                    guard (1...9).contains(count) else { return nil }
                    if count < 3 { for _ in count..<3 { fraction *= 10 } }
                    millis = fraction
                }
            }
            guard hour < 24, minute < 60, second < 61 else { return nil }
            if i < utf8.count {
                let sign = utf8[i]
                if sign == UInt8(ascii: "Z") || sign == UInt8(ascii: "z") {
                    i += 1
                } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                    i += 1
                    guard let oh = digits(2) else { return nil }
                    _ = expect(UInt8(ascii: ":"))
                    let om = digits(2) ?? 0
                    guard oh < 24, om < 60 else { return nil }
                    offsetMinutes = (oh * 60 + om) * (sign == UInt8(ascii: "-") ? -1 : 1)
                } else {
                    return nil
                }
            }
        }
        guard i == utf8.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59))
            - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }

    /// `2026-11-23T08:15:00.123Z`: UTC with millisecond precision.
    public static func format(_ millis: EpochMillis) -> String {
        let totalSeconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - totalSeconds * 1000)
        let days = totalSeconds >= 0 ? totalSeconds / 86_400 : (totalSeconds - 86_399) / 86_400
        let secondOfDay = Int(totalSeconds - days * 86_400)
        let (y, m, d) = civilFromDays(Int(days))
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(ms, 3))Z"
    }

    static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
