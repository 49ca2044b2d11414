/// A place in a rule text: line and column, both counted from 1, columns in characters.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// One word, number, string or symbol of a rule text.
struct RuleToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case word(String)
        case number(Double)
        case string(String)
        /// `( ) [ ] , . + - * / % = == != < <= > >= ->`
        case symbol(String)
        case end
    }

    var kind: Kind
    var location: SourceLocation
    /// The token is the first one on its line: clause keywords (`when`, `case`, ...) only count there.
    var startsLine: Bool

    func isWord(_ w: String) -> Bool {
        if case .word(let x) = kind { return x == w }
        return false
    }

    func isSymbol(_ s: String) -> Bool {
        if case .symbol(let x) = kind { return x == s }
        return false
    }

    var word: String? {
        if case .word(let x) = kind { return x }
        return nil
    }

    /// How the token reads in an error message.
    var spelling: String {
        switch kind {
        case .word(let w): "`\(w)`"
        case .number(let n): "`\(RuleValue.format(n))`"
        case .string(let s): "\"\(s)\""
        case .symbol(let s): "`\(s)`"
        case .end: "the end of the text"
        }
    }
}

/// Splits a rule text into tokens. Problems (an unclosed string, a stray character) become diagnostics;
/// lexing goes on after them so that every problem is reported at once.
struct RuleLexer {
    private let chars: [Character]
    private var index = 0
    private var line = 1
    private var column = 1
    private var lineHasToken = false
    private(set) var diagnostics: [RuleDiagnostic] = []

    init(_ text: String) {
        chars = Array(text)
    }

    static func tokens(of text: String) -> (tokens: [RuleToken], diagnostics: [RuleDiagnostic]) {
        var lexer = RuleLexer(text)
        var tokens: [RuleToken] = []
        while true {
            let token = lexer.next()
            tokens.append(token)
            if token.kind == .end { break }
        }
        return (tokens, lexer.diagnostics)
    }

    private var current: Character? { index < chars.count ? chars[index] : nil }
    private func peek(_ offset: Int = 1) -> Character? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    private mutating func advance() {
        if chars[index] == "\n" {
            line += 1
            column = 1
            lineHasToken = false
        } else {
            column += 1
        }
        index += 1
    }

    private mutating func next() -> RuleToken {
        skipSpaceAndComments()
        let location = SourceLocation(line: line, column: column)
        let startsLine = !lineHasToken
        lineHasToken = true
        func token(_ kind: RuleToken.Kind) -> RuleToken {
            RuleToken(kind: kind, location: location, startsLine: startsLine)
        }
        guard let c = current else { return token(.end) }
        if c.isLetter || c == "_" {
            var word = ""
            while let c = current, c.isLetter || c.isNumber || c == "_" {
                word.append(c)
                advance()
            }
            return token(.word(word))
        }
        if c.isASCII, c.isNumber {
            return token(.number(number()))
        }
        if c == "\"" || c == "'" || c == "“" || c == "‘" {
            return token(.string(string(opening: c, at: location)))
        }
        for symbol in ["==", "!=", "<=", ">=", "->", "<>"] where c == symbol.first && peek() == symbol.last {
            advance()
            advance()
            return token(.symbol(symbol == "<>" ? "!=" : symbol))
        }
        if "()[],.+-*/%=<>".contains(c) {
            advance()
            return token(.symbol(String(c)))
        }
        advance()
        diagnostics.append(RuleDiagnostic(
            at: location, "unexpected character `\(c)`",
            suggestion: c == "（" || c == "）" || c == "，" ? "use ASCII punctuation ( ) , outside quotes" : nil))
        return next()
    }

    private mutating func skipSpaceAndComments() {
        while let c = current {
            if c.isWhitespace {
                advance()
            } else if c == "#" || (c == "/" && peek() == "/") {
                while let c = current, c != "\n" { advance() }
            } else {
                return
            }
        }
    }

    private mutating func number() -> Double {
        var text = ""
        while let c = current, c.isASCII, c.isNumber || c == "_" || (c == "." && peek()?.isNumber == true) {
            if c != "_" { text.append(c) }
            advance()
        }
        return Double(text) ?? 0
    }

    private mutating func string(opening: Character, at location: SourceLocation) -> String {
        let closing: Character = switch opening {
        case "“": "”"
        case "‘": "’"
        default: opening
        }
        advance()
        var text = ""
        while let c = current {
            if c == closing {
                advance()
                return text
            }
            if c == "\n" { break }
            if c == "\\", let escaped = peek() {
                advance()
                advance()
                switch escaped {
                case "n": text.append("\n")
                case "t": text.append("\t")
                default: text.append(escaped)
                }
                continue
            }
            text.append(c)
            advance()
        }
        diagnostics.append(RuleDiagnostic(
            at: location, "this text is not closed: a \(closing) is missing before the end of the line"))
        return text
    }
}
