#!/bin/sh
# A stand-in keadm for the taskmanager tests: appends its argument vector (one line per run,
# arguments separated by '|') to $FAKE_KEADM_ARGS and writes the report file keadm would write
# ($EDGECORE_UPGRADE_REPORT). FAKE_KEADM_UPGRADE_EXIT makes `upgrade` fail with that status.
out="${FAKE_KEADM_ARGS:?}"
line=""
for a in "$@"; do line="$line|$a"; done
printf '%s\n' "${line#|}" >> "$out"
report() {
  printf '{"event":"%s","success":%s,"fromVersion":"%s","toVersion":"%s"}' "$1" "$2" "$3" "$4" \
    > "${EDGECORE_UPGRADE_REPORT:?}"
}
case "$1" in
  backup) report Backup true "" v1.22.0 ;;
  rollback) report Rollback true v1.23.1 v1.22.0 ;;
  config-update) report ConfigUpdate true "" v1.22.0 ;;
  upgrade)
    to=""
    while [ $# -gt 0 ]; do
      if [ "$1" = "--toVersion" ]; then to="$2"; fi
      shift
    done
    code="${FAKE_KEADM_UPGRADE_EXIT:-0}"
    if [ "$code" = 0 ]; then report Upgrade true v1.22.0 "$to"; else report Upgrade false v1.22.0 "$to"; fi
    exit "$code" ;;
esac
exit 0
