import Foundation

extension BenchArguments {
    /// Parses "1,10,50" into positive counts, in the order given (duplicates kept: measuring a
    /// size twice is a legitimate way to see run-to-run spread).
    public static func countList(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let counts = parts.compactMap { Int($0) }
        guard !parts.isEmpty, counts.count == parts.count, counts.allSatisfy({ $0 > 0 }) else {
            throw BenchError("invalid list '\(text)': use positive whole numbers separated by commas, e.g. 1,10,50")
        }
        return counts
    }
}
