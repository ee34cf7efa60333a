import NIOCore
import SkeinProtocol

/// ApiVersions: the first request of every client. Lists only the APIs this broker implements; clients
/// pick min(their max, ours) for each.
enum ApiVersionsHandler {
    static var advertised: [ApiVersionsResponse.ApiVersion] {
        RequestRouter.implemented.map {
            ApiVersionsResponse.ApiVersion(
                apiKey: $0.rawValue, minVersion: $0.supportedVersions.lowerBound,
                maxVersion: $0.supportedVersions.upperBound)
        }
    }

    static func handle(_ request: ApiVersionsRequest, context: RequestContext) {
        context.reply(ApiVersionsResponse(apiKeys: advertised))
    }

    /// A version above ours gets UNSUPPORTED_VERSION in the v0 layout, which every client can read, with
    /// our ranges so it can retry with one we speak.
    static func rejectVersion(context: RequestContext) {
        var buffer = ByteBuffer()
        do {
            try ResponseFrame.encode(
                ApiVersionsResponse(errorCode: .unsupportedVersion, apiKeys: advertised), version: 0,
                correlationId: context.header.correlationId, into: &buffer)
            context.respond(.frame(buffer))
        } catch {
            context.respond(.closeConnection(reason: "cannot encode ApiVersions error reply: \(error)"))
        }
    }
}
