#!/usr/bin/env bash
# Footprint of edgecore with MetaServer on and edged off (no CRI needed), the figures of issue
# #20, for ours and optionally KubeEdge's Go edgecore side by side:
#   bench/footprint.sh [--build DIR | --ours BINARY] [--go BINARY|BINARY.xz] [--pods N] [--starts N] [--smaps] [--quick] [--all-modules]
# --all-modules also turns on edged, edgeHub and edgeStream, with their CRI and cloud unreachable
# (each retries with backoff): the idle state of a joined node that lost its peers.
# Figures: RSS idle with an empty database and with N pods (SETTLE s after the first answer),
# RSS right after 8 concurrent LISTs of all pods x ROUNDS and AFTER s later, threads, start to
# first MetaServer answer (median of --starts; first start on a fresh copy of the database, then
# a restart on the database it left), LIST and single-GET p50. The pod database is
# bench/make_pod_db.py's (KubeEdge's schema, about 2.8 KiB of JSON per pod); each start gets a
# fresh copy. --quick (100 pods, one start, one round, short waits; ours only unless --go) runs
# in about 5 s, for a CI smoke step. --smaps adds where the idle RSS goes (per mapped file).
# Time figures depend on machine load: note `uptime` with them. Exits non-zero if any
# measurement fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ours=build/edgecore go='' pods=1000 starts=7 rounds=3 settle=3 after=10 smaps='' all=''
while [ $# -gt 0 ]; do
  case $1 in
    --build) ours=$2/edgecore; shift ;;
    --ours) ours=$2; shift ;;
    --go) go=$2; shift ;;
    --pods) pods=$2; shift ;;
    --starts) starts=$2; shift ;;
    --smaps) smaps=--smaps ;;
    --all-modules) all=--all-modules ;;
    --quick) pods=100 starts=1 rounds=1 settle=1 after=2 ;;
    *) echo "usage: $0 [--build DIR | --ours BINARY] [--go BINARY] [--pods N] [--starts N] [--smaps] [--quick] [--all-modules]" >&2; exit 2 ;;
  esac
  shift
done
work=$(mktemp -d /tmp/footprint.XXXX)
trap 'rm -rf "$work"' EXIT
if [ -n "$go" ] && [ "${go%.xz}" != "$go" ]; then
  xz -dc "$go" > "$work/edgecore-go" && chmod +x "$work/edgecore-go" && go=$work/edgecore-go
fi
/usr/bin/python3 bench/make_pod_db.py "$work/pods.db" "$pods" > /dev/null
measure() { /usr/bin/python3 bench/footprint.py "$1" "$work" "$work/pods.db" "$pods" "$starts" \
  "$rounds" "$settle" "$after" $smaps $all; }
ours=$(measure "$ours")
theirs='{}'
[ -z "$go" ] || theirs=$(measure "$go")

echo "$(date -u +%FT%TZ), $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "$pods pods, $starts starts, $rounds rounds of 8 LISTs"
/usr/bin/python3 - "$ours" "$theirs" "$settle" "$after" <<'PY'
import json, sys
a, b, settle, after = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
mb = lambda d, k: f"{d[k] / 1024:.1f} MB" if k in d else "-"
raw = lambda d, k, u="": f"{d[k]}{u}" if k in d else "-"
rows = [
    ("RSS idle, empty database", lambda d: mb(d, "rss_empty_kb")),
    (f"RSS idle, {a['pods']} pods ({settle} s after first answer)", lambda d: mb(d, "rss_pods_kb")),
    ("RSS right after 8 concurrent LISTs", lambda d: mb(d, "rss_after_lists_kb")),
    (f"RSS {after} s after the LISTs", lambda d: mb(d, "rss_after_lists_later_kb")),
    ("peak RSS (VmHWM)", lambda d: mb(d, "hwm_kb")),
    ("threads idle (empty / pods / after LISTs)",
     lambda d: "/".join(str(d.get(k, "-")) for k in ("threads_empty", "threads_pods", "threads_after"))),
    ("start to first answer p50", lambda d: raw(d, "start_p50_ms", " ms")),
    ("start to first answer, each start", lambda d: " ".join(map(str, d.get("start_ms", []))) or "-"),
    ("restart (same database, clean stop) to first answer p50", lambda d: raw(d, "restart_p50_ms", " ms")),
    ("restart to first answer, each", lambda d: " ".join(map(str, d.get("restart_ms", []))) or "-"),
    ("LIST all pods p50", lambda d: raw(d, "list_p50_ms", " ms")),
    ("single GET p50", lambda d: raw(d, "get_p50_ms", " ms")),
    ("8 concurrent LISTs, wall time of a round p50", lambda d: raw(d, "list_round_p50_ms", " ms")),
    ("LIST body", lambda d: raw(d, "list_bytes", " B")),
]
print(f"| | ours | Go edgecore |\n|---|---|---|")
for label, f in rows:
    print(f"| {label} | {f(a)} | {f(b)} |")
for name, d in (("ours", a), ("Go", b)):
    if "smaps_empty" in d:
        r = d["rollup_empty"]
        print(f"\n{name}, idle with an empty database: Rss {r['Rss']} kB = anonymous {r['Anonymous']} kB"
              f" + file-backed {r['Rss'] - r['Anonymous']} kB (Private_Dirty {r['Private_Dirty']} kB)")
        for path, kb in d["smaps_empty"]:
            print(f"  {kb:7d} kB  {path}")
PY
