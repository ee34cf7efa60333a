import NIOCore
import SkeinProtocol

/// The two client quota request bodies (DescribeClientQuotas, AlterClientQuotas), without a frame around
/// them, so that mutations go to the filter components, entity parts and float64 values rather than to a
/// header. The first byte chooses: bit 0 the API (0 Describe, 1 Alter), bit 1 the version (0 or 1, classic
/// or flexible). The `request` target reaches the same decoders through whole frames.
enum ClientQuotasTarget {
    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        guard let selector = input.first else { return }
        let api: ApiKey = selector & 1 == 0 ? .describeClientQuotas : .alterClientQuotas
        let version = Int16((selector >> 1) & 1)
        var buffer = ByteBuffer(bytes: input.dropFirst())
        let request: KafkaRequest
        do { request = try KafkaRequest.decode(apiKey: api, version: version, from: &buffer) } catch { return }
        violations.expect(request.apiKey == api, "\(api) v\(version) decoded as \(request.apiKey)")
        // Values are float64 bit patterns: NaN and infinities included, what decoded must come back the same.
        RequestTarget.checkRoundTrip(request, api: api, version: version, &violations)
    }
}
