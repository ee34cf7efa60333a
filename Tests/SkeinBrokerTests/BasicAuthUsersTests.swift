import Foundation
import Testing

@testable import SkeinMetricsHTTP

/// `http.basic.auth.users.file`: passlib-style PBKDF2-SHA256 hashes, checked per request (issue #15).
@Suite struct BasicAuthUsersTests {
    @Test func pbkdf2MatchesRFCTestVectors() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA-256, c=1) and the widely published c=4096 vector.
        let one = BasicAuthUsers.pbkdf2(password: Array("passwd".utf8), salt: Array("salt".utf8), rounds: 1, length: 32)
        #expect(hex(one) == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
        let many = BasicAuthUsers.pbkdf2(
            password: Array("password".utf8), salt: Array("salt".utf8), rounds: 4096, length: 32)
        #expect(hex(many) == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }

    @Test func usersFileAllowsTheRightPasswordOnlyAndReloads() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-users-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try line(user: "prom", password: "right").write(toFile: path, atomically: true, encoding: .utf8)
        let users = try BasicAuthUsers(path: path)
        #expect(users.allows(authorization: basic("prom", "right")))
        #expect(users.allows(authorization: basic("prom", "right")))  // the remembered header
        #expect(!users.allows(authorization: basic("prom", "wrong")))
        #expect(!users.allows(authorization: basic("other", "right")))
        #expect(!users.allows(authorization: nil))
        #expect(!users.allows(authorization: "Bearer x"))
        // A replaced file takes effect, and a remembered header of the old password no longer passes.
        try ("# rotated\n" + line(user: "prom", password: "new")).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(!users.allows(authorization: basic("prom", "right")))
        #expect(users.allows(authorization: basic("prom", "new")))
    }

    @Test func malformedLinesAreRefused() {
        #expect(throws: BasicAuthUsers.InvalidFile.self) { try BasicAuthUsers.parse("prom:plain", path: "f") }
        #expect(throws: BasicAuthUsers.InvalidFile.self) {
            try BasicAuthUsers.parse("prom:$2y$10$bcrypthashbcrypthashbcrypthash", path: "f")
        }
    }

    private func line(user: String, password: String) -> String {
        let salt: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let digest = BasicAuthUsers.pbkdf2(password: Array(password.utf8), salt: salt, rounds: 100, length: 32)
        func ab64(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(
                of: "+", with: ".")
        }
        return "\(user):$pbkdf2-sha256$100$\(ab64(salt))$\(ab64(digest))\n"
    }

    private func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
