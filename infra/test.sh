#!/usr/bin/env bash
# The test command of the README and of CI (.ci/run execs it).
#
#   infra/test.sh [--filter EXPR] [--no-install]
#
# Phases (each one timed):
#   1. install  the Debian packages the tests use (mosquitto, influxdb, redis, postgresql, chromium, ...), only the missing ones
#   2. npm      `npm ci` in every folder of the repository that has a package-lock.json
#   3. build    `dotnet build TeleSuivi.sln -c Release`, every warning an error
#   4. test     `dotnet test TeleSuivi.sln -c Release --no-build`, trx files into artifacts/test-results/
# then stops any mosquitto/influxd a crashed test run left behind, repeats each failed test's name, message and the
# start of its stack trace near the end (a CI log often keeps only its tail), and prints, as its very last line,
#   N passed, N failed, N skipped
# It exits non-zero if the build failed, a test failed, the test run broke, or no test ran.
#
# Options:
#   --filter EXPR   passed to `dotnet test --filter` (e.g. "FullyQualifiedName~Hosting")
#   --no-install    install no Debian package; only warn about the missing ones
# Environment:
#   TELESUIVI_TEST_RESULTS   folder for the trx files (default: artifacts/test-results)
#   TELESUIVI_TEST_HANG      a single test running longer than this is killed (default: 10m)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# The packages the tests start or drive for real: brokers and stores as servers, a browser for the pages; libgomp1 is
# the OpenMP runtime the native LightGBM library (train --learner lightgbm) loads.
apt_packages=(mosquitto mosquitto-clients influxdb redis-server postgresql python3-yaml chromium chromium-driver curl ca-certificates libgomp1)

filter=""
install=true
while (( $# > 0 )); do
  case "$1" in
    --filter) [[ $# -ge 2 ]] || { echo "error: --filter needs an expression" >&2; exit 2; }; filter="$2"; shift 2 ;;
    --filter=*) filter="${1#--filter=}"; shift ;;
    --no-install) install=false; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see infra/test.sh --help)" >&2; exit 2 ;;
  esac
done

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive

results="${TELESUIVI_TEST_RESULTS:-$repo/artifacts/test-results}"
hang_timeout="${TELESUIVI_TEST_HANG:-10m}"
# The test run's own temporary folder (TMPDIR of `dotnet test`): the fixtures create their
# telesuivi-services-* and telesuivi-data-* folders in it, so the clean-up below finds this run's
# leftovers and never touches another run's (several developers may test on one machine).
run_tmp="$(mktemp -d "${TMPDIR:-/tmp}/telesuivi-test-XXXXXX")"

# --- timing -----------------------------------------------------------------------------------------
declare -a timings=()
phase_name="" phase_start=0
phase() {
  phase_end
  phase_name="$1"; phase_start=$SECONDS
  printf '\n==> %s\n' "$phase_name"
}
phase_end() {
  [[ -n "$phase_name" ]] || return 0
  local took=$(( SECONDS - phase_start ))
  timings+=("$(printf '%-8s %4d s' "$phase_name" "$took")")
  printf '<== %s: %d s\n' "$phase_name" "$took"
  phase_name=""
}

# --- safety net: processes a crashed test host could not stop -----------------------------------------
# The fixtures stop mosquitto, influxd and telesuivi themselves. If the test host is killed (crash, hang
# timeout, Ctrl+C), the daemons survive it. Every one of them was started with a folder of this run's
# TMPDIR on its command line (-c .../telesuivi-services-*/mosquitto/mosquitto.conf,
# -config .../influxd/influxdb.conf, --data .../telesuivi-data-*), so stop exactly those: SIGTERM,
# then SIGKILL after 10 s. Found through /proc, so they are found even when a pid file is gone.
leftover_pids() {
  local proc args
  for proc in /proc/[0-9]*; do
    [[ "${proc#/proc/}" != "$$" ]] || continue
    mapfile -d '' args 2>/dev/null < "$proc/cmdline" || continue
    [[ "${args[*]:-}" == *"$run_tmp/"* ]] && echo "${proc#/proc/}"
  done
  return 0
}
stop_leftover_processes() {
  local pids=() pid
  mapfile -t pids < <(leftover_pids)
  (( ${#pids[@]} > 0 )) || return 0
  for pid in "${pids[@]}"; do
    echo "stopping leftover process $pid: $(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | cut -c1-160)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 100); do
    mapfile -t pids < <(leftover_pids)
    (( ${#pids[@]} > 0 )) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
cleanup() {
  stop_leftover_processes
  rm -rf "$run_tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. Debian packages -------------------------------------------------------------------------------
package_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

install_packages() {
  if ! command -v dpkg-query >/dev/null; then
    echo "not a Debian system: make sure these are installed: ${apt_packages[*]}"
    return 0
  fi
  local missing=() p
  for p in "${apt_packages[@]}"; do
    package_installed "$p" || missing+=("$p")
  done
  if (( ${#missing[@]} == 0 )); then
    echo "all present: ${apt_packages[*]}"
    return 0
  fi
  local command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if ! $install; then
    echo "warning: missing ${missing[*]} (--no-install: tests that need them will fail); to install: $command" >&2
    return 0
  fi
  if (( EUID != 0 )); then
    echo "error: the tests need these Debian packages: ${missing[*]}" >&2
    echo "run as root:  $command" >&2
    echo "(or run infra/test.sh --no-install to try without them)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  # Install only: mosquitto's and influxdb's packages would otherwise start system services on the
  # default ports (1883, 8086), which the embedded broker and developers' services use.
  local policy=/usr/sbin/policy-rc.d added_policy=false
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# added by infra/test.sh while it installs packages\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    added_policy=true
  fi
  local status=0
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } || status=$?
  if $added_policy; then rm -f "$policy"; fi
  (( status == 0 )) || { echo "error: apt-get failed ($status)" >&2; exit 1; }
  # Belt and braces where a service manager started them anyway (systemd ignores policy-rc.d only if told to).
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    for p in mosquitto influxdb redis-server postgresql; do
      if [[ " ${missing[*]} " == *" $p "* ]]; then
        systemctl disable --now "$p" >/dev/null 2>&1 || true
      fi
    done
  fi
}

# --- 2. npm -----------------------------------------------------------------------------------------
npm_install() {
  local locks=() lock folder
  while IFS= read -r -d '' lock; do locks+=("$lock"); done < <(
    find . \( -name node_modules -o -name .git -o -name bin -o -name obj -o -name artifacts -o -name .services \) -prune \
      -o -name package-lock.json -type f -print0 | sort -z)
  if (( ${#locks[@]} == 0 )); then
    echo "no package-lock.json in the repository: nothing to install"
    return 0
  fi
  for lock in "${locks[@]}"; do
    folder="$(dirname "${lock#./}")"
    if ! command -v npm >/dev/null; then
      echo "error: $folder/package-lock.json needs npm (install Node.js 20+ with npm, e.g. apt-get install nodejs npm)" >&2
      exit 1
    fi
    echo "npm ci in $folder"
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
  done
}

# --- 4. summary ---------------------------------------------------------------------------------------
# Sums the <Counters> of every trx file the run wrote (one per test project). A result that is not
# passed and not skipped counts as failed. If no trx file was written (the test host died before it
# could), falls back to dotnet test's "Failed!/Passed!  - Failed: N, Passed: N, Skipped: N" lines.
counter() { # counter NAME COUNTERS_ELEMENT -> the attribute's value, 0 if absent
  local value
  value="$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2")"
  echo "${value:-0}"
}
passed=0 failed=0 skipped=0 trx_count=0
count_results() {
  local trx counters total ok skip outcome
  shopt -s nullglob
  for trx in "$results"/*.trx; do
    counters="$(tr -d '\n\r' < "$trx" | grep -o '<Counters [^>]*>' | head -n 1 || true)"
    [[ -n "$counters" ]] || continue
    trx_count=$(( trx_count + 1 ))
    outcome="$(tr -d '\n\r' < "$trx" | grep -o '<ResultSummary outcome="[A-Za-z]*"' | head -n 1 | sed 's/.*outcome="\(.*\)"/\1/' || true)"
    echo "$(basename "$trx"): ${outcome:-unknown outcome}, $counters" | sed 's/<Counters //; s/ *\/>$//'
    total=$(counter total "$counters")
    ok=$(( $(counter passed "$counters") + $(counter passedButRunAborted "$counters") ))
    skip=$(( $(counter notExecuted "$counters") + $(counter inconclusive "$counters") + $(counter notRunnable "$counters") ))
    # The VSTest trx logger leaves notExecuted at 0 for a skipped xunit test: count the results marked NotExecuted.
    if (( skip == 0 )); then
      skip=$(tr -d '\n\r' < "$trx" | grep -o '<UnitTestResult [^>]*outcome="NotExecuted"' | wc -l || true)
    fi
    passed=$(( passed + ok ))
    skipped=$(( skipped + skip ))
    failed=$(( failed + total - ok - skip ))
  done
  shopt -u nullglob
  if (( trx_count == 0 )) && [[ -f "$results/dotnet-test.log" ]]; then
    echo "no trx file: counting from the console output"
    local log="$results/dotnet-test.log" line
    # "Failed!  - Failed: 3, Passed: 8, Skipped: 0, Total: 11, ..." (one line per test project) ...
    while IFS= read -r line; do
      failed=$(( failed + $(sed 's/.*Failed: *\([0-9]*\).*/\1/' <<<"$line") ))
      passed=$(( passed + $(sed 's/.*Passed: *\([0-9]*\).*/\1/' <<<"$line") ))
      skipped=$(( skipped + $(sed 's/.*Skipped: *\([0-9]*\).*/\1/' <<<"$line") ))
    done < <(grep -E '^(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" || true)
    # ... or, at normal verbosity, the "Total tests: 11 / Passed: 8 / Failed: 3 / Skipped: 0" blocks.
    if ! grep -qE '^(Passed|Failed)! +- ' "$log"; then
      while IFS= read -r line; do
        case "$line" in
          *Passed:*) passed=$(( passed + ${line##*: } )) ;;
          *Failed:*) failed=$(( failed + ${line##*: } )) ;;
          *Skipped:*) skipped=$(( skipped + ${line##*: } )) ;;
        esac
      done < <(grep -E '^ +(Passed|Failed|Skipped): [0-9]+ *$' "$log" | tr -d ' \r' | sed 's/:/: /' || true)
    fi
  fi
}

# Repeats, from the console log, each failed test with its message and the first lines of its stack trace (30 lines of
# at most 600 characters each), so that a log cut to its last lines still says which test failed and why.
print_failures() {
  local log="$results/dotnet-test.log" failures
  [[ -f "$log" ]] || return 0
  failures="$(awk '
    /^ +(Passed|Skipped) [A-Za-z]/ { keep = 0 }
    /^ +Standard (Output|Error) Messages:/ { keep = 0 }
    /^ +Failed [A-Za-z]/ { keep = 1; lines = 0; print "" }
    keep && lines < 30 { print (length($0) > 600 ? substr($0, 1, 600) " [...]" : $0); lines++ }
  ' "$log")"
  [[ -n "$failures" ]] || return 0
  echo
  echo "failed tests:"
  echo "$failures"
}

# --- run ----------------------------------------------------------------------------------------------
phase install
install_packages

phase npm
npm_install

phase build
command -v dotnet >/dev/null || { echo "error: dotnet is not on PATH (install the .NET 10 SDK)" >&2; exit 1; }
echo "dotnet $(dotnet --version)"
dotnet build TeleSuivi.sln -c Release -warnaserror -nologo

phase test
rm -rf "$results"
mkdir -p "$results"
test_args=(test TeleSuivi.sln -c Release --no-build
  --results-directory "$results"
  --logger "trx;LogFilePrefix=telesuivi"
  --logger "console;verbosity=normal"
  --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none)
[[ -z "$filter" ]] || test_args+=(--filter "$filter")
test_status=0
TMPDIR="$run_tmp" MSBUILDDISABLENODEREUSE=1 dotnet "${test_args[@]}" 2>&1 | tee "$results/dotnet-test.log" || test_status=$?
phase_end

stop_leftover_processes
count_results
print_failures
echo
echo "timings:"
printf '  %s\n' "${timings[@]}"
echo "test results: $results (${trx_count} trx file(s))"
status=0
if (( test_status != 0 )); then
  echo "dotnet test exited with code $test_status"
  status=1
fi
if (( failed > 0 )); then status=1; fi
if (( passed + failed == 0 )); then
  echo "error: no test ran${filter:+ (filter: $filter)}"
  status=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
