#!/usr/bin/env bash
# Soak benchmark (not in CI): telesuivi on a private mosquitto + InfluxDB under the simulator's nominal load, for a
# long time, sampling memory, lag and counters; then the accounting (every message published was processed: stored
# or dead-lettered). Writes artifacts/soak/soak.json (the samples) and the "Soak" section of BENCHMARKS.md.
#
#   infra/soak.sh [--patients N] [--minutes M] [--every S]
#
#   --patients N   simulated patients (default 10000: the issue's nominal load)
#   --minutes M    how long the simulator publishes (default 60)
#   --every S      seconds between samples (default 30)
# A run shorter than 60 minutes is written to BENCHMARKS.md as such. Needs mosquitto and influxd (infra/test.sh installs them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
patients=10000 minutes=60 every=30
while (( $# > 0 )); do
  case "$1" in
    --patients) patients="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --every) every="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see infra/soak.sh --help)" >&2; exit 2 ;;
  esac
done

work="$(mktemp -d "${TMPDIR:-/tmp}/telesuivi-soak-XXXXXX")"
out="$repo/artifacts/soak"; mkdir -p "$out"
server_pid=""; sim_pid=""
cleanup() {
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null || true
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  infra/services/stop.sh "$work/mosquitto" >/dev/null 2>&1 || true
  infra/services/stop.sh "$work/influxd" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "soak: building (Release)" >&2
dotnet build src/TeleSuivi.Server -c Release --nologo -v quiet >&2
dll="$repo/src/TeleSuivi.Server/bin/Release/net10.0/telesuivi.dll"
mqtt_url="$(infra/services/start-mosquitto.sh "$work/mosquitto" | sed -n 's/^MQTT_URL=//p')"
influx_url="$(infra/services/start-influxd.sh "$work/influxd" | sed -n 's/^INFLUX_URL=//p')"
http_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="soak-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"  # Security:BootstrapApiKey: at least 32 characters
base="http://127.0.0.1:$http_port"

TELESUIVI_SECURITY__BOOTSTRAPAPIKEY="$key" dotnet "$dll" serve --urls "$base" --data "$work/data" \
  --broker "$mqtt_url" --store "influxdb://${influx_url#http://}/soak" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do curl -fsS "$base/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$base/health/ready" >/dev/null || { echo "error: telesuivi did not become ready:" >&2; tail -20 "$work/server.log" >&2; exit 1; }

echo "soak: $patients patients for $minutes min, a sample every $every s" >&2
TELESUIVI_API_KEY="$key" dotnet "$dll" simulate --broker "$mqtt_url" --patients "$patients" --register-with "$base" \
  --seed 1 --duration "$((minutes * 60))" > "$work/simulate.log" 2>&1 &
sim_pid=$!

metric() { awk -v name="$1" '$1 == name { print $2 }' "$work/metrics.txt"; }
histogram_mean() { awk -v name="$1" '$1 == name"_sum" { s = $2 } $1 == name"_count" { c = $2 } END { if (c > 0) printf "%.4f", s / c; else print 0 }' "$work/metrics.txt"; }
sample() {
  curl -fsS -H "Authorization: Bearer $key" "$base/metrics" > "$work/metrics.txt" || return 1
  local rss; rss="$(awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$server_pid/status")"
  printf '{"t":%s,"rssBytes":%s,"messages":%s,"observations":%s,"queueDepth":%s,"inFlight":%s,"oldestUnacknowledgedSeconds":%s,"meanDurableLagSeconds":%s,"spoolBytes":%s}\n' \
    "$(( $(date +%s) - start ))" "$rss" "$(metric telesuivi_ingest_messages_total)" "$(metric telesuivi_ingest_observations_total)" \
    "$(metric telesuivi_ingest_queue_depth)" "$(metric telesuivi_ingest_in_flight)" "$(metric telesuivi_ingest_oldest_unacknowledged_age_seconds)" \
    "$(histogram_mean telesuivi_ingest_durable_lag_seconds)" "$(metric telesuivi_spool_bytes)" >> "$work/samples.jsonl"
}
start="$(date +%s)"
total=$((minutes * 60))
while kill -0 "$sim_pid" 2>/dev/null; do
  sample || true
  elapsed=$(( $(date +%s) - start ))
  printf '\rsoak: %3d%% (%d of %d s) %s' "$(( elapsed * 100 / (total > 0 ? total : 1) ))" "$elapsed" "$total" "$(tail -1 "$work/samples.jsonl" 2>/dev/null | cut -c1-90)" >&2
  sleep "$every"
done
echo >&2
wait "$sim_pid" || { echo "error: the simulator failed:" >&2; tail -20 "$work/simulate.log" >&2; exit 1; }
sim_pid=""
published="$(sed -n 's/.*Simulator published \([0-9]*\) messages.*/\1/p' "$work/simulate.log" | tail -1)"
[[ -n "$published" ]] || { echo "error: the simulator did not say how many messages it published:" >&2; tail -5 "$work/simulate.log" >&2; exit 1; }

# Drain: everything the broker holds for telesuivi is processed (the counter stops at the published count).
for _ in $(seq 1 600); do
  sample
  [[ "$(metric telesuivi_ingest_messages_total)" -ge "$published" && "$(metric telesuivi_ingest_in_flight)" == 0 ]] && break
  sleep 1
done
processed="$(metric telesuivi_ingest_messages_total)"
dead="$(awk '$1 ~ /^telesuivi_ingest_dead_letters_total\{/ { s += $2 } END { print s + 0 }' "$work/metrics.txt")"
python3 - "$work/samples.jsonl" "$out/soak.json" "$repo/BENCHMARKS.md" "$patients" "$minutes" "$published" "$processed" "$dead" "$(git rev-parse --short HEAD)" <<'PY'
import json, sys, datetime
samples_path, json_path, bench_path, patients, minutes, published, processed, dead, commit = sys.argv[1:]
samples = [json.loads(l) for l in open(samples_path) if l.strip()]
patients, minutes, published, processed, dead = int(patients), int(minutes), int(published), int(float(processed)), int(float(dead))
rss = [s["rssBytes"] for s in samples]
quarter = max(1, len(samples) // 4)
first, last = samples[:quarter], samples[-quarter:]
mean = lambda xs: sum(xs) / len(xs) if xs else 0
result = {
    "commit": commit, "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "patients": patients, "minutes": minutes,
    "published": published, "processed": processed, "deadLettered": dead, "lost": published - processed,
    "rssFirstQuarterMiB": mean([s["rssBytes"] for s in first]) / 2**20, "rssLastQuarterMiB": mean([s["rssBytes"] for s in last]) / 2**20,
    "rssMaxMiB": max(rss) / 2**20 if rss else 0,
    "oldestUnacknowledgedMaxSeconds": max((s["oldestUnacknowledgedSeconds"] for s in samples), default=0),
    "meanDurableLagFirstQuarterSeconds": mean([s["meanDurableLagSeconds"] for s in first]),
    "meanDurableLagLastQuarterSeconds": mean([s["meanDurableLagSeconds"] for s in last]),
    "samples": samples,
}
json.dump(result, open(json_path, "w"), indent=1)
short = "" if minutes >= 60 else f" **A short run ({minutes} min), not the 1-hour soak of the issue.**"
section = f"""## Soak

`infra/soak.sh --patients {patients} --minutes {minutes}` at {commit} ({result['date']}): telesuivi on a private mosquitto and InfluxDB 1.6,
the simulator publishing for {patients:,} patients.{short} Samples in `artifacts/soak/soak.json`.

| figure | value |
| --- | --- |
| messages published (simulator) | {published:,} |
| messages processed (stored or dead-lettered) | {processed:,} ({dead:,} dead-lettered) |
| lost | {published - processed:,} |
| RSS, first quarter → last quarter (mean) | {result['rssFirstQuarterMiB']:.0f} MiB → {result['rssLastQuarterMiB']:.0f} MiB (max {result['rssMaxMiB']:.0f} MiB) |
| mean receive-to-durable lag, first → last quarter | {result['meanDurableLagFirstQuarterSeconds']:.3f} s → {result['meanDurableLagLastQuarterSeconds']:.3f} s (cumulative mean) |
| oldest unacknowledged message, max | {result['oldestUnacknowledgedMaxSeconds']:.1f} s |

"""
text = open(bench_path).read()
start = text.find("## Soak\n")
if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
open(bench_path, "w").write(text.rstrip("\n") + "\n")
print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
PY
