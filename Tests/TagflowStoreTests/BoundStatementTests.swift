import Foundation
import GRDB
import GRDBSQLite
import Testing
@testable import TagflowStore

/// Values bound through SQLite's C interface arrive as they were, and a refused row says why.
@Suite struct BoundStatementTests {
    @Test func textsNumbersAndNullsArriveAsBound() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(a TEXT, b INTEGER, c TEXT)")
            let insert = BoundStatement(try db.cachedStatement(sql: "INSERT INTO t(a, b, c) VALUES (?, ?, ?)"))
            try insert.execute(db, .text("玻尿酸 \"quoted\""), .int(-42), .null)
            try insert.execute(db, .text(""), .int(Int64.max), .text(String?.none))
            let rows = try Row.fetchAll(db, sql: "SELECT a, b, c FROM t ORDER BY rowid")
            #expect(rows.map { $0[0] as String } == ["玻尿酸 \"quoted\"", ""])
            #expect(rows.map { $0[1] as Int64 } == [-42, Int64.max])
            #expect(rows.allSatisfy { $0[2] == nil })
        }
    }

    /// Texts and blobs are lent to SQLite, not copied: each must still be what was bound when the row is
    /// written — short ones (kept inside the string), long ones, ones made for the call — and nothing of
    /// them may stay bound once the call returns.
    @Test func lentTextsAndBlobsArriveWholeAndStayNoLongerThanTheCall() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(a TEXT, b BLOB, c TEXT, d TEXT, e BLOB)")
            let sql = "INSERT INTO t(a, b, c, d, e) VALUES (?, ?, ?, ?, ?)"
            let insert = BoundStatement(try db.cachedStatement(sql: sql))
            var expected: [[String]] = []
            for n in 0..<200 {
                let long = String(repeating: "热玛吉-\(n)-", count: n % 7 * 9)
                let blob = (0..<(n % 5 * 40)).map { UInt8(truncatingIfNeeded: $0 &* n) }
                // Text given as bytes too: a slice in the middle of a larger array, and an empty one.
                let d = String(n) + "\u{301}é"
                let framed = Array("<<\(d)>>".utf8)
                let a: BoundValue = n.isMultiple(of: 9) ? .utf8([]) : .text("s\(n)")
                try insert.execute(db, a, .blob(blob), .text(long), n.isMultiple(of: 2) ? .text(d) : .utf8(framed[2..<framed.count - 2]),
                                   .blob([]))
                expected.append([n.isMultiple(of: 9) ? "" : "s\(n)", blob.map(String.init).joined(separator: ","), long, d])
            }
            let rows = try Row.fetchAll(db, sql: "SELECT a, b, c, d, length(e) FROM t ORDER BY rowid")
            #expect(rows.map { [$0[0] as String, [UInt8]($0[1] as Data? ?? Data()).map(String.init).joined(separator: ","),
                                $0[2] as String, $0[3] as String] } == expected)
            #expect(rows.allSatisfy { $0[4] as Int? == 0 })

            // The same statement run again with nothing bound: every parameter was cleared, none points at
            // bytes that are gone.
            let handle = try db.cachedStatement(sql: sql).sqliteStatement
            #expect(sqlite3_step(handle) == SQLITE_DONE)
            sqlite3_reset(handle)
            let last = try Row.fetchOne(db, sql: "SELECT a, b, c, d, e FROM t ORDER BY rowid DESC LIMIT 1")
            #expect((0..<5).allSatisfy { last?[$0] == nil })
        }
    }

    @Test func aRefusedRowThrowsSQLitesReasonAndTheStatement() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(a TEXT NOT NULL)")
            let insert = BoundStatement(try db.cachedStatement(sql: "INSERT INTO t(a) VALUES (?)"))
            #expect {
                try insert.execute(db, .null)
            } throws: { error in
                let error = error as? DatabaseError
                return error?.resultCode == .SQLITE_CONSTRAINT && error?.message?.contains("NOT NULL") == true
                    && error?.sql == "INSERT INTO t(a) VALUES (?)"
            }
            try insert.execute(db, .text("kept"))  // the statement is usable again
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t") == 1)
        }
    }
}
