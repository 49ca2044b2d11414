#!/usr/bin/env python3
"""The console of a running Tagflow, as a person meets it, in headless Chromium (Selenium).

    console_browser.py BASE_URL ADMIN_TOKEN SCREENSHOT.png

Given a server that traffic is flowing into (`tagflow demo`), checks that:
- without a token the page asks for one and shows nothing else;
- a wrong token is refused with the server's message on the page;
- the link the demo prints (`/#token=…`) opens the live view: counters, the tags with their display
  names, the audiences with their rules, the latest tag changes and events;
- the counters move while the page stays open (it refreshes itself); events a second with a line of the
  last two minutes, and the top events;
- a profile opens from a link, with its identifiers and tags, why it has a tag and why it lacks another;
  it is found by number or by an identifier, and an unknown number is a clear error;
- a tag opens with its definition, members and audit, and its text goes into the editor;
- an audience opens with members, entries and exits, size by day, and exports as CSV;
- tag coverage and overlap findings;
- a webhook destination shows its outbox (changes delivered) and automation, and a test event is delivered;
- the quarantine lists refused messages with their reasons; one corrected and replayed, one replayed as it
  was (refused again, saying why) and discarded;
- a tag written on the page: a typo is pointed at (line, column, suggestion), a dry run says how many
  profiles would have it and who would gain it, publishing makes it live; then it is disabled, enabled and
  deleted (planned first, then confirmed);
- the page logs no JavaScript error.
Saves a screenshot of the live view, prints a line per check and exits non-zero when one fails.
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

base, token, screenshot = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]

options = Options()
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100", "--lang=zh-CN"):
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)

passes = failures = 0


def check(name, passed, detail=""):
    global passes, failures
    print(("ok   " if passed else "FAIL ") + name + (f" ({detail})" if detail else ""))
    if passed:
        passes += 1
    else:
        failures += 1


def wait_for(condition, seconds=20):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition())
    except TimeoutException:
        return None


# The live tables are drawn afresh every second: the page is read in one script each time (an element found
# by one call may be gone at the next).
def text(element_id):
    return driver.execute_script("return document.getElementById(arguments[0]).innerText", element_id)


def rows(table_body_id):
    """The rows' texts, without the "none yet" row an empty table shows."""
    texts = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(row => row.innerText)", f"#{table_body_id} tr")
    return [row for row in texts if not row.startswith("none yet")]


def accepted_events():
    figure = driver.execute_script("""
        const card = [...document.querySelectorAll('#cards .card')].find(c => c.innerText.includes('events accepted'));
        return card ? card.querySelector('b').innerText : null""")
    return int(figure) if figure else None


def click_first(css):
    """Clicks the first element `css` finds and returns its text (None when there is none)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e) return null; e.click(); return e.innerText", css)


try:
    # Without a token: the token box, nothing else.
    driver.get(base + "/")
    check("without a token the page asks for one",
          driver.find_element(By.ID, "login").is_displayed() and not driver.find_element(By.ID, "live").is_displayed())

    # A wrong token: the server's refusal, on the page.
    box = driver.find_element(By.ID, "token")
    box.clear()
    box.send_keys("tfa_not-the-token", Keys.TAB)
    message = wait_for(lambda: text("err") or None, 10)
    check("a wrong token is refused with the server's message", bool(message), message or "no message shown")
    check("a wrong token shows no data", not driver.find_element(By.ID, "live").is_displayed())

    # The link the demo prints.
    driver.get(base + "/?opened=link#token=" + token)
    shown = wait_for(lambda: driver.find_element(By.ID, "live").is_displayed())
    check("the printed link opens the live view", bool(shown))
    first = wait_for(lambda: accepted_events() or None)
    check("the counters show accepted events", bool(first), f"events accepted: {first}")
    tag_names = rows("tags")
    check("the tags are listed with their display names",
          any("高意向-玻尿酸" in row for row in tag_names) and len(tag_names) >= 10, f"{len(tag_names)} tags")
    audiences = rows("segments")
    check("the audiences are listed with their names and rules",
          any("咨询待跟进" in row and "tag." in row for row in audiences), f"{len(audiences)} audiences")
    changes = wait_for(lambda: len(rows("changes")) or None)
    check("the latest tag changes are listed", bool(changes), f"{changes or 0} rows")
    events = wait_for(lambda: len(rows("events")) or None)
    check("the latest events are listed", bool(events), f"{events or 0} rows")
    check("the wrong token's message is gone", text("err") == "")

    # Live: the page refreshes itself while traffic flows.
    later = wait_for(lambda: (accepted_events() or 0) > (first or 0) and accepted_events(), 15)
    check("the counters move while the page is open", bool(later), f"{first} → {later}")

    # The live dashboard: events a second, with a line of the last two minutes; the top events.
    rate = wait_for(lambda: (text("rate").split() or ["0"])[0] not in ("0.0", "0") and text("rate"))
    check("the events-per-second rate is shown and moving", bool(rate), rate or text("rate"))
    points = lambda: len(driver.execute_script(
        "const p = document.querySelector('#spark polyline'); return p ? p.getAttribute('points') : ''").split())
    check("the rate is drawn as a line", bool(wait_for(lambda: points() >= 3)), f"{points()} points")
    check("the top events are counted", len(rows("topEvents")) >= 2, "; ".join(rows("topEvents")[:3]))

    # A profile, from a link in the changes: its identifiers and tags, why it has one, why it lacks another.
    profile = click_first("#changes a.profile")
    heading = wait_for(lambda: f"Profile 用户 {profile}" in text("profile") and text("profile"))
    check("a profile opens from a change", bool(heading), f"profile {profile}")
    check("the profile shows its identifiers and tags",
          bool(heading) and "identifiers" in heading and len(rows("profileTags")) >= 2, f"{len(rows('profileTags')) // 2} tags")
    check("the profile shows its tag history and its latest events",
          len(rows("profileHistory")) >= 1 and len(rows("profileEvents")) >= 1,
          f"{len(rows('profileHistory'))} changes, {len(rows('profileEvents'))} events")
    identifier = driver.find_element(By.CSS_SELECTOR, "#profile code").text.replace(": ", ":", 1)
    box = driver.find_element(By.ID, "lookup")
    box.send_keys("999999", Keys.ENTER)
    missing = wait_for(lambda: "does not exist" in text("profile") and text("profile"))
    check("an unknown profile number is a clear error", bool(missing), (missing or text("profile"))[:80])
    box.clear()
    box.send_keys(identifier, Keys.ENTER)
    found = wait_for(lambda: f"Profile 用户 {profile}" in text("profile"))
    check("a profile is found by an identifier", bool(found), identifier + " → " + text("profile")[:200])

    click_first("#profileTags button.why")
    why = wait_for(lambda: "has it" in rows("profileTags")[1] and rows("profileTags")[1])
    check("why it has a tag: the rule's parts and when it next changes",
          bool(why) and "=" in why and ("next change by time alone" in why or "only an event" in why), (why or "")[:80])
    if driver.find_elements(By.ID, "whyNotButton"):
        click_first("#whyNotButton")
        why_not = wait_for(lambda: "does not have it" in text("whyNotAnswer") and text("whyNotAnswer"))
        check("why it lacks a tag", bool(why_not), (why_not or text("whyNotAnswer"))[:80])

    # Writing a tag: a typo is pointed at, a dry run says who would have it, publishing makes it live.
    rule = driver.find_element(By.ID, "rule")
    rule.clear()
    rule.send_keys('tag browsed_today "今日浏览"\n  when count(view_item) in last 1 dayz >= 1')
    click_first("#dryRun")
    typo = wait_for(lambda: "did you mean `days`?" in text("plan") and text("plan"))
    check("a dry run points at a typo with line, column and a suggestion",
          bool(typo) and "line 2, column" in typo and "Not done" in typo, (typo or text("plan"))[:100])
    rule.clear()
    rule.send_keys('tag browsed_today "今日浏览"\n  when count(view_item) in last 1 days >= 1')
    click_first("#dryRun")
    planned = wait_for(lambda: "profiles would have it" in text("plan") and text("plan"))
    check("a dry run says how many would have the tag, who would gain it", bool(planned) and "gain" in planned,
          (planned or text("plan"))[:100])
    click_first("#publish")
    published = wait_for(lambda: "Published" in text("plan"))
    listed = wait_for(lambda: any("browsed_today" in row and "今日浏览" in row for row in rows("tags")))
    check("publishing makes the tag live and listed", bool(published) and bool(listed), text("plan")[:100])

    # Its lifecycle: disabled, enabled again, deleted once the plan is confirmed.
    def tag_action(action, outcome):
        click_first(f'#tagPanel button.tagAction[data-action="{action}"]')
        return wait_for(lambda: outcome in text("tagAction") and text("tagAction"))
    click_first('#tags a.tag[data-tag="browsed_today"]')
    wait_for(lambda: "今日浏览" in text("tagPanel"))
    disabled = tag_action("disable", "Disabled")
    check("a tag is disabled: taken off every profile", bool(disabled) and "lose" in disabled, (disabled or text("tagAction"))[:100])
    enabled = tag_action("enable", "Enabled")
    check("a disabled tag is enabled again, back-filled", bool(enabled), (enabled or text("tagAction"))[:100])
    planned = tag_action("plan-delete", "confirm delete")
    check("deleting a tag is planned first", bool(planned) and "delete" in planned, (planned or text("tagAction"))[:100])
    deleted = tag_action("delete", "Deleted")
    gone = wait_for(lambda: not any("browsed_today" in row for row in rows("tags")))
    check("a confirmed deletion takes the tag away", bool(deleted) and bool(gone), (deleted or text("tagAction"))[:100])

    # A tag: its definition, members and audit; its text into the editor.
    click_first('#tags a.tag[data-tag="lifecycle"]')
    tag = wait_for(lambda: "生命周期" in text("tagPanel") and len(rows("tagMembers")) > 0 and text("tagPanel"))
    check("a tag opens with its definition, members and who changed it",
          bool(tag) and 'case "流失"' in tag and "create" in tag and "no members" not in tag,
          f"{len(rows('tagMembers'))} members shown")
    click_first("#editTag")
    check("a tag's text goes into the editor",
          driver.execute_script("return document.getElementById('rule').value").startswith("tag lifecycle"))

    # An audience: members with identifiers, entries and exits, size by day, and an export.
    click_first('#segments a.segment[data-segment="visitors_today"]')
    audience = wait_for(lambda: "今日到访人群" in text("segmentPanel") and len(rows("segmentMembers")) > 0 and text("segmentPanel"))
    check("an audience opens with members and their identifiers, entries and exits, size by day",
          bool(audience) and "anonymous_id" in audience and "entered" in audience and "Size by day" in audience,
          f"{len(rows('segmentMembers'))} members shown")
    click_first("#exportSegment")
    exported = wait_for(lambda: "members exported" in text("exported") and text("exported"))
    check("an audience is exported as CSV", bool(exported), text("exported"))

    # Tag coverage and overlap.
    click_first("#governance")
    coverage = wait_for(lambda: len(rows("coverageRows")) > 5 and text("findings"))
    check("tag coverage and overlap findings are shown", bool(coverage) and any(
        kind in coverage for kind in ("nobody", "everybody", "near_duplicate")), (coverage or "")[:100])

    # Destinations: the webhook's outbox filling with delivered changes, its automation, a test sent.
    delivered = wait_for(lambda: any("crm-webhook" in row and "delivered" in row for row in rows("destinations"))
                         and [row for row in rows("destinations") if "crm-webhook" in row][0])
    check("a destination shows its delivered changes and its automation",
          bool(delivered) and "new-visitors: tag.added visited_today" in delivered, (delivered or "")[:120])
    click_first("#destinations button.testDestination")
    tested = wait_for(lambda: "test delivered" in text("destinationTest") and text("destinationTest"))
    check("a destination's test event is delivered", bool(tested), text("destinationTest"))

    # The quarantine: each refused message with its reason; one corrected and replayed, the other discarded.
    click_first("#showQuarantine")
    listed = wait_for(lambda: "missing_event" in text("quarantine") and text("quarantine"))
    check("the quarantine shows refused messages with reason and field",
          bool(listed) and "field event" in listed and "no_user_anon_id" in listed, (listed or text("quarantine"))[:100])
    driver.execute_script("""
        const row = [...document.querySelectorAll('#quarantine tr[data-entry]')].find(r => r.innerText.includes('missing_event'));
        const payload = JSON.parse(row.querySelector('textarea').value);
        payload.event = 'view_item';
        row.querySelector('textarea').value = JSON.stringify(payload);
        row.querySelector('button.replay').click()""")
    replayed = wait_for(lambda: "missing_event" not in text("quarantine") and "no_user_anon_id" in text("quarantine"))
    check("a corrected message is replayed and leaves the quarantine", bool(replayed), text("quarantine")[:100])
    click_first("#quarantine button.replay")
    refused = wait_for(lambda: "still invalid" in text("quarantine") and text("quarantine"))
    check("a message replayed uncorrected is refused again, saying why", bool(refused), text("quarantine")[-120:])
    click_first("#quarantine button.discard")
    emptied = wait_for(lambda: "nothing pending" in text("quarantine"))
    check("a discarded message leaves the quarantine", bool(emptied), text("quarantine")[:100])

    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(height + 40, 4000))  # the whole page in one picture
    driver.save_screenshot(screenshot)
    print(f"screenshot: {screenshot}")

    errors = [entry for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and not any(expected in entry["message"] for expected in (
                  "status of 401", "/api/profiles/999999 ", "status of 422"))]  # wrong token, unknown profile, typo, replay
    check("no JavaScript errors", not errors, "; ".join(entry["message"] for entry in errors)[:500])
finally:
    driver.quit()

print(f"console: {passes} passed, {failures} failed")
sys.exit(1 if failures else 0)
