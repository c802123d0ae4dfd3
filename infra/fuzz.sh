#!/usr/bin/env bash
# The long fuzz run: the same fuzz tests as CI (tests/TeleSuivi.Tests/Fuzzing/), with many more cases.
#
#   infra/fuzz.sh [CASES] [SEED]
#
# CASES  cases per input kind (default 20000; CI runs 60 to 2000 depending on the kind)
# SEED   the generator's seed (default: random, printed first, so that a failure can be replayed with
#        TELESUIVI_FUZZ_SEED=SEED TELESUIVI_FUZZ_CASES=CASES dotnet test ... --filter FullyQualifiedName~Fuzzing)
# Builds the test project, then runs the fuzz tests; exits non-zero if any input crashed a decoder or got a 5xx.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export TELESUIVI_FUZZ_CASES="${1:-20000}"
export TELESUIVI_FUZZ_SEED="${2:-$RANDOM$RANDOM}"
echo "fuzz: $TELESUIVI_FUZZ_CASES cases per kind, seed $TELESUIVI_FUZZ_SEED"
dotnet build tests/TeleSuivi.Tests -c Release --nologo -v quiet
dotnet test tests/TeleSuivi.Tests -c Release --no-build --nologo --filter "FullyQualifiedName~Fuzzing" --logger "console;verbosity=normal"
