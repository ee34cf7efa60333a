/// `/proc/meminfo`: every field, named as node_exporter names them (`node_memory_<Field>_bytes`
/// for fields in kB, `node_memory_<Field>` for counts such as `HugePages_Total`).
public enum MemoryInfo {
    public static func families(fromMeminfo text: String) throws(CollectorError) -> [MetricFamily] {
        var result: [MetricFamily] = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = PrometheusNames.sanitizedNamePart(line[..<colon])
            let columns = fields(line[line.index(after: colon)...])
            guard !field.isEmpty, let first = columns.first, let number = Double(first) else { continue }
            let isKilobytes = columns.count > 1 && columns[1].lowercased() == "kb"
            let name = isKilobytes ? "node_memory_\(field)_bytes" : "node_memory_\(field)"
            result.append(
                MetricFamily(
                    name: name, type: .gauge, help: "Memory information field \(field).",
                    value: isKilobytes ? number * 1024 : number))
        }
        guard result.contains(where: { $0.name == "node_memory_MemTotal_bytes" }) else {
            throw CollectorError("no MemTotal in /proc/meminfo")
        }
        return result
    }
}
