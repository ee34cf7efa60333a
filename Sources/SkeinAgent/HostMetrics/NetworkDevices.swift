/// `/proc/net/dev` counters per interface, plus link state and MTU from `/sys/class/net`.
public enum NetworkDevices {
    /// (family, help, column after the interface name) – receive columns 0–7, transmit 8–15.
    private static let columns: [(name: String, help: String, column: Int)] = [
        ("node_network_receive_bytes_total", "Bytes received.", 0),
        ("node_network_receive_packets_total", "Packets received.", 1),
        ("node_network_receive_errs_total", "Receive errors.", 2),
        ("node_network_receive_drop_total", "Received packets dropped.", 3),
        ("node_network_receive_multicast_total", "Multicast packets received.", 7),
        ("node_network_transmit_bytes_total", "Bytes transmitted.", 8),
        ("node_network_transmit_packets_total", "Packets transmitted.", 9),
        ("node_network_transmit_errs_total", "Transmit errors.", 10),
        ("node_network_transmit_drop_total", "Transmitted packets dropped.", 11),
        ("node_network_transmit_colls_total", "Collisions while transmitting.", 13),
    ]

    /// The interface names, in file order.
    public static func devices(fromNetDev text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.lastIndex(of: ":") else { return nil }
            let name = line[..<colon].trimmingWhitespace()
            return name.contains("|") || name.isEmpty ? nil : String(name)
        }
    }

    public static func families(fromNetDev text: String) throws(CollectorError) -> [MetricFamily] {
        var families = columns.map { MetricFamily(name: $0.name, type: .counter, help: $0.help) }
        for line in text.split(separator: "\n") {
            // Interface names may hold ':' (aliases); the counters never do.
            guard let colon = line.lastIndex(of: ":") else { continue }
            let device = String(line[..<colon].trimmingWhitespace())
            guard !device.isEmpty, !device.contains("|") else { continue }
            let counters = fields(line[line.index(after: colon)...])
            guard counters.count >= 16 else { throw CollectorError("short /proc/net/dev line for \(device)") }
            for (index, column) in columns.enumerated() {
                guard let value = Double(counters[column.column]) else {
                    throw CollectorError("bad /proc/net/dev value for \(device)")
                }
                families[index].samples.append(MetricSample(labels: [("device", device)], value: value))
            }
        }
        return families.filter { !$0.samples.isEmpty }
    }

    /// `node_network_up` (operstate is "up") and `node_network_mtu_bytes` for each device whose
    /// /sys entry can be read; a missing /sys (containers, fixtures) yields nothing.
    public static func linkFamilies(devices: [String], files: SystemFiles) -> [MetricFamily] {
        var up = MetricFamily(name: "node_network_up", type: .gauge, help: "1 when the interface's operstate is up.")
        var mtu = MetricFamily(name: "node_network_mtu_bytes", type: .gauge, help: "The interface's MTU.")
        for device in devices where !device.contains("/") {
            if let state = try? files.sys("class/net/\(device)/operstate") {
                let isUp = state.trimmingWhitespace() == "up"
                up.samples.append(MetricSample(labels: [("device", device)], value: isUp ? 1 : 0))
            }
            if let text = try? files.sys("class/net/\(device)/mtu"), let value = Double(text.trimmingWhitespace()) {
                mtu.samples.append(MetricSample(labels: [("device", device)], value: value))
            }
        }
        return [up, mtu].filter { !$0.samples.isEmpty }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}
