#!/usr/bin/env bash
# Generates org.jprune.bindings with the real jextract (https://jdk.java.net/jextract/), for users who
# have it. The build itself uses bindings/src/build/Jextract.java, which emits the same shape.
# Usage: scripts/jextract.sh [output dir]   (default bindings/target/jextract-real)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jextract >/dev/null || {
    echo "jextract is not on PATH; get it from https://jdk.java.net/jextract/ (the Maven build does not need it)." >&2
    exit 1
}
out="${1:-bindings/target/jextract-real}"
jextract --output "$out" --target-package org.jprune.bindings --header-class-name jprune_h -D JP_API= native/include/jprune.h
echo "wrote $out (load libjprune first, e.g. with NativeLibrary.lookup() or System.load, before using it)"
