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

    /// Binds `values` to the parameters, in order, and runs the statement once.
    func execute(_ db: Database, _ values: [BoundValue]) throws {
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let code: Int32 = switch value {
            case .null: sqlite3_bind_null(handle, index)
            case .int(let n): sqlite3_bind_int64(handle, index, n)
            case .double(let x): sqlite3_bind_double(handle, index, x)
            case .text(let text): Self.bind(text, at: index, of: handle)
            case .blob(let bytes) where bytes.isEmpty: sqlite3_bind_zeroblob(handle, index, 0)
            case .blob(let bytes):
                bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }
            }
            guard code == SQLITE_OK else { throw error(code, db) }
        }
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw error(code, db) }
    }

    private static func bind(_ text: String, at index: Int32, of handle: OpaquePointer) -> Int32 {
        guard !text.isEmpty else { return sqlite3_bind_text(handle, index, "", 0, Self.transient) }
        var text = text
        return text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                sqlite3_bind_text(handle, index, chars.baseAddress, Int32(chars.count), Self.transient)
            }
        }
    }

    /// The rowid of the last row inserted on `db`'s connection (GRDB's `lastInsertedRowID`, without its
    /// check of the calling queue, which cost more than the read).
    static func lastInsertedRowID(_ db: Database) -> Int64 {
        sqlite3_last_insert_rowid(db.sqliteConnection)
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the binding call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

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
