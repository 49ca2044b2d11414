import TagflowCore

/// The shared benchmark data set of `shared/bench/gen_events.py`, regenerated row by row: every column comes
/// from a counter-based SplitMix64 stream, so the rows are exactly those of the Python generator.
public struct BenchData: Sendable {
    public static let events = ["view", "click", "search", "add_to_cart", "checkout", "purchase", "signup"]
    static let thresholds: [UInt64] = [550, 700, 800, 900, 950, 980, 1000]
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    public var users: Int
    public var count: Int
    public var days: Int
    public var projects: Int
    public var seed: UInt64
    /// 2024-01-01T00:00:00Z, the generator's default start.
    public var startMillis: EpochMillis = 1_704_067_200_000

    public init(users: Int, events: Int, days: Int = 60, projects: Int = 20, seed: UInt64 = 42) {
        self.users = users
        self.count = events
        self.days = days
        self.projects = projects
        self.seed = seed
    }

    public struct Row: Sendable, Equatable {
        public var timestamp: EpochMillis
        public var user: Int
        public var event: String
        public var project: String
        public var dwellMillis: Int
        public var itemID: Int
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func stream(_ column: UInt64, _ row: Int) -> UInt64 {
        let start = Self.mix(seed &* Self.golden &+ column)
        return Self.mix(start &+ UInt64(row + 1) &* Self.golden)
    }

    public func row(_ i: Int) -> Row {
        let span = Int64(days) * 86_400_000
        let u = Double(stream(1, i) >> 11) * 0x1p-53
        let roll = stream(2, i) % 1000
        let kind = Self.thresholds.firstIndex { roll < $0 } ?? 0
        return Row(
            timestamp: startMillis + Int64(i) * span / Int64(count), user: Int(u * u * Double(users)),
            event: Self.events[kind], project: "p\(stream(3, i) % UInt64(projects))",
            dwellMillis: kind == 0 ? Int(stream(4, i) % 120_001) : 0, itemID: Int(stream(5, i) % 5000))
    }

    /// The row as the tag engine sees it.
    public func ruleEvent(_ i: Int) -> (RuleEvent, ProfileID) {
        let r = row(i)
        let properties: JSONObject = [
            "project": .string(r.project), "dwell_ms": .int(Int64(r.dwellMillis)), "item_id": .int(Int64(r.itemID)),
        ]
        return (RuleEvent(seq: Int64(i + 1), name: r.event, timestamp: r.timestamp, payload: ["properties": .object(properties)]),
                ProfileID(Int64(r.user) + 1))
    }

    /// 50 tags of every kind over this data set: windowed counts per project, sums, distinct counts,
    /// sessions, sequences, calendar windows, ranges, days-since lifecycles, cases, values and tag references.
    public static func rules(projects: Int = 20) -> String {
        var text = ""
        for p in 0..<10 {
            text += "tag viewed_p\(p)_3x\n  when count(view where project = \"p\(p)\") in last 3 days >= 3\n"
        }
        for p in 0..<10 {
            text += "tag bought_p\(p)_30d\n  when exists(purchase where project = \"p\(p)\") in last 30 days\n"
        }
        for p in 0..<5 {
            text += "tag carted_not_bought_p\(p)\n  when exists(add_to_cart where project = \"p\(p)\") in last 7 days"
                + " and not exists(purchase where project = \"p\(p)\") in last 7 days\n"
        }
        text += """
            tag long_dwell
              when sum(view.dwell_ms) in last 1 days > 300000
            tag browsing_many
              when distinct(view.item_id) in last 7 days >= 10
            tag frequent_visitor
              when sessions in last 7 days >= 3
            tag focused
              when count(view per project) in last 7 days >= 5
            tag quick_buyer
              when sequence(view -> add_to_cart -> purchase within 1 day) in last 30 days
            tag active_today
              when exists(any) today
            tag active_week
              when count(any) this week >= 5
            tag buyer_this_month
              when exists(purchase) this month
            tag lapsed_buyer
              when exists(purchase) between 60 and 30 days ago and not exists(purchase) in last 30 days
            tag searcher
              when count(search) in last 3 days >= 2 and not exists(purchase) in last 3 days
            tag checkout_abandoner
              when exists(checkout) in last 1 days and not exists(purchase) in last 1 days
            tag signed_up
              when exists(signup)
            tag heavy_clicker
              when count(click) in last 1 hours >= 3
            tag recent_viewer
              when exists(view) in last 30 minutes
            tag big_cart
              when count(add_to_cart) in last 7 days >= 5
            tag lifecycle
              case "churned" when days_since(last_time(any)) >= 30
              case "dormant" when days_since(last_time(any)) >= 7
              case "active" when sessions in last 7 days >= 2
              else "new"
            tag buyer_tier
              case "gold" when count(purchase) >= 5
              case "silver" when count(purchase) >= 2
              case "bronze" when exists(purchase)
            tag favourite_project
              value top(view.project) in last 30 days
            tag first_project
              value first(any.project)
            tag last_purchase_project
              value last(purchase.project)
            tag avg_dwell
              value round(avg(view.dwell_ms) in last 7 days / 1000)
            tag days_since_purchase
              value days_since(last_time(purchase))
            tag engaged_buyer
              when tag.frequent_visitor and tag.buyer_tier = "gold"
            tag at_risk
              when tag.lifecycle = "dormant" and exists(purchase)
            tag max_dwell_high
              when max(view.dwell_ms) in last 3 days > 110000
            tag cart_items
              value distinct(add_to_cart.item_id) in last 30 days

            """
        return text
    }
}
