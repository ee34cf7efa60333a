import Foundation
import SkeinLogShipping

/// Turns one journal entry's `NAME=value` data fields into a `LogEvent`.
///
/// The fields an operator filters on get the log schema's columns (`MESSAGE`, `PRIORITY` → severity,
/// `_SYSTEMD_UNIT` or else `SYSLOG_IDENTIFIER` or else `_COMM` → unit, `_HOSTNAME` → host) or short
/// names in `fields`; every other field follows under its lower-cased journal name, so trusted fields
/// (`_uid`, `_cmdline`) stay apart from ones the program set itself (`uid`), until the cap.
struct JournalEntryBuilder {
    let maxFieldsBytes: Int
    let names: FieldNameCache
    private var message: [UInt8]?
    private var severity: UInt8?
    private var systemdUnit: String?
    private var identifier: String?
    private var comm: String?
    private var pid: String?
    private var bootId: String?
    private var transport: String?
    private var host: String?
    private var others: [(String, LogFieldValue)] = []
    private var otherBytes = 0
    private var truncated = false

    init(maxFieldsBytes: Int, names: FieldNameCache = FieldNameCache()) {
        self.maxFieldsBytes = maxFieldsBytes
        self.names = names
    }

    /// Names the kept fields use in `fields`, plus the marks this builder and the delivery core add:
    /// another journal field that lower-cases to one of them is written as `journal_<name>`.
    static let reservedNames: Set<String> = [
        "pid", "boot_id", "transport", "syslog_identifier", "comm", "message_binary", "fields_truncated",
        "truncated", "split", "multiline_flushed", "invalid_utf8", "message_base64",
    ]

    /// One data field as libsystemd returns it: `NAME=value`, the value possibly binary.
    mutating func add(_ data: UnsafeRawBufferPointer) {
        guard let equals = data.firstIndex(of: UInt8(ascii: "=")), equals > 0 else { return }
        let name = UnsafeRawBufferPointer(rebasing: data[..<equals])
        let value = UnsafeRawBufferPointer(rebasing: data[(equals + 1)...])
        switch Self.known(name) {
        case .message: if message == nil { message = Array(value) }
        case .priority:
            if value.count == 1, let digit = value.first, (48...55).contains(digit) { severity = digit - 48 }
        case .systemdUnit: systemdUnit = String(decoding: value, as: UTF8.self)
        case .identifier: identifier = String(decoding: value, as: UTF8.self)
        case .comm: comm = String(decoding: value, as: UTF8.self)
        case .pid: pid = String(decoding: value, as: UTF8.self)
        case .bootId: bootId = String(decoding: value, as: UTF8.self)
        case .transport: transport = String(decoding: value, as: UTF8.self)
        case .hostname: host = String(decoding: value, as: UTF8.self)
        case nil: addOther(name: name, value: value)
        }
    }

    private mutating func addOther(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        var key = names.key(for: name)
        let fieldValue: String
        if let text = String(validating: value, as: UTF8.self) {
            fieldValue = text
        } else {
            key += "_base64"
            fieldValue = Data(value).base64EncodedString()
        }
        // What the field costs in the record's JSON: quotes, colon and comma, before escaping.
        let cost = key.utf8.count + fieldValue.utf8.count + 6
        guard otherBytes + cost <= maxFieldsBytes else {
            truncated = true
            return
        }
        otherBytes += cost
        others.append((key, .string(fieldValue)))
    }

    func event(realtimeMicroseconds: UInt64, cursor: String) -> LogEvent {
        var fields: [(String, LogFieldValue)] = []
        fields.reserveCapacity(others.count + 7)
        if let pid { fields.append(("pid", Int64(pid).map { .integer($0) } ?? .string(pid))) }
        if let bootId { fields.append(("boot_id", .string(bootId))) }
        if let transport { fields.append(("transport", .string(transport))) }
        if let identifier { fields.append(("syslog_identifier", .string(identifier))) }
        if let comm { fields.append(("comm", .string(comm))) }
        fields.append(contentsOf: others)
        let message = message ?? []
        if Self.isBinary(message) { fields.append(("message_binary", .boolean(true))) }
        if truncated { fields.append(("fields_truncated", .boolean(true))) }
        return LogEvent(
            timestampMilliseconds: Int64(realtimeMicroseconds / 1000), message: message,
            unit: systemdUnit ?? identifier ?? comm, host: host, severity: severity, fields: fields,
            stream: JournaldSource.stream, position: cursor)
    }

    /// journalctl's rule for showing a field as a blob: not UTF-8, or control characters other than
    /// tab and newline.
    static func isBinary(_ bytes: [UInt8]) -> Bool {
        if bytes.contains(where: { $0 < 32 && $0 != 9 && $0 != 10 }) { return true }
        return String(validating: bytes, as: UTF8.self) == nil
    }

    private enum Known { case message, priority, systemdUnit, identifier, comm, pid, bootId, transport, hostname }

    private static func known(_ name: UnsafeRawBufferPointer) -> Known? {
        // Most names are neither: compare lengths first, bytes only on a length match.
        switch name.count {
        case 4: return equal(name, "_PID") ? .pid : nil
        case 5: return equal(name, "_COMM") ? .comm : nil
        case 7: return equal(name, "MESSAGE") ? .message : nil
        case 8: return equal(name, "PRIORITY") ? .priority : (equal(name, "_BOOT_ID") ? .bootId : nil)
        case 9: return equal(name, "_HOSTNAME") ? .hostname : nil
        case 10: return equal(name, "_TRANSPORT") ? .transport : nil
        case 13: return equal(name, "_SYSTEMD_UNIT") ? .systemdUnit : nil
        case 17: return equal(name, "SYSLOG_IDENTIFIER") ? .identifier : nil
        default: return nil
        }
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0
    }
}

/// The `fields` names of journal field names. Entries repeat the same few dozen names, so each is lower-cased
/// once; a lookup hashes the bytes and allocates nothing.
final class FieldNameCache {
    private var known: [UInt64: (raw: [UInt8], key: String)] = [:]
    static let capacity = 4096

    func key(for name: UnsafeRawBufferPointer) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        if let hit = known[hash], hit.raw.elementsEqual(name) { return hit.key }
        var key = String(decoding: name.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
        if JournalEntryBuilder.reservedNames.contains(key) { key = "journal_" + key }
        if known.count < Self.capacity { known[hash] = (Array(name), key) }
        return key
    }
}
