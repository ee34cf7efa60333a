/// Everything that can go wrong while decoding or encoding Kafka wire data.
///
/// Decoding never traps: a peer controls every byte we read, so each malformed or truncated input
/// becomes one of these cases and the caller decides whether to answer with an error code or close
/// the connection. Encoding throws too, because some values cannot be expressed in some versions
/// (a null where the version has no null, a string longer than an int16 length prefix allows).
public enum ProtocolError: Error, Equatable, Sendable {
    /// The input ended before a field did.
    case truncated(needed: Int, available: Int)
    /// A length prefix was negative (and not the -1 that means null where null is allowed).
    case invalidLength(Int)
    /// A length prefix promised more bytes than the buffer holds. Checked before allocating, so a
    /// hostile length cannot make us reserve gigabytes.
    case lengthExceedsInput(declared: Int, available: Int)
    /// A varint ran past its maximum width or overflowed its integer type.
    case malformedVarint
    /// A field that this version declares non-nullable arrived as null, or a caller tried to encode
    /// null into such a field.
    case unexpectedNull(field: String)
    /// A value cannot be represented on the wire in the requested version.
    case unrepresentable(field: String, reason: String)
    /// A tagged-field section broke the spec's rules (tags must be strictly ascending).
    case malformedTaggedFields(String)
    /// The API key is not one this codec knows.
    case unknownApiKey(Int16)
    /// The API is known but not in this version.
    case unsupportedVersion(apiKey: Int16, version: Int16)
    /// A frame's size prefix was negative or above the configured maximum.
    case invalidFrameSize(Int32, maximum: Int32)
    /// A Fetch response holding records the caller means to send separately (see
    /// `FetchResponse.Records.external`) was asked to encode into a single buffer.
    case externalRecordsNeedSegmentedEncoding
    /// A RecordBatch (or a record inside it) is malformed.
    case invalidRecordBatch(String)
    /// The CRC-32C stored in a RecordBatch does not match the bytes it covers.
    case crcMismatch(stored: UInt32, computed: UInt32)
}
