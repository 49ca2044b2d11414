// swift-tools-version:6.1
import PackageDescription

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Tagflow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tagflow", targets: ["tagflow"]),
        .library(name: "TagflowCore", targets: ["TagflowCore"]),
        .library(name: "Roaring", targets: ["Roaring"]),
        .library(name: "TagflowStore", targets: ["TagflowStore"]),
        .library(name: "TagflowServer", targets: ["TagflowServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
    ],
    targets: [
        .target(name: "CPrefetch"),
        .target(name: "CThreadLocal"),
        .target(
            name: "TagflowCore",
            dependencies: ["CPrefetch", "CThreadLocal"],
            // The tag engine's state lives in final classes touched only by its one owner: dynamic
            // exclusivity checks cost it ~15 % in release builds and catch nothing the debug build does not.
            swiftSettings: settings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(name: "CCPUFeatures"),
        // Array containers' shared values counted with SSE4.2's string instructions, which Swift cannot name.
        .target(name: "CSortedArrays"),
        .target(
            name: "RoaringAVX512",
            // The bitset loops again, for CPUs with AVX-512 and its popcount; called only when the CPU has them.
            swiftSettings: settings + [.unsafeFlags(["-target-cpu", "icelake-server"], .when(platforms: [.linux], configuration: .release))]
        ),
        .target(
            name: "Roaring",
            dependencies: ["CCPUFeatures", "CSortedArrays", "RoaringAVX512"],
            // Bitset counts are popcounts, vectorised with AVX2: release builds need an x86-64 CPU from
            // 2013 on (Haswell); without the flag each popcount is a dozen instructions.
            swiftSettings: settings + [.unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release))]
        ),
        .target(
            name: "TagflowStore",
            dependencies: [
                "TagflowCore",
                "Roaring",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .target(
            name: "TagflowServer",
            dependencies: [
                "TagflowCore",
                "TagflowStore",
                "Roaring",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "tagflow",
            dependencies: [
                "TagflowServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "TagflowCoreTests",
            dependencies: [
                "TagflowCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "RoaringTests",
            dependencies: ["Roaring", "TagflowCore", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: settings
        ),
        .testTarget(
            name: "TagflowStoreTests",
            dependencies: [
                "TagflowStore", "Roaring", .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "TagflowServerTests",
            dependencies: [
                "TagflowServer",
                "TagflowStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: settings
        ),
    ]
)
