/// `/proc/diskstats`: I/O counters of whole block devices.
public enum DiskStats {
    /// The kernel counts sectors of 512 bytes here whatever the device's real sector size.
    static let bytesPerSector = 512.0

    /// (family, help, type, column after the device name, scale): the columns node_exporter reports.
    private static let columns: [(name: String, help: String, type: MetricType, column: Int, scale: Double)] = [
        ("node_disk_reads_completed_total", "Reads completed.", .counter, 0, 1),
        ("node_disk_reads_merged_total", "Adjacent reads merged.", .counter, 1, 1),
        ("node_disk_read_bytes_total", "Bytes read.", .counter, 2, bytesPerSector),
        ("node_disk_read_time_seconds_total", "Seconds spent by all reads.", .counter, 3, 0.001),
        ("node_disk_writes_completed_total", "Writes completed.", .counter, 4, 1),
        ("node_disk_writes_merged_total", "Adjacent writes merged.", .counter, 5, 1),
        ("node_disk_written_bytes_total", "Bytes written.", .counter, 6, bytesPerSector),
        ("node_disk_write_time_seconds_total", "Seconds spent by all writes.", .counter, 7, 0.001),
        ("node_disk_io_now", "I/Os in progress.", .gauge, 8, 1),
        ("node_disk_io_time_seconds_total", "Seconds the device was busy with I/O.", .counter, 9, 0.001),
        (
            "node_disk_io_time_weighted_seconds_total", "Seconds spent on I/O weighted by I/Os in progress.",
            .counter, 10, 0.001
        ),
    ]

    public static func families(fromDiskstats text: String) throws(CollectorError) -> [MetricFamily] {
        var families = columns.map { MetricFamily(name: $0.name, type: $0.type, help: $0.help) }
        for line in text.split(separator: "\n") {
            let parts = fields(line)
            guard parts.count >= 14 else { continue }
            let device = String(parts[2])
            guard !isExcludedDevice(device) else { continue }
            for (index, column) in columns.enumerated() {
                guard let raw = Double(parts[3 + column.column]) else {
                    throw CollectorError("bad /proc/diskstats value for \(device)")
                }
                families[index].samples.append(MetricSample(labels: [("device", device)], value: raw * column.scale))
            }
        }
        return families.filter { !$0.samples.isEmpty }
    }

    /// node_exporter's default `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`: RAM disks, loop
    /// devices, floppies, and partitions (whose I/O the whole disk already counts).
    static func isExcludedDevice(_ name: String) -> Bool {
        var rest = Substring(name)
        func dropDigits(atLeastOne: Bool) -> Bool {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(digits.count)
            return !atLeastOne || !digits.isEmpty
        }
        for prefix in ["zram", "ram", "loop", "fd"] where rest.hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
            return dropDigits(atLeastOne: true) && rest.isEmpty
        }
        for prefix in ["xvd", "hd", "sd", "vd"] where rest.hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
            guard let letter = rest.first, ("a"..."z").contains(letter) else { return false }
            rest = rest.dropFirst()
            return dropDigits(atLeastOne: true) && rest.isEmpty
        }
        if rest.hasPrefix("nvme") {
            rest = rest.dropFirst(4)
            guard dropDigits(atLeastOne: true), rest.first == "n" else { return false }
            rest = rest.dropFirst()
            guard dropDigits(atLeastOne: true), rest.first == "p" else { return false }
            rest = rest.dropFirst()
            return dropDigits(atLeastOne: true) && rest.isEmpty
        }
        return false
    }
}
