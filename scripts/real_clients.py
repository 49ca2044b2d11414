#!/usr/bin/env python3
"""Acceptance test with the official Python tracking clients.

Points segment-analytics-python and rudder-sdk-python, unchanged, at a running `tagflow serve`, sends
page / track / identify / alias / group / screen traffic for a few users with each, then checks through
the admin API that every event and every identity link arrived.

Usage: real_clients.py BASE_URL WRITE_KEY ADMIN_TOKEN [--users N]
Exit 0 when everything arrived; 1 otherwise.
"""
import argparse
import datetime
import json
import sys
import time
import urllib.parse
import urllib.request

from segment.analytics.client import Client as SegmentClient
from rudderstack.analytics.client import Client as RudderClient


def admin_get(base, token, path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def send_traffic(client, prefix, users, sent):
    """Sends one journey per user; records (messageId, user) of every message."""
    def record(result):
        ok, message = result
        if not ok:
            raise RuntimeError("client refused a message: %r" % (message,))
        sent.append(message)

    for i in range(users):
        anon = "%s-anon-%d" % (prefix, i)
        user = "%s-user-%d" % (prefix, i)
        record(client.page(anonymous_id=anon, name="首页", properties={"url": "https://clinic.example.cn/"}))
        record(client.track(anonymous_id=anon, event="view_item", properties={"project": "玻尿酸", "price": 3980}))
        if i == users - 1:
            continue  # the last user stays anonymous
        record(client.identify(user_id=user, anonymous_id=anon, traits={
            "phone": "1380013%04d" % (i + (100 if prefix == "rudder" else 0)),
            "wechat_openid": "o-%s-%d" % (prefix, i), "wechat_appid": "wx123",
            "wechat_unionid": "un-%s-%d" % (prefix, i), "name": "用户%d" % i}))
        record(client.alias(previous_id="%s-old-%d" % (prefix, i), user_id=user))
        record(client.track(user_id=user, event="pay_order", properties={"amount": 3980, "project": "玻尿酸"},
                            timestamp=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)))
        record(client.group(user_id=user, group_id="clinic-shanghai", traits={"name": "上海静安店"}))
        record(client.screen(user_id=user, name="预约页"))
        record(client.identify(user_id=user, traits={"city": "上海"}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("write_key")
    parser.add_argument("admin_token")
    parser.add_argument("--users", type=int, default=4)
    args = parser.parse_args()

    errors = []
    sent = {}
    for name, factory in [("segment", SegmentClient), ("rudder", RudderClient)]:
        messages = []
        client = factory(args.write_key, host=args.base, on_error=lambda e, batch, n=name: errors.append("%s: %s" % (n, e)),
                         max_retries=3)
        send_traffic(client, name, args.users, messages)
        client.flush()
        client.shutdown()
        sent[name] = messages
        print("%s: sent %d messages" % (name, len(messages)))
    if errors:
        print("client errors:", errors)
        return 1

    # Every message arrived, once.
    deadline = time.time() + 10
    wanted = {m["messageId"] for messages in sent.values() for m in messages}
    while True:
        stored, after = {}, 0
        while True:
            page = admin_get(args.base, args.admin_token, "/api/events?limit=1000&after=%d" % after)["events"]
            for event in page:
                stored[event["messageId"]] = event
            if len(page) < 1000:
                break
            after = page[-1]["seq"]
        missing = wanted - set(stored)
        if not missing or time.time() > deadline:
            break
        time.sleep(0.2)
    failures = []
    if missing:
        failures.append("%d messages never arrived, e.g. %s" % (len(missing), sorted(missing)[:3]))

    # Timestamps sent two days back are kept.
    for name, messages in sent.items():
        for message in messages:
            if message.get("event") == "pay_order" and message["messageId"] in stored:
                age = time.time() - datetime.datetime.fromisoformat(
                    stored[message["messageId"]]["timestamp"].replace("Z", "+00:00")).timestamp()
                if not 2 * 86400 - 120 < age < 2 * 86400 + 120:
                    failures.append("%s pay_order timestamp is %.0f s old, expected two days" % (name, age))

    # Every identity link arrived: each identified user's profile holds its anonymous id, alias, phone, WeChat ids.
    for name in sent:
        for i in range(args.users - 1):
            user = "%s-user-%d" % (name, i)
            query = urllib.parse.urlencode({"type": "user_id", "value": user})
            try:
                profile = admin_get(args.base, args.admin_token, "/api/profiles/lookup?" + query)
            except Exception as error:  # noqa: BLE001 - report and go on
                failures.append("%s: lookup failed: %s" % (user, error))
                continue
            have = {(x["type"], x["value"]) for x in profile["identifiers"]}
            expected = {("anonymous_id", "%s-anon-%d" % (name, i)), ("anonymous_id", "%s-old-%d" % (name, i)),
                        ("phone", "1380013%04d" % (i + (100 if name == "rudder" else 0))),
                        ("wechat_openid", "wx123/o-%s-%d" % (name, i)), ("wechat_unionid", "un-%s-%d" % (name, i))}
            if not expected <= have:
                failures.append("%s: identifiers %s lack %s" % (user, sorted(have), sorted(expected - have)))
            if profile["traits"].get("city") != "上海" or profile["traits"].get("name") != "用户%d" % i:
                failures.append("%s: traits %s" % (user, profile["traits"]))
            if profile["eventCount"] != 8:
                failures.append("%s: %d events on the profile, expected 8" % (user, profile["eventCount"]))
        anon = "%s-anon-%d" % (name, args.users - 1)
        query = urllib.parse.urlencode({"type": "anonymous_id", "value": anon})
        if admin_get(args.base, args.admin_token, "/api/profiles/lookup?" + query)["eventCount"] != 2:
            failures.append("%s: the anonymous visitor's profile should hold its 2 events" % anon)

    # A retry stores nothing twice: the Segment client's track messages sent again with their own message
    # ids (what a client's retry of a batch is) are acknowledged and counted as de-duplicated.
    before = admin_get(args.base, args.admin_token, "/api/stats")
    retried = [m for m in sent["segment"] if m["type"] == "track"]
    client = SegmentClient(args.write_key, host=args.base, max_retries=3,
                           on_error=lambda e, batch: errors.append("segment retry: %s" % e))
    for m in retried:
        ok, _ = client.track(user_id=m.get("userId"), anonymous_id=m.get("anonymousId"), event=m["event"],
                             properties=m["properties"], message_id=m["messageId"],
                             timestamp=datetime.datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")))
        if not ok:
            failures.append("segment: the client refused a retried message")
    client.flush()
    client.shutdown()
    after = admin_get(args.base, args.admin_token, "/api/stats")
    if errors:
        failures.append("client errors on retry: %s" % errors)
    if after["eventsAccepted"] != before["eventsAccepted"]:
        failures.append("retried messages were stored again: %d events accepted before, %d after"
                        % (before["eventsAccepted"], after["eventsAccepted"]))
    if after["eventsDeduplicated"] - before["eventsDeduplicated"] != len(retried):
        failures.append("%d retried messages, %d counted as de-duplicated"
                        % (len(retried), after["eventsDeduplicated"] - before["eventsDeduplicated"]))

    total = sum(len(m) for m in sent.values())
    for failure in failures:
        print("FAIL:", failure)
    print("real clients: %d messages sent, %d stored, %d retried and not stored again, %d problems"
          % (total, len(wanted & set(stored)), after["eventsDeduplicated"] - before["eventsDeduplicated"], len(failures)))
    print("clients: %d passed, %d failed" % (1 if not failures else 0, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
