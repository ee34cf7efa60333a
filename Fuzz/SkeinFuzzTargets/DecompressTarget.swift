import Foundation
import SkeinCompression

/// The four codecs' decompressors, which take bytes straight from producers. The first input byte picks
/// the codec, so one corpus (and libFuzzer's crossover) spans all four.
enum DecompressTarget {
    static let codecs: [CompressionCodec] = [.gzip, .snappy, .lz4, .zstd]
    /// The output bound every call gets; small so that a decompression bomb costs milliseconds.
    static let maximumOutputBytes = 1 << 20

    /// The broker decompresses into a buffer each event loop keeps; inputs share one here too, so whatever a
    /// call that failed midway left in it meets the next call.
    static let sharedBuffer = SharedDecompressionBuffer()

    static func codec(selector: UInt8) -> CompressionCodec {
        codecs[Int(selector) % codecs.count]
    }

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        guard let selector = input.first else { return }
        let codec = codec(selector: selector)
        let compressed = UnsafeRawBufferPointer(rebasing: input[1...])
        let outcome: Result<[UInt8], CompressionError>
        do throws(CompressionError) {
            outcome = .success(try decompress(compressed, codec: codec, maxOutputBytes: maximumOutputBytes))
        } catch {
            outcome = .failure(error)
        }
        let reused = sharedBuffer.use { buffer -> Result<[UInt8], CompressionError> in
            do throws(CompressionError) {
                return .success(
                    try decompress(compressed, codec: codec, maxOutputBytes: maximumOutputBytes, reusing: buffer) {
                        Array($0)
                    })
            } catch {
                return .failure(error)
            }
        }
        violations.expect(
            reused == outcome, "\(codec) into a reused buffer gave \(brief(reused)), not \(brief(outcome))")
        guard case .success(let output) = outcome else { return }
        violations.expect(output.count <= maximumOutputBytes, "\(codec) produced \(output.count) bytes")

        // One byte less room must be refused as over the limit, whatever the frames claim about sizes.
        if !output.isEmpty {
            do {
                let short = try decompress(compressed, codec: codec, maxOutputBytes: output.count - 1)
                violations.fail("\(codec) returned \(short.count) bytes under a limit of \(output.count - 1)")
            } catch {
                violations.expect(
                    error == .outputLimitExceeded(codec: codec, limit: output.count - 1),
                    "\(codec) under a limit one byte short failed with \(error), not outputLimitExceeded")
            }
        }

        // What came out must survive our own compressor and come back unchanged.
        do {
            let recompressed = try compress(output, codec: codec)
            let back = try decompress(recompressed, codec: codec, maxOutputBytes: output.count)
            violations.expect(back == output, "\(codec) round trip of \(output.count) bytes changed them")
        } catch {
            violations.fail("\(codec) round trip of \(output.count) decompressed bytes failed: \(error)")
        }
    }

    private static func brief(_ outcome: Result<[UInt8], CompressionError>) -> String {
        switch outcome {
        case .success(let bytes): "\(bytes.count) bytes"
        case .failure(let error): "\(error)"
        }
    }
}

/// One `DecompressionBuffer` for every input (the test suite runs targets on several threads at once).
final class SharedDecompressionBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private let buffer = DecompressionBuffer()

    func use<T>(_ body: (DecompressionBuffer) -> T) -> T {
        lock.withLock { body(buffer) }
    }
}
