import Glibc

/// A path glob: `*` and `?` within one component, `**` as a whole component for any number of components,
/// `[abc]`, `[a-z]`, `[!a]` classes and `\` escapes. Matching works on bytes because file names need not be
/// UTF-8. Unlike the shell, `*` also matches a leading `.` (as `find -name` does), so `*.log` finds
/// `.hidden.log` too.
public struct Glob: Sendable, Hashable {
    public let pattern: String
    /// Components of the pattern split at `/`; an absolute pattern starts with an empty component.
    let components: [[UInt8]]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.components = pattern.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .enumerated().compactMap { index, part in
                // Keep the leading empty component of an absolute path; drop `//` and a trailing `/`.
                part.isEmpty && index != 0 ? nil : Array(part)
            }
    }

    /// Whether the whole `path` matches.
    public func matches(_ path: String) -> Bool {
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .enumerated().compactMap { index, part in part.isEmpty && index != 0 ? nil : Array(part) }
        return Glob.match(components[...], parts[...])
    }

    private static func match(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == Glob.doubleStar {
            // `**` takes zero or more components; the recursion depth is bounded by the path's length.
            var rest = path
            while true {
                if match(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let component = path.first, matchComponent(first[...], component[...]) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    static let doubleStar: [UInt8] = Array("**".utf8)

    /// Whether a component has no wildcard, so it can be looked up instead of listed.
    static func isLiteral(_ component: [UInt8]) -> Bool {
        !component.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
    }

    /// A literal component with its escapes removed.
    static func unescaped(_ component: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var escaped = false
        for byte in component {
            if !escaped && byte == UInt8(ascii: "\\") {
                escaped = true
                continue
            }
            escaped = false
            out.append(byte)
        }
        return out
    }

    /// Matches one component with backtracking only over the last `*`, which keeps it linear in practice.
    static func matchComponent(_ pattern: ArraySlice<UInt8>, _ name: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex
        var n = name.startIndex
        var starP: Int? = nil
        var starN = name.startIndex
        while n < name.endIndex {
            if p < pattern.endIndex {
                let c = pattern[p]
                if c == UInt8(ascii: "*") {
                    starP = p
                    starN = n
                    p += 1
                    continue
                }
                if c == UInt8(ascii: "?") {
                    p += 1
                    n += 1
                    continue
                }
                if c == UInt8(ascii: "["), let (matched, next) = matchClass(pattern, at: p, byte: name[n]) {
                    if matched {
                        p = next
                        n += 1
                        continue
                    }
                } else {
                    var literal = c
                    var next = p + 1
                    if c == UInt8(ascii: "\\") && p + 1 < pattern.endIndex {
                        literal = pattern[p + 1]
                        next = p + 2
                    }
                    if literal == name[n] {
                        p = next
                        n += 1
                        continue
                    }
                }
            }
            guard let star = starP else { return false }
            p = star + 1
            starN += 1
            n = starN
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    /// A `[...]` class at `start`: whether `byte` is in it and the index after `]`; nil when there is no
    /// closing `]`, so the `[` is a literal as in the shell.
    private static func matchClass(_ pattern: ArraySlice<UInt8>, at start: Int, byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < pattern.endIndex && (pattern[i] == UInt8(ascii: "!") || pattern[i] == UInt8(ascii: "^")) {
            negate = true
            i += 1
        }
        var matched = false
        var first = true
        while i < pattern.endIndex {
            let c = pattern[i]
            if c == UInt8(ascii: "]") && !first { return (matched != negate, i + 1) }
            first = false
            if i + 2 < pattern.endIndex && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
                if c <= byte && byte <= pattern[i + 2] { matched = true }
                i += 3
            } else {
                if c == byte { matched = true }
                i += 1
            }
        }
        return nil
    }
}

/// What one expansion of the globs found: the matching regular files and every directory whose contents
/// decide the result, which are the directories to watch.
struct GlobExpansion {
    var files: [String] = []
    var directories: Set<String> = []
}

extension Glob {
    /// Walks the file system for the files this glob matches. `**` does not follow symbolic links to
    /// directories (a link loop would never end), and the walk stops at `maxDepth` levels below the glob's
    /// literal prefix.
    func expand(into result: inout GlobExpansion, maxDepth: Int = 32) {
        guard let first = components.first else { return }
        let isAbsolute = first.isEmpty
        let start = isAbsolute ? "/" : "."
        walk(
            directory: start, rest: isAbsolute ? components.dropFirst() : components[...], depth: 0,
            maxDepth: maxDepth, into: &result)
    }

    private func walk(
        directory: String, rest: ArraySlice<[UInt8]>, depth: Int, maxDepth: Int, into result: inout GlobExpansion
    ) {
        guard let component = rest.first, depth <= maxDepth else { return }
        let isLast = rest.count == 1
        if component == Glob.doubleStar {
            result.directories.insert(directory)
            walk(directory: directory, rest: rest.dropFirst(), depth: depth, maxDepth: maxDepth, into: &result)
            for (name, type) in listDirectory(directory) where type == .directory {
                walk(
                    directory: join(directory, name), rest: rest, depth: depth + 1, maxDepth: maxDepth,
                    into: &result)
            }
            return
        }
        if Glob.isLiteral(component) {
            let name = String(decoding: Glob.unescaped(component), as: UTF8.self)
            let path = join(directory, name)
            // Watch a directory on the way only where it decides something: the file's own directory, or
            // the deepest existing one while the rest of the path is missing. Watching every ancestor
            // (`/`, `/tmp`) would wake the source for every change there.
            var info = stat()
            if isLast || stat(path, &info) != 0 { result.directories.insert(directory) }
            visit(path: path, isLast: isLast, rest: rest, depth: depth, maxDepth: maxDepth, into: &result)
            return
        }
        result.directories.insert(directory)
        for (name, _) in listDirectory(directory) where Glob.matchComponent(component[...], Array(name.utf8)[...]) {
            visit(
                path: join(directory, name), isLast: isLast, rest: rest, depth: depth, maxDepth: maxDepth,
                into: &result)
        }
    }

    private func visit(
        path: String, isLast: Bool, rest: ArraySlice<[UInt8]>, depth: Int, maxDepth: Int,
        into result: inout GlobExpansion
    ) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        if isLast {
            if (info.st_mode & S_IFMT) == S_IFREG { result.files.append(path) }
        } else if isDirectory {
            walk(directory: path, rest: rest.dropFirst(), depth: depth + 1, maxDepth: maxDepth, into: &result)
        }
    }

    private func join(_ directory: String, _ name: String) -> String {
        directory == "/" ? "/" + name : (directory == "." ? name : directory + "/" + name)
    }
}

enum EntryType { case directory, other }

/// The names in a directory, without `.` and `..`; symbolic links count as `other` so `**` never follows them.
func listDirectory(_ path: String) -> [(String, EntryType)] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var entries: [(String, EntryType)] = []
    while let entry = readdir(dir) {
        // Read the name in place: glibc packs entries by d_reclen, so copying the whole 256-byte d_name
        // field of the last entry can run past the end of its buffer.
        let namePointer = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let name = String(cString: namePointer.assumingMemoryBound(to: CChar.self))
        if name == "." || name == ".." { continue }
        var type: EntryType = entry.pointee.d_type == UInt8(DT_DIR) ? .directory : .other
        if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
            var info = stat()
            let full = path == "/" ? "/" + name : path + "/" + name
            if lstat(full, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { type = .directory }
        }
        entries.append((name, type))
    }
    return entries
}
