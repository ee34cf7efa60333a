import Foundation
import Logging
import SkeinFuzzTargets

#if canImport(Glibc)
    import Glibc
#endif

/// `skein-fuzz TARGET [ARGS…]`.
///
/// Built by scripts/fuzz with `-sanitize=fuzzer -D SKEIN_FUZZ`, ARGS are libFuzzer's (corpus directories,
/// `-max_total_time=N`, …). In the normal build, where libFuzzer is not linked, it replays the files (or
/// directories of files) named in ARGS through the target once each and reports broken invariants; a crash
/// input from a fuzzing run can be checked that way in a debugger-friendly build.
///
/// One executable for all targets keeps the normal build to one extra link. SwiftPM links executables with
/// `main` aliased to the module's entry point, so libFuzzer's own `main` cannot be used: this entry point
/// calls libFuzzer's driver instead.
@main
struct SkeinFuzz {
    static func main() {
        var arguments = CommandLine.arguments
        // libFuzzer's -fork and -jobs modes re-run the program with their own arguments: the target then
        // comes from the environment this process sets below.
        let target: FuzzTarget
        if arguments.count >= 2, let named = FuzzTarget(rawValue: arguments[1]) {
            target = named
            arguments.remove(at: 1)
        } else if let inherited = ProcessInfo.processInfo.environment["SKEIN_FUZZ_TARGET"].flatMap(FuzzTarget.init) {
            target = inherited
        } else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: skein-fuzz TARGET [ARGS...]; targets: \(names)\n".utf8))
            exit(2)
        }
        setenv("SKEIN_FUZZ_TARGET", target.rawValue, 1)
        // Recovery repairs are logged as warnings; thousands a second would drown libFuzzer's report.
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        #if SKEIN_FUZZ
            exit(runLibFuzzer(target, arguments: arguments))
        #else
            exit(replay(target, paths: Array(arguments.dropFirst())))
        #endif
    }

    static func replay(_ target: FuzzTarget, paths: [String]) -> Int32 {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                print("\(path): no such file")
                return 2
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        var failed = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let violations = target.check([UInt8](data))
            if !violations.isEmpty {
                failed += 1
                print("\(file): " + violations.joined(separator: "; "))
            }
        }
        print("\(target.rawValue): \(files.count) inputs, \(failed) broke an invariant")
        return failed == 0 ? 0 : 1
    }
}

#if SKEIN_FUZZ
    nonisolated(unsafe) private var selectedTarget = FuzzTarget.request

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        selectedTarget.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }

    /// libFuzzer's entry for programs with their own `main` (in libclang_rt.fuzzer, linked by -sanitize=fuzzer).
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    private func runLibFuzzer(_ target: FuzzTarget, arguments: [String]) -> Int32 {
        selectedTarget = target
        // libFuzzer keeps argv for the whole run (and re-executes it for -fork/-jobs), so it is never freed.
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() { argv[index] = strdup(argument) }
        argv[arguments.count] = nil
        var argc = CInt(arguments.count)
        var argvPointer = argv
        return LLVMFuzzerRunDriver(&argc, &argvPointer, fuzzOneInput)
    }
#endif
