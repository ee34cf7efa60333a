import Testing

@testable import SkeinLogShipping
