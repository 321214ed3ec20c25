#!/usr/bin/env bash
# EDGECORE_STATIC_LINK check (registered only in such a build): the program needs no shared
# library but glibc, OpenSSL, libmosquitto and zlib (cmake/EdgecoreStaticLink.cmake says why those
# stay), carries packed relative relocations, and runs: --version and --defaultconfig answer.
#   static_link_test.sh PROGRAM
set -euo pipefail
program=$1
allowed='^(libc\.so\.6|libm\.so\.6|libssl\.so\.3|libcrypto\.so\.3|libmosquitto\.so\.1|libz\.so\.1|ld-linux-x86-64\.so\.2)$'
needed=$(readelf -dW "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "FAIL: no NEEDED entries read from $program" >&2; exit 1; }
bad=$(grep -Ev "$allowed" <<<"$needed" || true)
if [ -n "$bad" ]; then
  echo "FAIL: $program needs shared libraries that should be linked statically:" >&2
  echo "$bad" >&2
  exit 1
fi
readelf -dW "$program" | grep -q '(RELR)' || { echo "FAIL: no DT_RELR (pack-relative-relocs)" >&2; exit 1; }
readelf -dW "$program" | grep -q 'FLAGS_1.*PIE' || { echo "FAIL: not a PIE" >&2; exit 1; }
readelf -lW "$program" | grep -q GNU_RELRO || { echo "FAIL: no RELRO segment" >&2; exit 1; }
case $(basename "$program") in
  edgecore)
    "$program" --version | grep -q '^edgecore-cpp ' || { echo "FAIL: --version" >&2; exit 1; }
    "$program" --defaultconfig | grep -q '^kind: EdgeCore' || { echo "FAIL: --defaultconfig" >&2; exit 1; } ;;
  *)
    "$program" --help > /dev/null || { echo "FAIL: --help" >&2; exit 1; } ;;
esac
echo "ok: $program needs only: $(tr '\n' ' ' <<<"$needed")"
