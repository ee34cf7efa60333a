/// `/proc/stat`: CPU time per CPU and mode, boot time, context switches, forks, interrupts and
/// process counts.
public enum CPUStats {
    /// The columns of a `cpuN` line after the name, in the kernel's order, as node_exporter labels them.
    static let modes = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    static let guestModes = ["user", "nice"]

    /// - Parameter ticksPerSecond: USER_HZ (`sysconf(_SC_CLK_TCK)`), the unit of the time columns.
    public static func families(fromProcStat text: String, ticksPerSecond: Double) throws(CollectorError)
        -> [MetricFamily]
    {
        guard ticksPerSecond > 0 else { throw CollectorError("USER_HZ must be positive") }
        var cpuSeconds = MetricFamily(
            name: "node_cpu_seconds_total", type: .counter, help: "Seconds the CPUs spent in each mode.")
        var guestSeconds = MetricFamily(
            name: "node_cpu_guest_seconds_total", type: .counter,
            help: "Seconds the CPUs spent running guests, per mode (also counted in node_cpu_seconds_total).")
        var others: [MetricFamily] = []
        for line in text.split(separator: "\n") {
            let columns = fields(line)
            guard let name = columns.first else { continue }
            if name.hasPrefix("cpu"), name.count > 3 {
                let cpu = String(name.dropFirst(3))
                guard cpu.allSatisfy(\.isNumber) else { continue }
                for (index, mode) in modes.enumerated() where index + 1 < columns.count {
                    guard let ticks = Double(columns[index + 1]) else {
                        throw CollectorError("bad /proc/stat value on \(name)")
                    }
                    cpuSeconds.samples.append(
                        MetricSample(labels: [("cpu", cpu), ("mode", mode)], value: ticks / ticksPerSecond))
                }
                for (index, mode) in guestModes.enumerated() where index + 9 < columns.count {
                    guard let ticks = Double(columns[index + 9]) else { continue }
                    guestSeconds.samples.append(
                        MetricSample(labels: [("cpu", cpu), ("mode", mode)], value: ticks / ticksPerSecond))
                }
                continue
            }
            guard columns.count >= 2, let value = Double(columns[1]) else { continue }
            switch name {
            case "btime":
                others.append(
                    MetricFamily(
                        name: "node_boot_time_seconds", type: .gauge, help: "Boot time, in seconds since the epoch.",
                        value: value))
            case "ctxt":
                others.append(
                    MetricFamily(
                        name: "node_context_switches_total", type: .counter, help: "Context switches since boot.",
                        value: value))
            case "processes":
                others.append(
                    MetricFamily(name: "node_forks_total", type: .counter, help: "Forks since boot.", value: value))
            case "intr":
                others.append(
                    MetricFamily(
                        name: "node_intr_total", type: .counter, help: "Interrupts serviced since boot.", value: value))
            case "procs_running":
                others.append(
                    MetricFamily(
                        name: "node_procs_running", type: .gauge, help: "Processes in runnable state.", value: value))
            case "procs_blocked":
                others.append(
                    MetricFamily(
                        name: "node_procs_blocked", type: .gauge, help: "Processes blocked waiting for I/O.",
                        value: value))
            default:
                continue
            }
        }
        guard !cpuSeconds.samples.isEmpty else { throw CollectorError("no cpuN lines in /proc/stat") }
        var result = [cpuSeconds]
        if !guestSeconds.samples.isEmpty { result.append(guestSeconds) }
        return result + others
    }
}
