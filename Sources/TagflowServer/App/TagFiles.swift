import Foundation
import TagflowCore

/// Reads tag files: every `.tags` file of a directory (sorted by name), or one file.
public enum TagFiles {
    public static func read(_ path: String) throws -> [RuleSource] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError("\(path) does not exist")
        }
        let paths: [String]
        if isDirectory.boolValue {
            paths = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".tags") }.sorted()
                .map { (path as NSString).appendingPathComponent($0) }
            if paths.isEmpty { throw ConfigError("\(path) holds no .tags files") }
        } else {
            paths = [path]
        }
        return try paths.map { file in
            do {
                return RuleSource(name: file, text: try String(contentsOfFile: file, encoding: .utf8))
            } catch {
                throw ConfigError("cannot read \(file): \(error.localizedDescription)")
            }
        }
    }
}
