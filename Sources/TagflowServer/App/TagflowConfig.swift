import Foundation
import TagflowCore
import TagflowStore

/// Everything `tagflow serve` can be told, from flags, a JSON config file and the environment.
public struct TagflowConfig: Sendable, Codable, Equatable {
    /// Where the SQLite database lives.
    public var dataDirectory = "./tagflow-data"
    public var host = "127.0.0.1"
    /// 0 picks a free port (the bound port is reported once the server runs).
    public var port = 8080
    public var durability: Durability = .full
    public var maxEventBytes = 32 * 1024
    public var maxRequestBytes = 500 * 1024
    public var maxBatchEvents = 2500
    /// Timestamps further ahead of the receive time than this are clamped and flagged.
    public var futureToleranceSeconds = 300
    /// Events waiting to be written beyond which requests get 429 + Retry-After.
    public var ingestQueueCapacity = 100_000
    /// Most events written in one group commit.
    public var maxEventsPerCommit = 20_000
    /// Bootstraps an admin token on start (also `TAGFLOW_ADMIN_TOKEN`).
    public var adminToken: String?
    /// Bootstraps a source called `default` with this write key (also `TAGFLOW_WRITE_KEY`).
    public var writeKey: String?
    /// Per-type identifier limits, merged over the defaults (`{"user_id": 1}`).
    public var identityLimits: [String: Int]?
    /// Per-type identifier priorities, merged over the defaults.
    public var identityPriorities: [String: Int]?
    /// Extra values that are never identifiers.
    public var blockedIdentifierValues: [String]?
    /// The workspace time zone: `today`, `this week` and `this month` in rules follow it.
    public var timeZone = WorkspaceCalendar.defaultTimeZoneID
    /// A directory of `.tags` files applied at start (tags created or edited; none deleted).
    public var tagsDirectory: String?
    /// Lets destinations be on private, loopback and link-local addresses (off: webhooks only go out).
    public var allowPrivateDestinations = false
    /// Waits between delivery attempts, in milliseconds (default: Standard Webhooks' 5 s … 24 h, ten attempts).
    public var deliveryRetryWaitsMs: [Int64]?
    /// A message older than this many milliseconds is dead-lettered at its next failure (default: 3 days).
    public var deliveryMaxAgeMs: Int64?
    /// How long a destination rests after ten failures in a row before one message probes it (default 30 s,
    /// doubling while it keeps failing, up to ten minutes).
    public var deliveryBreakerCooldownMs: Int64?
    /// How many hours delivered messages and their attempts stay in the delivery log (default 168, a week).
    public var deliveryRetentionHours: Int?

    public init() {}

    public init(from decoder: any Decoder) throws {
        let defaults = TagflowConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataDirectory = try c.decodeIfPresent(String.self, forKey: .dataDirectory) ?? defaults.dataDirectory
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? defaults.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? defaults.port
        durability = try c.decodeIfPresent(Durability.self, forKey: .durability) ?? defaults.durability
        maxEventBytes = try c.decodeIfPresent(Int.self, forKey: .maxEventBytes) ?? defaults.maxEventBytes
        maxRequestBytes = try c.decodeIfPresent(Int.self, forKey: .maxRequestBytes) ?? defaults.maxRequestBytes
        maxBatchEvents = try c.decodeIfPresent(Int.self, forKey: .maxBatchEvents) ?? defaults.maxBatchEvents
        futureToleranceSeconds = try c.decodeIfPresent(Int.self, forKey: .futureToleranceSeconds)
            ?? defaults.futureToleranceSeconds
        ingestQueueCapacity = try c.decodeIfPresent(Int.self, forKey: .ingestQueueCapacity) ?? defaults.ingestQueueCapacity
        maxEventsPerCommit = try c.decodeIfPresent(Int.self, forKey: .maxEventsPerCommit) ?? defaults.maxEventsPerCommit
        adminToken = try c.decodeIfPresent(String.self, forKey: .adminToken)
        writeKey = try c.decodeIfPresent(String.self, forKey: .writeKey)
        identityLimits = try c.decodeIfPresent([String: Int].self, forKey: .identityLimits)
        identityPriorities = try c.decodeIfPresent([String: Int].self, forKey: .identityPriorities)
        blockedIdentifierValues = try c.decodeIfPresent([String].self, forKey: .blockedIdentifierValues)
        timeZone = try c.decodeIfPresent(String.self, forKey: .timeZone) ?? defaults.timeZone
        tagsDirectory = try c.decodeIfPresent(String.self, forKey: .tagsDirectory)
        allowPrivateDestinations = try c.decodeIfPresent(Bool.self, forKey: .allowPrivateDestinations) ?? false
        deliveryRetryWaitsMs = try c.decodeIfPresent([Int64].self, forKey: .deliveryRetryWaitsMs)
        deliveryMaxAgeMs = try c.decodeIfPresent(Int64.self, forKey: .deliveryMaxAgeMs)
        deliveryBreakerCooldownMs = try c.decodeIfPresent(Int64.self, forKey: .deliveryBreakerCooldownMs)
        deliveryRetentionHours = try c.decodeIfPresent(Int.self, forKey: .deliveryRetentionHours)
        if let hours = deliveryRetentionHours, hours < 1 {
            throw ConfigError("`deliveryRetentionHours` must be at least 1 (\(hours) given)")
        }
    }

    /// Reads a JSON config file; unknown keys are an error so that typos do not pass silently.
    public static func load(file path: String) throws -> TagflowConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        guard case .object(let object) = try? JSONParser.parse(Array(data)) else {
            throw ConfigError("config file \(path) is not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ConfigError("config file \(path): unknown setting \"\(unknown)\"; known settings: \(known.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(TagflowConfig.self, from: data)
        } catch {
            throw ConfigError("config file \(path): \(error)")
        }
    }

    /// Fills the bootstrap secrets from `TAGFLOW_ADMIN_TOKEN` and `TAGFLOW_WRITE_KEY` where not set.
    public mutating func applyEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
        if adminToken == nil, let token = environment["TAGFLOW_ADMIN_TOKEN"], !token.isEmpty { adminToken = token }
        if writeKey == nil, let key = environment["TAGFLOW_WRITE_KEY"], !key.isEmpty { writeKey = key }
    }

    var limits: IngestLimits {
        IngestLimits(maxEventBytes: maxEventBytes, maxRequestBytes: maxRequestBytes, maxBatchEvents: maxBatchEvents,
                     futureTolerance: EpochMillis(futureToleranceSeconds) * 1000)
    }

    var retryPolicy: RetryPolicy {
        RetryPolicy(waitsMs: deliveryRetryWaitsMs ?? RetryPolicy.standard.waitsMs,
                    maxAgeMs: deliveryMaxAgeMs ?? RetryPolicy.standard.maxAgeMs)
    }

    var identityPolicy: IdentityPolicy {
        var policy = IdentityPolicy.standard
        policy.limits.merge(identityLimits ?? [:]) { $1 }
        policy.priorities.merge(identityPriorities ?? [:]) { $1 }
        policy.blockedValues.formUnion((blockedIdentifierValues ?? []).map { $0.lowercased() })
        return policy
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataDirectory, host, port, durability, maxEventBytes, maxRequestBytes, maxBatchEvents,
             futureToleranceSeconds, ingestQueueCapacity, maxEventsPerCommit, adminToken, writeKey, identityLimits,
             identityPriorities, blockedIdentifierValues, timeZone, tagsDirectory, allowPrivateDestinations,
             deliveryRetryWaitsMs, deliveryMaxAgeMs, deliveryBreakerCooldownMs, deliveryRetentionHours
    }
}

/// A configuration that cannot be used, and why.
public struct ConfigError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Now, in the unit Tagflow stores.
func nowMillis() -> EpochMillis {
    EpochMillis((Date().timeIntervalSince1970 * 1000).rounded())
}
