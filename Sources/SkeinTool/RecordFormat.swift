import SkeinClient

/// How `skein consume` prints records.
public enum RecordFormat: String, CaseIterable, Sendable {
    /// The value as text, one record per line (`--print-key` puts the key and a tab first).
    case text
    /// One JSON object per line: topic, partition, offset, timestamp (ms), key, headers, value.
    case json
    /// The value's exact bytes followed by the delimiter, for binary payloads.
    case raw

    public func write(
        _ record: ConsumerRecord, to sink: OutputSink, printKey: Bool, delimiter: [UInt8], scratch: inout [UInt8]
    ) {
        switch self {
        case .text, .raw:
            if printKey {
                sink.write(record.key ?? [])
                sink.write(byte: UInt8(ascii: "\t"))
            }
            if let value = record.value {
                if self == .text, value.contains(where: { $0 >= 0x80 }) {
                    sink.write(Array(String(decoding: value, as: UTF8.self).utf8))
                } else {
                    sink.write(value)
                }
            }
            sink.write(delimiter)
        case .json:
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: #"{"topic":"#.utf8)
            JSONText.appendString(record.topicPartition.topic, to: &scratch)
            scratch.append(
                contentsOf:
                    #","partition":\#(record.partition),"offset":\#(record.offset),"timestamp":\#(record.timestamp),"key":"#
                    .utf8)
            if let key = record.key {
                JSONText.appendString(key, to: &scratch)
            } else {
                scratch.append(contentsOf: "null".utf8)
            }
            scratch.append(contentsOf: #","headers":["#.utf8)
            for (index, header) in record.headers.enumerated() {
                if index > 0 { scratch.append(UInt8(ascii: ",")) }
                scratch.append(contentsOf: #"{"key":"#.utf8)
                JSONText.appendString(header.key, to: &scratch)
                scratch.append(contentsOf: #","value":"#.utf8)
                if let value = header.value {
                    JSONText.appendString(value, to: &scratch)
                } else {
                    scratch.append(contentsOf: "null".utf8)
                }
                scratch.append(UInt8(ascii: "}"))
            }
            scratch.append(contentsOf: #"],"value":"#.utf8)
            if let value = record.value {
                JSONText.appendString(value, to: &scratch)
            } else {
                scratch.append(contentsOf: "null".utf8)
            }
            scratch.append(contentsOf: "}\n".utf8)
            sink.write(scratch)
        }
    }
}
