#!/usr/bin/env bash
# Installs the official Segment and RudderStack Python clients into a virtualenv, starts `tagflow serve`
# on a free loopback port, and runs scripts/real_clients.py against it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-clients
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q segment-analytics-python==2.4.0 rudder-sdk-python==2.1.9

swift build --product tagflow
bin="$(swift build --show-bin-path)/tagflow"
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TAGFLOW_ADMIN_TOKEN=ci-admin-token TAGFLOW_WRITE_KEY=ci-write-key "$bin" serve --data "$data" --port "$port" \
  > "$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
"$venv/bin/python" scripts/real_clients.py "http://127.0.0.1:$port" ci-write-key ci-admin-token --users 4

# The command line manages sources of the running server.
export TAGFLOW_URL="http://127.0.0.1:$port" TAGFLOW_ADMIN_TOKEN=ci-admin-token
created=$("$bin" sources create web-h5 --write-key ci-h5-key)
echo "created: $created"
"$bin" sources list | grep -q "web-h5	ci-h5-key"
curl -sf -u ci-h5-key: "http://127.0.0.1:$port/v1/track" -d '{"anonymousId":"h5","event":"view_item"}' >/dev/null
"$bin" sources revoke "$(echo "$created" | cut -f1)" | grep -q revoked
status=$(curl -s -o /dev/null -w '%{http_code}' -u ci-h5-key: "http://127.0.0.1:$port/v1/track" -d '{"anonymousId":"h5","event":"view_item"}')
[ "$status" = 401 ] || { echo "a revoked write key was answered $status"; exit 1; }

# The command line checks, plans, applies and explains tags on the running server, naming a profile by
# number or by an identifier.
tags=$(mktemp -d)
cat > "$tags/cli.tags" <<'TAGS'
tag cli_viewer "CLI 浏览者"
  when count(view_item where project = "水光针") >= 2
tag cli_city
  value last(identify.city)
TAGS
"$bin" tags lint "$tags"
curl -sf -u ci-write-key: "http://127.0.0.1:$port/v1/identify" \
  -d '{"userId":"cli-1","traits":{"phone":"13900139000","city":"杭州"}}' >/dev/null
for _ in 1 2; do
  curl -sf -u ci-write-key: "http://127.0.0.1:$port/v1/track" \
    -d '{"userId":"cli-1","event":"view_item","properties":{"project":"水光针"}}' >/dev/null
done
sleep 1  # ingestion is acknowledged before the events reach the log
"$bin" tags dry-run "$tags" > "$tags/plan"
grep -q "create    cli_viewer v1: 0 → 1 members" "$tags/plan" && grep -q "dry run: nothing changed" "$tags/plan"
"$bin" tags apply "$tags" > "$tags/applied"
grep -q "create    cli_city v1: 0 → " "$tags/applied" && grep -q "^applied" "$tags/applied"
explained=$("$bin" tags explain cli_city phone:13900139000)
echo "$explained" | grep -q 'has it: "杭州"' || { echo "explain by phone: $explained"; exit 1; }
number=$(echo "$explained" | sed -n 's/^profile \([0-9]*\),.*/\1/p')
"$bin" tags explain cli_viewer --profile "$number" > "$tags/why"
grep -q 'count(view_item where project = "水光针") = 2' "$tags/why"
if "$bin" tags explain cli_viewer somebody 2>"$tags/error"; then echo "explain of \`somebody\` succeeded"; exit 1; fi
grep -q "neither a profile's number nor an identifier" "$tags/error"
rm -rf "$tags"
echo "cli: 2 passed, 0 failed"
