import GRDB
import GRDBSQLite

/// A prepared statement run with its values bound straight through SQLite's C interface, for the rows
/// written many times a commit (every tag change writes two): building GRDB's `StatementArguments` for
/// each row cost more than the write itself. Only inside a transaction GRDB opened, on its connection.
struct BoundStatement {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }

    init(_ statement: Statement) {
        self.statement = statement
    }

    /// Binds `values` to the parameters, in order, and runs the statement once.
    func execute(_ db: Database, _ values: BoundValue...) throws {
        try execute(db, values)
    }

    /// Binds `values` to the parameters, in order, and runs the statement once. Texts and blobs are bound
    /// where they are, not copied (SQLite copied each one into memory of its own, ~6 % of the writer with
    /// tags live): each is bound inside the call that lends its bytes, the next ones inside that, the
    /// statement runs innermost — and its parameters are cleared before the bytes go.
    func execute(_ db: Database, _ values: [BoundValue]) throws {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try values.withUnsafeBufferPointer { try bindAndStep($0, from: 0, db) }
    }

    private func bindAndStep(_ values: UnsafeBufferPointer<BoundValue>, from i: Int, _ db: Database) throws {
        guard i < values.count else {
            let code = sqlite3_step(handle)
            guard code == SQLITE_DONE else { throw error(code, db) }
            return
        }
        let index = Int32(i + 1)
        func check(_ code: Int32) throws {
            guard code == SQLITE_OK else { throw error(code, db) }
        }
        switch values[i] {
        case .null: try check(sqlite3_bind_null(handle, index))
        case .int(let n): try check(sqlite3_bind_int64(handle, index, n))
        case .double(let x): try check(sqlite3_bind_double(handle, index, x))
        case .text(var text):
            return try text.withUTF8 { try bindText(UnsafeRawBufferPointer($0), at: index, thenStep: values, from: i + 1, db) }
        case .utf8(let bytes):
            return try bytes.withUnsafeBytes { try bindText($0, at: index, thenStep: values, from: i + 1, db) }
        case .blob(let bytes) where bytes.isEmpty: try check(sqlite3_bind_zeroblob(handle, index, 0))
        case .blob(let bytes):
            return try bytes.withUnsafeBytes { raw in
                try check(sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), Self.lent))
                try bindAndStep(values, from: i + 1, db)
            }
        }
        try bindAndStep(values, from: i + 1, db)
    }

    /// Binds text lent as its UTF-8 bytes (an empty text as SQLite's own empty string), then the values from
    /// `next` on, and runs the statement — all while the bytes are lent.
    private func bindText(
        _ bytes: UnsafeRawBufferPointer, at index: Int32, thenStep values: UnsafeBufferPointer<BoundValue>, from next: Int,
        _ db: Database
    ) throws {
        let code = if let base = bytes.baseAddress, !bytes.isEmpty {
            sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), Self.lent)
        } else {
            sqlite3_bind_text(handle, index, "", 0, Self.transient)
        }
        guard code == SQLITE_OK else { throw error(code, db) }
        try bindAndStep(values, from: next, db)
    }

    /// The rowid of the last row inserted on `db`'s connection (GRDB's `lastInsertedRowID`, without its
    /// check of the calling queue, which cost more than the read).
    static func lastInsertedRowID(_ db: Database) -> Int64 {
        sqlite3_last_insert_rowid(db.sqliteConnection)
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the binding call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    /// SQLITE_STATIC: SQLite reads the bytes where they are, until the parameter is bound again or cleared.
    private static let lent: sqlite3_destructor_type? = nil

    private func error(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
            sql: statement.sql)
    }
}

/// A value for a ``BoundStatement`` parameter.
enum BoundValue {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    /// Text given as its UTF-8 bytes, which must be well-formed.
    case utf8(ArraySlice<UInt8>)
    case blob([UInt8])

    static func text(_ text: String?) -> BoundValue { text.map(BoundValue.text) ?? .null }
    static func int(_ n: Int64?) -> BoundValue { n.map(BoundValue.int) ?? .null }

    static func value(_ value: some DatabaseValueConvertible) -> BoundValue {
        switch value.databaseValue.storage {
        case .null: .null
        case .int64(let n): .int(n)
        case .double(let x): .double(x)
        case .string(let text): .text(text)
        case .blob(let data): .blob([UInt8](data))
        }
    }
}
