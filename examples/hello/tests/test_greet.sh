#!/usr/bin/env bash
# Checks greet.sh for one language.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$(bash "$here/src/greet.sh" "$1")"
case "$1" in
  en) expected="hello, world" ;;
  fr) expected="bonjour, le monde" ;;
esac
[ "$out" = "$expected" ] || { echo "got '$out', expected '$expected'"; exit 1; }
echo "ok: $1 → $out"
