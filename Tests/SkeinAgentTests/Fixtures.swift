import SkeinAgent

/// The committed fixture trees under Tests/SkeinAgentTests/Fixtures, found from this file's path so
/// no resource bundle is needed.
enum Fixture {
    static let directory: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
    }()

    static let hostA = SystemFiles(procRoot: directory + "/host-a/proc", sysRoot: directory + "/host-a/sys")

    static func text(_ relativePath: String) throws -> String {
        try SystemFiles.read(directory + "/" + relativePath)
    }
}

extension MetricFamily {
    /// The value of the sample whose labels include all of `labels`.
    func value(_ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in labels.allSatisfy { sample.label($0.key) == $0.value } }?.value
    }
}
