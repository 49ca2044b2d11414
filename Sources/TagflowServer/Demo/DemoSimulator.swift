import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TagflowCore

/// Plays a medical-aesthetics clinic's traffic through the real collection API: visitors from Douyin,
/// WeChat and Baidu ads browse 玻尿酸 / 热玛吉 / 水光针 on web, mini-program and app, consult, book, pay,
/// identify by phone or WeChat, and visit stores.
public struct DemoSimulator: Sendable {
    /// Base URL of the Tagflow to send to, and the write key of each touchpoint.
    public var baseURL: String
    public var writeKeys: [String: String]
    public var rate: Double
    public var seed: UInt64

    public init(baseURL: String, writeKeys: [String: String], rate: Double, seed: UInt64 = 7) {
        self.baseURL = baseURL
        self.writeKeys = writeKeys
        self.rate = rate
        self.seed = seed
    }

    static let touchpoints = ["web", "miniprogram", "app"]
    static let projects: [(name: String, category: String, price: Int)] = [
        ("玻尿酸", "注射美容", 3980), ("热玛吉", "抗衰紧致", 16800), ("水光针", "皮肤管理", 1280),
        ("光子嫩肤", "皮肤管理", 980), ("超声炮", "抗衰紧致", 9800), ("肉毒素", "注射美容", 2680),
        ("体检套餐", "健康管理", 1999), ("修护精华", "护肤品", 298),
    ]
    static let channels: [(source: String, medium: String, campaign: String)] = [
        ("douyin", "cpc", "双11玻尿酸特惠"), ("wechat", "social", "朋友圈热玛吉体验"), ("baidu", "cpc", "水光针搜索"),
        ("xiaohongshu", "kol", "种草笔记"), ("direct", "none", "自然流量"),
    ]
    static let stores = ["上海静安店", "北京朝阳店", "杭州西湖店", "成都春熙路店"]

    /// A visitor somewhere in their journey.
    struct Visitor {
        var anonymousId: String
        var deviceId: String
        var touchpoint: String
        var channel: Int
        var project: Int
        var phone: String
        var openid: String
        var unionid: String
        var identified = false
        var step = 0
    }

    /// Sends events until the task is cancelled (or `limit` events were sent). Returns how many were sent.
    @discardableResult
    public func run(limit: Int? = nil) async throws -> Int {
        var random = SplitMix64(seed: seed)
        var visitors: [Visitor] = []
        var customers: [String] = []
        var sent = 0
        var credit = 0.0
        let tick = 0.1
        while !Task.isCancelled, limit.map({ sent < $0 }) ?? true {
            credit += rate * tick
            var batches: [String: [JSONValue]] = [:]
            while credit >= 1 {
                credit -= 1
                if visitors.count < 30 || random.next() % 4 == 0 {
                    var visitor = newVisitor(&random)
                    // A third of new visitors are known customers back on another device: OneID merges them.
                    if !customers.isEmpty, random.next() % 3 == 0 {
                        visitor.phone = customers[Int(random.next() % UInt64(customers.count))]
                    }
                    visitors.append(visitor)
                }
                let index = Int(random.next() % UInt64(visitors.count))
                let (touchpoint, message, finished) = nextMessage(for: &visitors[index], random: &random)
                if visitors[index].step == 7, customers.count < 500 { customers.append(visitors[index].phone) }
                batches[touchpoint, default: []].append(message)
                if finished || visitors.count > 400 { visitors.remove(at: finished ? index : 0) }
            }
            for (touchpoint, messages) in batches {
                try await post(messages, touchpoint: touchpoint)
                sent += messages.count
            }
            try await Task.sleep(for: .milliseconds(Int(tick * 1000)))
        }
        return sent
    }

    func newVisitor(_ random: inout SplitMix64) -> Visitor {
        func hex(_ n: Int) -> String { (0..<n).map { _ in String(random.next() % 16, radix: 16) }.joined() }
        return Visitor(
            anonymousId: "\(hex(8))-\(hex(4))-\(hex(4))-\(hex(4))-\(hex(12))", deviceId: "dev-\(hex(10))",
            touchpoint: Self.touchpoints[Int(random.next() % 3)], channel: Int(random.next() % UInt64(Self.channels.count)),
            project: Int(random.next() % UInt64(Self.projects.count)),
            phone: "13\(random.next() % 10)\(String(format: "%08d", Int(random.next() % 100_000_000)))",
            openid: "o\(hex(27))", unionid: "u\(hex(27))")
    }

    /// The visitor's next step, the touchpoint it happens on, and whether the journey ended.
    func nextMessage(for visitor: inout Visitor, random: inout SplitMix64) -> (String, JSONValue, Bool) {
        let project = Self.projects[visitor.project]
        let channel = Self.channels[visitor.channel]
        var context: JSONObject = [
            "device": ["id": .string(visitor.deviceId)],
            "campaign": ["source": .string(channel.source), "medium": .string(channel.medium), "name": .string(channel.campaign)],
            "library": ["name": "tagflow-demo", "version": "1"],
        ]
        if visitor.touchpoint == "miniprogram" {
            context["wechat"] = ["appid": "wx5e2d1c0a9b8f7e6d", "openid": .string(visitor.openid)]
        }
        var message: JSONObject = [
            "messageId": .string(UUID().uuidString), "anonymousId": .string(visitor.anonymousId),
            "timestamp": .string(Timestamp.format(nowMillis())),
        ]
        if visitor.identified { message["userId"] = .string("cust-\(visitor.phone)") }
        message["context"] = .object(context)
        func track(_ event: String, _ properties: JSONValue) {
            message["type"] = "track"
            message["event"] = .string(event)
            message["properties"] = properties
        }
        let roll = random.next() % 100
        var finished = false
        var touchpoint = visitor.touchpoint
        switch visitor.step {
        case 0:
            message["type"] = "page"
            message["name"] = "首页"
            message["properties"] = ["url": .string("https://clinic.example.cn/?utm_source=\(channel.source)"), "title": "首页"]
        case 1...3:
            if roll < 20 { visitor.project = Int(random.next() % UInt64(Self.projects.count)) }
            let shown = Self.projects[visitor.project]
            if roll >= 80 {
                track("favorite_item", ["project": .string(shown.name)])
                visitor.step -= 1  // favouriting keeps them browsing
            } else {
                track("view_item", ["project": .string(shown.name), "category": .string(shown.category),
                                    "price": .int(Int64(shown.price)), "dwell_seconds": .int(Int64(5 + random.next() % 180))])
            }
        case 4:
            if roll < 50 {
                track("consult", ["project": .string(project.name), "channel": "在线咨询"])
            } else {
                track("search", ["keyword": .string(project.name == "体检套餐" || roll > 90 ? "体检套餐" + (roll < 75 ? "价格" : "推荐") : project.name + (roll < 75 ? "价格" : "效果"))])
            }
        case 5:
            track("click_book", ["project": .string(project.name), "button": "立即预约"])
        case 6:
            visitor.identified = true
            message["type"] = "identify"
            message["userId"] = .string("cust-\(visitor.phone)")
            var traits: JSONObject = ["phone": .string(visitor.phone), "interest": .string(project.name)]
            if visitor.touchpoint == "miniprogram" {
                traits["wechat_unionid"] = .string(visitor.unionid)
                traits["wechat_openid"] = .string(visitor.openid)
                traits["wechat_appid"] = "wx5e2d1c0a9b8f7e6d"
            }
            traits["city"] = .string(["上海", "北京", "杭州", "成都"][Int(random.next() % 4)])
            message["traits"] = .object(traits)
        case 7:
            track("submit_form", ["form": "咨询表单", "project": .string(project.name)])
        case 8:
            if roll < 55 {
                track("book_appointment", ["project": .string(project.name), "store": .string(Self.stores[Int(random.next() % 4)])])
            } else {
                finished = true
                track("view_item", ["project": .string(project.name), "category": .string(project.category),
                                    "price": .int(Int64(project.price)), "dwell_seconds": .int(Int64(random.next() % 40))])
            }
        case 9:
            if roll < 70 {
                track("pay_order", ["project": .string(project.name), "category": .string(project.category), "amount": .int(Int64(project.price)),
                                    "currency": "CNY", "order_id": .string("ord-\(random.next() % 10_000_000)")])
            } else {
                finished = true
                track("cancel_appointment", ["project": .string(project.name)])
            }
        default:
            touchpoint = "store"
            finished = true
            message["anonymousId"] = nil
            message["context"] = ["library": ["name": "tagflow-demo-pos", "version": "1"]]
            track("store_visit", ["store": .string(Self.stores[Int(random.next() % 4)]), "project": .string(project.name)])
        }
        visitor.step += 1
        return (touchpoint, .object(message), finished)
    }

    func post(_ messages: [JSONValue], touchpoint: String) async throws {
        guard let key = writeKeys[touchpoint] else { return }
        var request = HTTPClientRequest(url: baseURL + "/v1/batch")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(key):".utf8).base64EncodedString())
        let body: JSONValue = ["batch": .array(messages), "sentAt": .string(Timestamp.format(nowMillis()))]
        request.body = .bytes(ByteBuffer(bytes: body.jsonBytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
    }
}
