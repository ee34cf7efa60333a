/// One sample set of one host, in the `skein.host-metrics.v1` format the broker re-exports
/// (contract of issue #6): key = host name, header `content-type`, value = this JSON object.
public struct HostMetricsRecord: Sendable, Equatable {
    public static let schema = "skein.host-metrics.v1"
    public static let contentType = "application/vnd.skein.host-metrics.v1+json"

    public var host: String
    public var timestampMilliseconds: Int64
    public var intervalSeconds: Double
    public var families: [MetricFamily]

    public init(host: String, timestampMilliseconds: Int64, intervalSeconds: Double, families: [MetricFamily]) {
        self.host = host
        self.timestampMilliseconds = timestampMilliseconds
        self.intervalSeconds = intervalSeconds
        self.families = families
    }

    /// The record value. Families or samples the broker would reject (bad names, NaN, infinity,
    /// repeats) are left out here, so one odd value never costs the whole sample set.
    public func encodedJSON() -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 256 + families.count * 160)
        writer.raw("{\"schema\":")
        writer.string(Self.schema)
        writer.raw(",\"host\":")
        writer.string(host)
        writer.raw(",\"timestamp_ms\":")
        writer.integer(timestampMilliseconds)
        writer.raw(",\"interval_seconds\":")
        writer.number(intervalSeconds)
        writer.raw(",\"families\":[")
        var firstFamily = true
        // The broker rejects a whole record that repeats a family or a label set, so repeats go here.
        var familyNames: Set<String> = []
        for family in families where PrometheusNames.isValidMetricName(family.name) {
            guard familyNames.insert(family.name).inserted else { continue }
            var labelSets: Set<[String]> = []
            let samples = family.samples.filter { sample in
                sample.value.isFinite && sample.labels.allSatisfy { PrometheusNames.isValidLabelName($0.name) }
                    && labelSets.insert(sample.labels.flatMap { [$0.name, $0.value] }).inserted
            }
            guard !samples.isEmpty else { continue }
            if !firstFamily { writer.raw(UInt8(ascii: ",")) }
            firstFamily = false
            writer.raw("{\"name\":")
            writer.string(family.name)
            writer.raw(",\"type\":")
            writer.string(family.type.rawValue)
            writer.raw(",\"help\":")
            writer.string(family.help)
            writer.raw(",\"samples\":[")
            for (index, sample) in samples.enumerated() {
                if index > 0 { writer.raw(UInt8(ascii: ",")) }
                writer.raw("{\"labels\":{")
                for (labelIndex, label) in sample.labels.enumerated() {
                    if labelIndex > 0 { writer.raw(UInt8(ascii: ",")) }
                    writer.string(label.name)
                    writer.raw(UInt8(ascii: ":"))
                    writer.string(label.value)
                }
                writer.raw("},\"value\":")
                writer.number(sample.value)
                writer.raw(UInt8(ascii: "}"))
            }
            writer.raw("]}")
        }
        writer.raw("]}")
        return writer.bytes
    }
}
