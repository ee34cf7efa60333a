/// `/proc/loadavg`: the 1, 5 and 15 minute load averages.
public enum LoadAverage {
    public static func families(fromLoadavg text: String) throws(CollectorError) -> [MetricFamily] {
        let columns = fields(Substring(text))
        guard columns.count >= 3, let one = Double(columns[0]), let five = Double(columns[1]),
            let fifteen = Double(columns[2])
        else { throw CollectorError("unexpected /proc/loadavg: \(text.prefix(80))") }
        return [
            MetricFamily(name: "node_load1", type: .gauge, help: "1m load average.", value: one),
            MetricFamily(name: "node_load5", type: .gauge, help: "5m load average.", value: five),
            MetricFamily(name: "node_load15", type: .gauge, help: "15m load average.", value: fifteen),
        ]
    }
}
