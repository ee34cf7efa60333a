import Testing

@testable import SkeinAgent

@Suite struct ParserTests {
    @Test func procStatGivesSecondsPerCPUAndModeUsingUserHz() throws {
        let families = try CPUStats.families(
            fromProcStat: Fixture.text("host-a/proc/stat"), ticksPerSecond: 100)
        let cpu = try #require(families.family(named: "node_cpu_seconds_total"))
        #expect(cpu.type == .counter)
        // Two CPUs × eight modes; the aggregate "cpu" line is not a CPU.
        #expect(cpu.samples.count == 16)
        #expect(cpu.value(["cpu": "0", "mode": "user"]) == 10)
        #expect(cpu.value(["cpu": "0", "mode": "idle"]) == 250)
        #expect(cpu.value(["cpu": "0", "mode": "softirq"]) == 0.2)
        #expect(cpu.value(["cpu": "1", "mode": "system"]) == 1)
        #expect(cpu.value(["cpu": "0", "mode": "steal"]) == 0.05)
        let guest = try #require(families.family(named: "node_cpu_guest_seconds_total"))
        #expect(guest.value(["cpu": "1", "mode": "user"]) == 1)
        #expect(guest.value(["cpu": "1", "mode": "nice"]) == 0.04)
        #expect(families.family(named: "node_boot_time_seconds")?.value() == 1_763_700_000)
        #expect(families.family(named: "node_context_switches_total")?.value() == 987_654)
        #expect(families.family(named: "node_forks_total")?.value() == 4321)
        #expect(families.family(named: "node_intr_total")?.value() == 123_456)
        #expect(families.family(named: "node_procs_running")?.value() == 3)
        #expect(families.family(named: "node_procs_blocked")?.value() == 1)

        // USER_HZ is the divisor, not a constant 100.
        let at250 = try CPUStats.families(fromProcStat: Fixture.text("host-a/proc/stat"), ticksPerSecond: 250)
        #expect(at250.family(named: "node_cpu_seconds_total")?.value(["cpu": "0", "mode": "user"]) == 4)
    }

    @Test func procStatWithoutCPULinesIsAnError() {
        #expect(throws: CollectorError.self) {
            try CPUStats.families(fromProcStat: "ctxt 1\nbtime 2\n", ticksPerSecond: 100)
        }
        #expect(throws: CollectorError.self) {
            try CPUStats.families(fromProcStat: "cpu0 1 2 x 4\n", ticksPerSecond: 100)
        }
    }

    @Test func meminfoFieldsBecomeNodeExporterNamesInBytes() throws {
        let families = try MemoryInfo.families(fromMeminfo: Fixture.text("host-a/proc/meminfo"))
        #expect(families.family(named: "node_memory_MemTotal_bytes")?.value() == Double(2_048_000 * 1024))
        #expect(families.family(named: "node_memory_MemAvailable_bytes")?.value() == Double(1_024_000 * 1024))
        #expect(families.family(named: "node_memory_MemFree_bytes")?.value() == Double(512_000 * 1024))
        #expect(families.family(named: "node_memory_Buffers_bytes")?.value() == Double(10240 * 1024))
        #expect(families.family(named: "node_memory_Cached_bytes")?.value() == Double(204_800 * 1024))
        #expect(families.family(named: "node_memory_SwapTotal_bytes")?.value() == Double(100_000 * 1024))
        #expect(families.family(named: "node_memory_SwapFree_bytes")?.value() == Double(90000 * 1024))
        #expect(families.family(named: "node_memory_Active_anon_bytes")?.value() == Double(40000 * 1024))
        // Counts have no unit and no _bytes suffix.
        #expect(families.family(named: "node_memory_HugePages_Total")?.value() == 0)
        #expect(families.family(named: "node_memory_Hugepagesize_bytes")?.value() == Double(2048 * 1024))
        #expect(families.count == 11)
        #expect(families.allSatisfy { $0.type == .gauge && PrometheusNames.isValidMetricName($0.name) })
        #expect(throws: CollectorError.self) { try MemoryInfo.families(fromMeminfo: "MemFree: 1 kB\n") }
    }

    @Test func loadavg() throws {
        let families = try LoadAverage.families(fromLoadavg: Fixture.text("host-a/proc/loadavg"))
        #expect(families.map(\.name) == ["node_load1", "node_load5", "node_load15"])
        #expect(families.map { $0.value() } == [0.42, 1.5, 2.25])
        #expect(throws: CollectorError.self) { try LoadAverage.families(fromLoadavg: "0.1 x\n") }
    }

    @Test func mountsSkipPseudoFilesystemsAndDuplicatesAndUnescapeSpaces() throws {
        let mounts = Filesystems.reportable(Filesystems.mounts(fromProcMounts: try Fixture.text("host-a/proc/mounts")))
        #expect(mounts.map(\.mountPoint) == ["/", "/run", "/srv/data disk"])
        #expect(mounts.map(\.fileSystemType) == ["ext4", "tmpfs", "xfs"])
        #expect(mounts[2].isReadOnly)
        #expect(!mounts[0].isReadOnly)
    }

    @Test func filesystemFamiliesCarryDeviceMountpointAndFstype() throws {
        var asked: [String] = []
        let families = Filesystems.families(fromProcMounts: try Fixture.text("host-a/proc/mounts")) { path in
            asked.append(path)
            // A mount point that vanished between reading /proc/mounts and statvfs is skipped.
            if path == "/run" { return nil }
            return FilesystemUsage(sizeBytes: 1000, freeBytes: 400, availableBytes: 300, files: 50, filesFree: 20)
        }
        #expect(asked == ["/", "/run", "/srv/data disk"])
        let size = try #require(families.family(named: "node_filesystem_size_bytes"))
        #expect(size.samples.count == 2)
        #expect(size.samples[0].labels.map(\.name) == ["device", "fstype", "mountpoint"])
        #expect(size.value(["mountpoint": "/", "device": "/dev/sda2", "fstype": "ext4"]) == 1000)
        #expect(families.family(named: "node_filesystem_avail_bytes")?.value(["mountpoint": "/srv/data disk"]) == 300)
        #expect(families.family(named: "node_filesystem_free_bytes")?.value(["mountpoint": "/"]) == 400)
        #expect(families.family(named: "node_filesystem_files")?.value(["mountpoint": "/"]) == 50)
        #expect(families.family(named: "node_filesystem_files_free")?.value(["mountpoint": "/"]) == 20)
        #expect(families.family(named: "node_filesystem_readonly")?.value(["mountpoint": "/srv/data disk"]) == 1)
    }

    @Test func realStatvfsOfRootIsPlausible() throws {
        let root = try #require(FilesystemUsage.ofMountPoint("/"))
        #expect(root.sizeBytes > 0)
        #expect(root.availableBytes <= root.freeBytes)
        #expect(root.freeBytes <= root.sizeBytes)
        #expect(FilesystemUsage.ofMountPoint("/no/such/mount/point") == nil)
    }

    @Test func diskstatsSkipLoopRamAndPartitions() throws {
        let families = try DiskStats.families(fromDiskstats: Fixture.text("host-a/proc/diskstats"))
        let reads = try #require(families.family(named: "node_disk_reads_completed_total"))
        #expect(reads.samples.compactMap { $0.label("device") } == ["sda", "sdb", "nvme0n1", "dm-0"])
        #expect(reads.value(["device": "sda"]) == 1000)
        #expect(families.family(named: "node_disk_read_bytes_total")?.value(["device": "sda"]) == Double(20000 * 512))
        #expect(
            families.family(named: "node_disk_written_bytes_total")?.value(["device": "sda"]) == Double(40000 * 512))
        #expect(families.family(named: "node_disk_writes_completed_total")?.value(["device": "sda"]) == 2000)
        #expect(families.family(named: "node_disk_io_time_seconds_total")?.value(["device": "sda"]) == 3)
        #expect(families.family(named: "node_disk_read_time_seconds_total")?.value(["device": "sda"]) == 1.5)
        #expect(families.family(named: "node_disk_write_time_seconds_total")?.value(["device": "sda"]) == 2.5)
        #expect(families.family(named: "node_disk_io_now")?.value(["device": "sda"]) == 2)
        #expect(families.family(named: "node_disk_io_now")?.type == .gauge)
        #expect(families.family(named: "node_disk_io_time_weighted_seconds_total")?.value(["device": "sda"]) == 4)
    }

    @Test(arguments: [
        ("loop0", true), ("loop12", true), ("ram0", true), ("zram0", true), ("fd0", true), ("sda1", true),
        ("vda2", true), ("xvdb3", true), ("hda1", true), ("nvme0n1p1", true), ("sda", false), ("vda", false),
        ("nvme0n1", false), ("dm-0", false), ("md0", false), ("mmcblk0", false), ("loop", false), ("sdaa1", false),
    ])
    func diskExclusionMatchesNodeExporterDefault(device: String, excluded: Bool) {
        #expect(DiskStats.isExcludedDevice(device) == excluded)
    }

    @Test func netDevCountersPerInterface() throws {
        let text = try Fixture.text("host-a/proc/net/dev")
        #expect(NetworkDevices.devices(fromNetDev: text) == ["lo", "eth0"])
        let families = try NetworkDevices.families(fromNetDev: text)
        #expect(families.family(named: "node_network_receive_bytes_total")?.value(["device": "eth0"]) == 987_654_321)
        #expect(families.family(named: "node_network_transmit_bytes_total")?.value(["device": "eth0"]) == 123_456_789)
        #expect(families.family(named: "node_network_receive_packets_total")?.value(["device": "eth0"]) == 65432)
        #expect(families.family(named: "node_network_transmit_packets_total")?.value(["device": "eth0"]) == 54321)
        #expect(families.family(named: "node_network_receive_errs_total")?.value(["device": "eth0"]) == 1)
        #expect(families.family(named: "node_network_receive_drop_total")?.value(["device": "eth0"]) == 2)
        #expect(families.family(named: "node_network_receive_multicast_total")?.value(["device": "eth0"]) == 33)
        #expect(families.family(named: "node_network_transmit_errs_total")?.value(["device": "eth0"]) == 3)
        #expect(families.family(named: "node_network_transmit_drop_total")?.value(["device": "eth0"]) == 4)
        #expect(families.family(named: "node_network_transmit_colls_total")?.value(["device": "eth0"]) == 5)
        #expect(families.family(named: "node_network_receive_bytes_total")?.value(["device": "lo"]) == 12345)
        #expect(throws: CollectorError.self) { try NetworkDevices.families(fromNetDev: "eth0: 1 2 3\n") }
    }

    @Test func linkStateAndMTUFromSys() {
        let families = NetworkDevices.linkFamilies(devices: ["lo", "eth0", "gone0"], files: Fixture.hostA)
        #expect(families.family(named: "node_network_up")?.value(["device": "eth0"]) == 1)
        #expect(families.family(named: "node_network_up")?.value(["device": "lo"]) == 0)
        #expect(families.family(named: "node_network_up")?.samples.count == 2)
        #expect(families.family(named: "node_network_mtu_bytes")?.value(["device": "eth0"]) == 1500)
        #expect(NetworkDevices.linkFamilies(devices: ["eth0"], files: SystemFiles(sysRoot: "/nonexistent")).isEmpty)
    }

    @Test func unameInfoFromProcSysKernel() throws {
        let family = try #require(SystemInfo.unameFamily(files: Fixture.hostA, machine: "x86_64"))
        #expect(family.value() == 1)
        let labels = Dictionary(uniqueKeysWithValues: family.samples[0].labels.map { ($0.name, $0.value) })
        #expect(
            labels == [
                "sysname": "Linux", "release": "6.1.0-test", "version": "#1 SMP Debian", "machine": "x86_64",
                "nodename": "host-a", "domainname": "(none)",
            ])
    }

    @Test func agentProcessStatsHandleSpacesInTheCommandName() throws {
        let families = try AgentProcessStats.families(
            fromSelfStat: Fixture.text("host-a/proc/self/stat"), ticksPerSecond: 100, pageSize: 4096)
        #expect(families.family(named: "skein_agent_cpu_seconds_total")?.value() == 2)
        #expect(families.family(named: "skein_agent_resident_memory_bytes")?.value() == Double(2560 * 4096))
        #expect(families.family(named: "skein_agent_virtual_memory_bytes")?.value() == 104_857_600)
    }
}
