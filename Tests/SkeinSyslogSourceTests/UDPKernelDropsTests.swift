import Foundation
import Testing

@testable import SkeinSyslogSource

@Suite struct UDPKernelDropsTests {
    static let header =
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"

    static func row(port: Int, drops: Int) -> String {
        "  12: 0100007F:\(String(port, radix: 16, uppercase: true)) 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0000000000000000 \(drops)\n"
    }

    @Test func rowsOfTheWatchedPortsAreRead() {
        let table = Self.header + Self.row(port: 514, drops: 7) + Self.row(port: 515, drops: 9) + "garbage\n"
        let found = UDPKernelDrops.drops(in: table, ports: [514])
        #expect(found.count == 1 && found[0] == (514, 7))
    }

    /// The kernel's count is per socket; a new socket (a reload) starts at zero, and what it drops is added,
    /// so the exposed counter never goes down.
    @Test func theCounterStaysMonotonicAcrossANewSocket() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("udp-drops-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let table = directory.appendingPathComponent("udp").path
        let drops = UDPKernelDrops(tables: [table])
        func kernel(_ count: Int) throws {
            try (Self.header + Self.row(port: 5140, drops: count)).write(
                toFile: table, atomically: true, encoding: .utf8)
        }
        try kernel(3)
        #expect(drops.value == 0)  // not watched yet
        drops.watch(ports: [5140])
        #expect(drops.value == 3)
        try kernel(10)
        #expect(drops.value == 10)
        try kernel(2)  // a new socket on the port
        #expect(drops.value == 12)
        drops.watch(ports: [])
        try kernel(50)
        #expect(drops.value == 12)
    }
}
