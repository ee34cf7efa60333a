import Foundation
import Glibc
import PropertyBased
import SkeinLogShipping
import Testing

@testable import SkeinFileSource

/// Model-based test of the file watcher: random sequences of writes, rotations, truncations, deletions
/// and restarts on a real directory, against a model of the lines that must arrive. The property: every
/// line written to a followed file is emitted exactly once, and the lines of each file in write order.
///
/// The model is exact only where the source can be exact, so operations that destroy bytes (truncate,
/// delete, rename to an unmatched name, restart) first wait until the source has caught up with what was
/// written, then write a few more lines *without* waiting, then act: those lines are the race the source
/// must win through its open descriptor or the copytruncate copy.
@Suite struct ModelTests {
    enum Operation: Int, CaseIterable {
        case append, append2, append3, appendInTwoWrites, renameWithCreate, renameWithoutCreate, copytruncate,
            truncate, delete, restart
    }

    /// What the test wrote: each line is `g<file generation> n<number>`, unique in the run.
    final class Model {
        var written: [Int: [String]] = [:]
        var generation = 0
        var number = 0
        var rotations = 0
        var exists = false

        func nextLine() -> String {
            number += 1
            return "g\(generation) n\(number) " + String(repeating: "y", count: number % 7 * 5)
        }

        var total: Int { written.values.reduce(0) { $0 + $1.count } }
    }

    @Test(.timeLimit(.minutes(5)))
    func randomOperationSequencesDeliverEveryLineOnceAndInOrder() async {
        await propertyCheck(count: 25, input: Gen.int(in: 0...(Operation.allCases.count - 1)).array(of: 4...24)) {
            ops in
            await run(ops.map { Operation(rawValue: $0)! })
        }
    }

    /// Sequences that once failed, kept as regression cases.
    @Test(arguments: [
        [3, 7, 8, 8, 0, 4, 1],
        [6, 8, 3, 6, 2, 3, 8, 1, 0, 2, 6],
        [2, 4, 8, 0, 9, 6],
    ])
    func knownSequences(_ ops: [Int]) async {
        await run(ops.map { Operation(rawValue: $0)! })
    }

    func run(_ operations: [Operation]) async {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let configured = settings(dir) { $0.rotateWaitSeconds = 0.1 }
        let sink = RecordingSink()
        var source = RunningSource(configured, sink: sink)
        let model = Model()

        func write(_ count: Int, to target: String? = nil) {
            if target == nil && !model.exists {
                model.generation += 1
                model.exists = true
            }
            let generation = model.generation
            var text = ""
            for _ in 0..<count {
                let line = model.nextLine()
                model.written[generation, default: []].append(line)
                text += line + "\n"
            }
            append(target ?? path, text)
        }

        /// Waits until everything written has been emitted.
        func caughtUp() async -> Bool {
            let expected = model.total
            let ok = await waitUntil(seconds: 5) { sink.events.count >= expected }
            if !ok {
                Issue.record("source did not catch up: \(sink.events.count) of \(expected) after \(operations)")
            }
            return ok
        }

        let trace = ProcessInfo.processInfo.environment["SKEIN_MODEL_TRACE"]
        if let trace { append(trace, "sequence \(operations.map(\.rawValue))\n") }
        for operation in operations {
            if let trace { append(trace, "  \(operation) total=\(model.total) emitted=\(sink.events.count)\n") }
            switch operation {
            case .append: write(1)
            case .append2: write(2)
            case .append3: write(5)
            case .appendInTwoWrites:
                if !model.exists {
                    model.generation += 1
                    model.exists = true
                }
                let line = model.nextLine()
                model.written[model.generation, default: []].append(line)
                append(path, String(line.prefix(4)))
                append(path, String(line.dropFirst(4)) + "\n")
            case .renameWithCreate, .renameWithoutCreate:
                guard model.exists, await caughtUp() else { continue }
                model.rotations += 1
                let rotated = dir.file("app.log.\(model.rotations)")
                renameFile(path, rotated)
                // The writer has not reopened yet: its next lines still go to the renamed file.
                write(2, to: rotated)
                model.exists = false
                if operation == .renameWithCreate { write(1) }
            case .copytruncate:
                guard model.exists else { continue }
                // A file the source last saw empty gives it nothing to notice the truncation by: lines
                // written, copied and cut before its next look are lost undetectably (README). The model
                // keeps to the detectable case: the source has read something of this file.
                if model.written[model.generation, default: []].isEmpty { write(1) }
                guard await caughtUp() else { continue }
                write(3)
                model.rotations += 1
                copyFile(path, dir.file("app.log.c\(model.rotations)"))
                truncateFile(path)
                // Same file, but the model's order is per content generation: the new lines follow.
                model.generation += 1
            case .truncate:
                guard model.exists, await caughtUp() else { continue }
                truncateFile(path)
                model.generation += 1
            case .delete:
                guard model.exists, await caughtUp() else { continue }
                let fd = open(path, O_WRONLY | O_APPEND)
                removeFile(path)
                // A writer that still holds the deleted file open.
                var text = ""
                for _ in 0..<2 {
                    let line = model.nextLine()
                    model.written[model.generation, default: []].append(line)
                    text += line + "\n"
                }
                _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                close(fd)
                model.exists = false
            case .restart:
                guard await caughtUp() else { continue }
                await source.stop()
                source = RunningSource(
                    configured, state: SourceState(found: true, positions: sink.committedPositions), sink: sink)
                // The next operation may destroy bytes, which needs the file open, as in caughtUp.
                if model.exists {
                    let opened = await waitUntil(seconds: 5) {
                        source.registry.render().contains("path=\"\(path)\"")
                    }
                    if !opened { Issue.record("restarted source did not open \(path)") }
                }
            }
        }
        _ = await caughtUp()
        // Let late duplicates, if any, show up before checking.
        try? await Task.sleep(for: .milliseconds(250))
        await source.stop()

        let emitted = sink.messages
        #expect(emitted.count == model.total, "emitted \(emitted.count), wrote \(model.total): \(operations)")
        #expect(Set(emitted).count == emitted.count, "duplicates after \(operations)")
        for (generation, lines) in model.written {
            let got = emitted.filter { $0.hasPrefix("g\(generation) ") }
            #expect(got == lines, "generation \(generation) after \(operations)")
        }
    }
}

extension RecordingSink {
    /// Positions as the core recovers them: a stream retired after its last event is gone.
    var committedPositions: [String: String] {
        state.withLock { recorded in
            var positions: [String: String] = [:]
            var lastIndex: [String: Int] = [:]
            for (index, event) in recorded.events.enumerated() {
                positions[event.stream] = event.position
                lastIndex[event.stream] = index
            }
            for (stream, before) in recorded.retiredAt where (lastIndex[stream] ?? -1) < before {
                positions[stream] = nil
            }
            return positions
        }
    }
}
