#!/usr/bin/env bash
# Builds everything (native libraries included) and runs every test. This is the README's test
# command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
echo "JDK: $JAVA_HOME ($(jdk_version "$JAVA_HOME"))"
"${MVN[@]}" verify "$@"
