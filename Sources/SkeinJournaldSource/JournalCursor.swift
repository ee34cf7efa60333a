/// The parts of a journal cursor (`s=<seqnum id>;i=<seqnum>;b=<boot id>;m=<monotonic>;t=<realtime>;x=<xor
/// hash>`, numbers in hex) that tell how far apart two entries are. libsystemd treats cursors as opaque,
/// but their layout has been stable since 2012, and it is the only way to say how many entries a vacuum
/// took between a saved cursor and the oldest entry left.
struct JournalCursor: Equatable {
    var seqnumId: String
    var seqnum: UInt64
    var bootId: String
    var monotonicMicroseconds: UInt64
    var realtimeMicroseconds: UInt64

    init?(_ text: String) {
        var parts: [Character: Substring] = [:]
        for item in text.split(separator: ";") {
            guard item.count >= 2, item[item.index(after: item.startIndex)] == "=" else { return nil }
            parts[item.first!] = item.dropFirst(2)
        }
        guard let s = parts["s"], let i = parts["i"].flatMap({ UInt64($0, radix: 16) }),
            let b = parts["b"], let m = parts["m"].flatMap({ UInt64($0, radix: 16) }),
            let t = parts["t"].flatMap({ UInt64($0, radix: 16) })
        else { return nil }
        seqnumId = String(s)
        seqnum = i
        bootId = String(b)
        monotonicMicroseconds = m
        realtimeMicroseconds = t
    }

    /// Entries of the whole journal (any unit) between `self` and `later`, both excluded, when both come
    /// from one sequence-number series; nil when the series differ (the journal was reset or replaced),
    /// so the count cannot be known.
    func entriesBetween(_ later: JournalCursor) -> UInt64? {
        guard later.seqnumId == seqnumId, later.seqnum > seqnum else { return nil }
        return later.seqnum - seqnum - 1
    }
}
