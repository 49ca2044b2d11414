extension Duration {
    /// The duration in seconds (benchmarks, delivery latencies, rate-limit refills).
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
