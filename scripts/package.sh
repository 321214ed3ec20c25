#!/usr/bin/env bash
# Builds the Debian packages edgecore-cpp and edgecore-cpp-cloudsim (docs/packaging.md), runs
# lintian on them (any error fails) and prints the paths of the .deb files.
#   scripts/package.sh                   configure build-pkg/ from this tree, build, package
#   BUILD_DIR=build scripts/package.sh   reuse a build tree (CI: the one the tests just ran; its
#                                        programs are linked as that tree was configured)
# The .deb files go to $OUT_DIR (default $BUILD_DIR/packages). LINTIAN=0 skips lintian.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-pkg}
out_dir=${OUT_DIR:-$build_dir/packages}

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  # The project's default build type (RelWithDebInfo, as scripts/build.sh makes): the flags of
  # build/, so ccache serves most objects. cpack strips the binaries, so -g1 costs the package
  # nothing. Tests stay on in the configuration because cloudsim lives in test/; only the
  # packaged targets are built below. EDGECORE_STATIC_LINK: edgecore and keadm linked against
  # static archives (docs/packaging.md; idle RSS 19 -> 13 MB, docs/performance.md).
  cmake -S . -B "$build_dir" "${generator[@]}" -DEDGECORE_BUILD_BENCH=OFF -DEDGECORE_STATIC_LINK=ON
fi
# This build also re-runs CMake if needed, which writes CPackConfig.cmake read just below.
cmake --build "$build_dir" --target edgecore keadm -j "$(nproc)"
if grep -q 'CPACK_COMPONENTS_ALL ".*cloudsim' "$build_dir/CPackConfig.cmake"; then
  cmake --build "$build_dir" --target cloudsim -j "$(nproc)"
fi

mkdir -p "$out_dir"
rm -f "$out_dir"/*.deb
cpack --config "$build_dir/CPackConfig.cmake" -B "$out_dir" >"$out_dir/cpack.log" 2>&1 ||
  { cat "$out_dir/cpack.log" >&2; exit 1; }
rm -rf "$out_dir/_CPack_Packages"  # the staging trees
debs=("$out_dir"/*.deb)

if [ "${LINTIAN:-1}" != 0 ]; then
  for deb in "${debs[@]}"; do
    echo "package: lintian $(basename "$deb")"
    # -I: show info tags too; only errors fail (warnings we accept carry an override and a why).
    lintian -I --fail-on error "$deb"
  done
fi
for deb in "${debs[@]}"; do
  echo "package: $(realpath "$deb") ($(du -k "$deb" | cut -f1) KiB)"
done
