import Testing

@testable import SkeinFileSource
