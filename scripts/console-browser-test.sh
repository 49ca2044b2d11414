#!/usr/bin/env bash
# The console in a real browser: starts `tagflow demo` (the example tags, live traffic) on a free loopback
# port with a webhook destination (a receiver on loopback) and an automation sending it the profiles that
# gain a tag, and runs scripts/console_browser.py against the console link it prints, in headless Chromium.
# Installs Debian's chromium, chromedriver and a CJK font, and Selenium in a virtualenv, when they are missing.
#
#   scripts/console-browser-test.sh [SCREENSHOT.png]   (default: /tmp/tagflow-console.png; look at it)
set -euo pipefail
cd "$(dirname "$0")/.."

# A CJK font too, or the screenshot shows the Chinese names as boxes.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list :lang=zh | grep -q .; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 bash -c 'apt-get install -y -q chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1; }' || true
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  # Only a machine that cannot install Debian's chromium skips this, saying so loudly.
  echo "console: SKIPPED — chromium and chromedriver are not installed and apt-get could not install them"
  exit 0
fi
venv=.venv-browser
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q selenium==4.51.0

swift build --product tagflow
bin="$(swift build --show-bin-path)/tagflow"
work=$(mktemp -d)
screenshot=${1:-/tmp/tagflow-console.png}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
# A webhook receiver on loopback (answers 200 to every POST), for a destination the console shows.
receiver_port=$(free_port)
python3 -c '
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()' "$receiver_port" &
receiver=$!
echo '{"allowPrivateDestinations": true}' > "$work/config.json"  # the receiver is on loopback
"$bin" demo --data "$work/data" --port "$port" --tags examples/tags --rate 30 --duration 300 --config "$work/config.json" \
  > "$work/demo.log" 2>&1 &
pid=$!
trap 'kill $pid $receiver 2>/dev/null || true; wait $pid $receiver 2>/dev/null || true; rm -rf "$work"' EXIT
link=""
for _ in $(seq 1 300); do
  link=$(grep -o 'http://127.0.0.1:[0-9]*/#token=[A-Za-z0-9_-]*' "$work/demo.log" | head -1 || true)
  [ -n "$link" ] && break
  kill -0 $pid 2>/dev/null || { cat "$work/demo.log"; echo "tagflow demo stopped before printing its console link"; exit 1; }
  sleep 0.1
done
[ -n "$link" ] || { cat "$work/demo.log"; echo "no console link printed"; exit 1; }
sleep 3  # a few seconds of traffic, so that there are events and tag changes to show
token=${link##*#token=}
admin() { curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "http://127.0.0.1:$port$1" -d "$2" >/dev/null; }
admin /api/destinations "{\"name\": \"crm-webhook\", \"url\": \"http://127.0.0.1:$receiver_port/hook\"}"
admin /api/automations '{"name": "new-visitors", "destination": "crm-webhook", "trigger": {"on": "tag.added", "tag": "visited_today"}}'
admin /api/segments '{"source": "segment visitors_today \"今日到访人群\"\n  when tag.visited_today"}'
# Two bad messages in a good batch, for the quarantine: a track with no event name, an identify with no id.
key=$(grep -o 'wk_[A-Za-z0-9_-]*' "$work/demo.log" | head -1)
curl -sf -u "$key:" "http://127.0.0.1:$port/v1/batch" -d '{"batch":[
  {"type":"track","anonymousId":"quarantine-1","properties":{"project":"玻尿酸"}},
  {"type":"track","anonymousId":"quarantine-2","event":"view_item"},
  {"type":"identify","traits":{"phone":"13800138000"}}]}' >/dev/null
"$venv/bin/python" scripts/console_browser.py "http://127.0.0.1:$port" "$token" "$screenshot"
