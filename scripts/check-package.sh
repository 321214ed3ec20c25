#!/usr/bin/env bash
# Installs the packages scripts/package.sh built into a scratch root with the real dpkg (maintainer
# scripts included) and checks what an edge node would get: paths and modes, the unit, the
# installed binary's version, then upgrade, remove and purge. Touches nothing outside the root.
#   scripts/check-package.sh                 the .deb files in $BUILD_DIR/packages (build-pkg/)
#   scripts/check-package.sh A.deb B.deb     given files
# LINTIAN=1 also runs lintian (package.sh already does).
set -euo pipefail
debs=()
for deb in "$@"; do debs+=("$(realpath "$deb")"); done
cd "$(dirname "$0")/.."
if [ ${#debs[@]} -eq 0 ]; then
  debs=("${BUILD_DIR:-build-pkg}/packages"/*.deb)
fi
node_deb="" cloudsim_deb=""
for deb in "${debs[@]}"; do
  case "$(dpkg-deb -f "$deb" Package)" in
    edgecore-cpp) node_deb=$deb ;;
    edgecore-cpp-cloudsim) cloudsim_deb=$deb ;;
  esac
done
[ -n "$node_deb" ] || { echo "check-package: no edgecore-cpp .deb in ${debs[*]}" >&2; exit 1; }

failures=0
ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; failures=$((failures + 1)); }
expect() {  # expect DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
root=$scratch/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# Chrootless: the scratch root has no shell to chroot into; the scripts honour $DPKG_ROOT instead.
# --force-depends: the root's dpkg database knows none of the libraries the host provides.
dpkg_root() {
  dpkg --root="$root" --force-not-root --force-script-chrootless --force-depends \
    --log=/dev/null "$@" >"$scratch/dpkg.log" 2>&1 || { cat "$scratch/dpkg.log" >&2; return 1; }
}
# Paths below are relative to the scratch root.
mode_is() { [ "$(stat -c '%a' "$root/$1")" = "$2" ]; }
stripped() { ! readelf -S "$root/$1" | grep -qE '\.symtab|\.debug_'; }
program() { mode_is "$1" 755 && stripped "$1"; }
present() { for p; do [ -e "$root/$p" ] || [ -L "$root/$p" ] || return 1; done; }
absent() { for p; do [ ! -e "$root/$p" ] && [ ! -L "$root/$p" ] || return 1; done; }
installed_version() {
  dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' edgecore-cpp
}
config=etc/kubeedge/config/edgecore.yaml
link=etc/systemd/system/multi-user.target.wants/edgecore.service

version=$(dpkg-deb -f "$node_deb" Version)
upstream=${version%-*}
echo "check-package: $(basename "$node_deb") version=$version"

echo "install"
pkgs=("$node_deb")
[ -n "$cloudsim_deb" ] && pkgs+=("$cloudsim_deb")
dpkg_root -i "${pkgs[@]}"
for f in usr/bin/edgecore usr/bin/keadm; do
  expect "$f 0755, stripped" program "$f"
done
for f in lib/systemd/system/edgecore.service usr/share/man/man8/edgecore.8.gz \
  usr/share/man/man8/keadm.8.gz usr/share/doc/edgecore-cpp/copyright \
  usr/share/doc/edgecore-cpp/changelog.Debian.gz; do
  expect "$f 0644" mode_is "$f" 644
done
expect "var/lib/kubeedge 0700 (postinst)" mode_is var/lib/kubeedge 700
expect "nothing shipped under /etc (keadm join writes the config)" \
  eval '! dpkg-deb -c "$node_deb" | grep -q " \./etc/"'
expect "unit ExecStart=/usr/bin/edgecore" \
  grep -qE '^ExecStart=/usr/bin/edgecore( |$)' "$root/lib/systemd/system/edgecore.service"
sed "s|^ExecStart=/usr/bin/edgecore|ExecStart=$root/usr/bin/edgecore|" \
  "$root/lib/systemd/system/edgecore.service" >"$scratch/edgecore.service"
expect "systemd-analyze verify (ExecStart in the scratch root)" \
  systemd-analyze verify "$scratch/edgecore.service"
changelog=$(zcat "$root/usr/share/doc/edgecore-cpp/changelog.Debian.gz" | head -1)
expect "changelog.Debian names $version" grep -qF "($version)" <<<"$changelog"
got=$("$root/usr/bin/edgecore" --version)
expect "edgecore --version '$got' is $upstream" eval '[[ "$got" == "edgecore-cpp $upstream "* ]]'
if "$root/usr/bin/keadm" --help 2>&1 | grep -qE '^  version\b'; then
  got=$("$root/usr/bin/keadm" version 2>&1)
  expect "keadm version '$got' names $upstream" eval '[[ "$got" == *"$upstream"* ]]'
else
  echo "  skip keadm version (not in this build)"
fi
if [ -n "$cloudsim_deb" ]; then
  expect "usr/bin/cloudsim 0755, stripped" program usr/bin/cloudsim
  expect "usr/share/man/man1/cloudsim.1.gz 0644" mode_is usr/share/man/man1/cloudsim.1.gz 644
  expect "cloudsim --help runs" eval '"$root/usr/bin/cloudsim" --help >/dev/null'
fi

# Node state as keadm join and a running edgecore leave it.
mkdir -p "$(dirname "$root/$config")" "$(dirname "$root/$link")"
echo "edgecore.yaml from keadm join" >"$root/$config"
for f in edgecore.db edgecore.db-wal edgecore-outbox.db edgecore-outbox.db-shm; do
  echo "db" >"$root/var/lib/kubeedge/$f"
done
ln -s /lib/systemd/system/edgecore.service "$root/$link"

echo "upgrade to $upstream-99 (the same package, version bumped)"
dpkg-deb -R "$node_deb" "$scratch/next"
sed -i "s/^Version: .*/Version: $upstream-99/" "$scratch/next/DEBIAN/control"
dpkg-deb --root-owner-group -b "$scratch/next" "$scratch/next.deb" >/dev/null
dpkg_root -i "$scratch/next.deb"
expect "installed version is $upstream-99" eval '[ "$(installed_version)" = "$upstream-99" ]'
expect "config untouched" grep -qx "edgecore.yaml from keadm join" "$root/$config"
expect "database untouched, directory still 0700" \
  eval 'grep -qx db "$root/var/lib/kubeedge/edgecore.db" && mode_is var/lib/kubeedge 700'

echo "remove"
dpkg_root -r edgecore-cpp
expect "binaries and unit gone" \
  absent usr/bin/edgecore usr/bin/keadm lib/systemd/system/edgecore.service
expect "config, databases and enable link kept" \
  present "$config" var/lib/kubeedge/edgecore.db var/lib/kubeedge/edgecore-outbox.db "$link"

echo "purge"
dpkg_root -P edgecore-cpp
expect "databases and /var/lib/kubeedge gone" absent var/lib/kubeedge
expect "enable link gone" absent "$link"
expect "config kept (keadm reset removes it)" present "$config"

# The systemd branch of the maintainer scripts, which the scratch root above skips (DPKG_ROOT set,
# no systemd): run them as dpkg would on a systemd host, with systemctl and deb-systemd-invoke
# stubbed to record their calls, in a private mount namespace whose tmpfs /run (holding
# /run/systemd/system), /var/lib and /etc/systemd hide the host's, so nothing real is touched.
echo "maintainer scripts on a systemd host (stubbed systemctl, private mounts)"
dpkg-deb -e "$node_deb" "$scratch/control"
mkdir "$scratch/stub"
for tool in systemctl deb-systemd-invoke; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$scratch" >"$scratch/stub/$tool"
  chmod 755 "$scratch/stub/$tool"
done
cat >"$scratch/systemd-host.sh" <<'SCRIPT'
set -e
c=$1
mount -t tmpfs none /run && mkdir -p /run/systemd/system
mount -t tmpfs none /var/lib
mount -t tmpfs none /etc/systemd
step() { echo "== $*" >>"$c/../calls"; sh "$c/$@"; }
step postinst configure
stat -c 'mode %a' /var/lib/kubeedge >>"$c/../calls"
step postinst configure 0.1.0-1
step prerm upgrade 0.1.0-2
step prerm remove
step postrm remove
link=/etc/systemd/system/multi-user.target.wants/edgecore.service
mkdir -p "$(dirname $link)"
ln -s /lib/systemd/system/edgecore.service $link
step postrm purge
[ -L $link ] && echo "link kept" >>"$c/../calls"
[ -d /var/lib/kubeedge ] && echo "dir kept" >>"$c/../calls"
true
SCRIPT
if [ -d /etc/systemd ] && PATH="$scratch/stub:$PATH" unshare -m sh "$scratch/systemd-host.sh" \
  "$scratch/control" 2>"$scratch/unshare.err"; then
  expected='== postinst configure
systemctl daemon-reload
mode 700
== postinst configure 0.1.0-1
systemctl daemon-reload
deb-systemd-invoke try-restart edgecore.service
== prerm upgrade 0.1.0-2
== prerm remove
deb-systemd-invoke stop edgecore.service
== postrm remove
systemctl daemon-reload
== postrm purge
systemctl daemon-reload'
  # Install only reloads (never enables or starts), upgrade try-restarts, remove stops, purge
  # removes the link and the directory.
  expect "systemctl/deb-systemd-invoke calls per step as expected" \
    eval '[ "$(cat "$scratch/calls")" = "$expected" ]'
  diff <(echo "$expected") "$scratch/calls" | sed 's/^/       /' || true
else
  why=$(head -1 "$scratch/unshare.err")
  echo "  skip systemd branch: no /etc/systemd or no mount namespace ($why)"
fi

if [ "${LINTIAN:-0}" != 0 ]; then
  for deb in "${debs[@]}"; do
    expect "lintian $(basename "$deb"): no errors" lintian --fail-on error "$deb"
  done
fi

if [ "$failures" -ne 0 ]; then
  echo "check-package: $failures check(s) failed" >&2
  exit 1
fi
echo "check-package: all checks passed"
