/// The batches the crash writer appends, derived from their base offsets so a checker can rebuild them.
public enum CrashWorkload {
    public static func expectedBatch(baseOffset: Int64) -> [UInt8] {
        BatchFactory.patterned(
            seed: UInt64(baseOffset), recordCount: 1 + Int(baseOffset % 3),
            payloadBytes: 100 + Int((baseOffset &* 37) % 3000))
    }
}
