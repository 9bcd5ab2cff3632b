#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds, generates key pairs on first run
# (var/keys/), starts alertbusd with config/alertbusd.toml and the agency adapters (alertbus-met, -water,
# -fire, -maritime with config/<adapter>.toml, watching var/inbox/<adapter>/) and the SMS outlet
# (alertbus-sms with config/sms.toml and the sample roster; spool sender), shows live traffic
# (alertbus tail) for demo inputs dropped into those directories and sample messages published with
# alertbus send, and keeps the bus running until Ctrl-C.
#   ALERTBUS_DEMO_EXIT=1 scripts/run.sh   exits after the demo traffic instead of serving on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

bin=build
mkdir -p var/keys
for name in broker met water fire maritime sms dashboard admin; do
  [[ -f var/keys/$name.key ]] || "$bin/cli/alertbus" keys gen "$name" --dir var/keys >/dev/null
done
"$bin/broker/alertbusd" --config config/alertbusd.toml --check

rm -f var/broker.endpoint
"$bin/broker/alertbusd" --config config/alertbusd.toml --endpoint-file var/broker.endpoint &
broker=$!
pids=("$broker")
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do  # up to 10 s for the broker to bind
  [[ -f var/broker.endpoint ]] && break
  kill -0 "$broker" 2>/dev/null || { echo "run.sh: alertbusd exited" >&2; exit 1; }
  sleep 0.1
done
[[ -f var/broker.endpoint ]] || { echo "run.sh: alertbusd did not start" >&2; exit 1; }

echo "== adapters (logs in var/log/) =="
mkdir -p var/log
for adapter in met water fire maritime; do
  exe="$bin/adapters/alertbus-$adapter"
  [[ -x "$exe" ]] || continue
  "$exe" --config "config/$adapter.toml" 2>"var/log/$adapter.log" &
  pids+=($!)
  echo "alertbus-$adapter: watching var/inbox/$adapter/"
done

if [[ -x "$bin/outlets/sms/alertbus-sms" ]]; then
  echo "== SMS outlet (spool sender: var/sms/spool/; log var/log/sms.log) =="
  "$bin/outlets/sms/alertbus-sms" --config config/sms.toml roster import config/sms-roster.csv
  "$bin/outlets/sms/alertbus-sms" --config config/sms.toml 2>var/log/sms.log &
  pids+=($!)
fi

echo "== live traffic (alertbus tail) =="
"$bin/cli/alertbus" tail --key var/keys/admin.key &
pids+=($!)
run=$(date +%s)
scripts/demo-inputs.sh var/inbox
"$bin/cli/alertbus" send --key var/keys/met.key --id-suffix "-$run" \
  config/samples/typhoon-orange.json config/samples/rainstorm-yellow-exercise.json
"$bin/cli/alertbus" send --key var/keys/water.key --id-suffix "-$run" config/samples/river-level.json
# The typhoon warning's cancel (解除) goes to everyone the warning reached (tail: "follows seq N").
"$bin/cli/alertbus" send --key var/keys/met.key --id-suffix "-$run" config/samples/typhoon-orange-cancel.json
sleep 3  # let the adapters pick up their inputs and tail print before the status table
if [[ -d var/sms/spool ]]; then
  echo "== SMS written by the spool sender (var/sms/spool/) =="
  ls var/sms/spool | wc -l | xargs echo "files:"
  f=$(ls -t var/sms/spool/*.json 2>/dev/null | head -1 || true)
  [[ -n "$f" ]] && cat "$f" && echo
fi
echo "== alertbus status =="
"$bin/cli/alertbus" status --key var/keys/admin.key
if [[ "${ALERTBUS_DEMO_EXIT:-0}" == 1 ]]; then exit 0; fi
echo "== alertbus is running (endpoint in var/broker.endpoint); Ctrl-C stops it =="
wait "$broker"
