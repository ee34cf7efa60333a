import NIOCore
import SkeinProtocol

/// The bodies of CreateAcls, DescribeAcls and DeleteAcls, which a client with ALTER or DESCRIBE on the cluster
/// sends and any client can send before the check refuses it. The first byte picks the API and version
/// (API = byte % 3: CreateAcls, DescribeAcls, DeleteAcls; version = byte / 3 % 4), so every mutation hits a
/// decoder instead of a header check, as in the `request` target.
enum AclRequestTarget {
    static let apis: [ApiKey] = [.createAcls, .describeAcls, .deleteAcls]

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        guard let selector = input.first else { return }
        let api = apis[Int(selector) % apis.count]
        let version = Int16(Int(selector) / apis.count % 4)
        var buffer = ByteBuffer(bytes: input.dropFirst())
        let request: KafkaRequest
        do { request = try KafkaRequest.decode(apiKey: api, version: version, from: &buffer) } catch { return }
        violations.expect(request.apiKey == api, "\(api) v\(version) decoded as \(request.apiKey)")

        // v0 has no pattern type on the wire: whatever came in, the decoded value is LITERAL, which a v0
        // encoding can carry back.
        if version == 0 {
            let literal = AclPatternType.literal.rawValue
            switch request {
            case .createAcls(let create):
                violations.expect(create.creations.allSatisfy { $0.patternType == literal }, "v0 creation not LITERAL")
            case .describeAcls(let describe):
                violations.expect(describe.filter.patternType == literal, "v0 describe filter not LITERAL")
            case .deleteAcls(let delete):
                violations.expect(
                    delete.filters.allSatisfy { $0.patternType == literal }, "v0 delete filter not LITERAL")
            default: break
            }
        }

        RequestTarget.checkRoundTrip(request, api: api, version: version, &violations)
    }
}
