import GRDB
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
