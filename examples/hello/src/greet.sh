#!/usr/bin/env bash
# Prints a greeting in the language given as the first argument.
set -euo pipefail
case "${1:-en}" in
  en) echo "hello, world" ;;
  fr) echo "bonjour, le monde" ;;
  *) echo "unknown language: $1" >&2; exit 2 ;;
esac
