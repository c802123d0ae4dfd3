#!/usr/bin/env bash
# The fault-injection tests (tests/TeleSuivi.Tests/Reliability/) with the issue's 30 s influxd outage (CI uses 5 s).
#
#   infra/reliability.sh [OUTAGE_SECONDS]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export TELESUIVI_RELIABILITY_OUTAGE_SECONDS="${1:-30}"
echo "reliability: influxd outage of $TELESUIVI_RELIABILITY_OUTAGE_SECONDS s"
dotnet build tests/TeleSuivi.Tests -c Release --nologo -v quiet
dotnet test tests/TeleSuivi.Tests -c Release --no-build --nologo --filter "FullyQualifiedName~Reliability" --logger "console;verbosity=normal"
