#!/bin/sh
# Writes a single-layer docker-archive (the `docker save` format) that `ctr images import` loads.
#   make-image.sh OUT.tar REPO:TAG ROOTFS_DIR ENTRYPOINT_JSON CMD_JSON
set -eu
out=$1; tag=$2; rootfs=$3; entrypoint=$4; cmd=$5
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$scratch/layer.tar" .
layer=$(sha256sum "$scratch/layer.tar" | cut -d' ' -f1)
mkdir "$scratch/$layer"
mv "$scratch/layer.tar" "$scratch/$layer/layer.tar"
cat > "$scratch/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":$entrypoint,"Cmd":$cmd,"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"edgecore-cpp test/images/make-image.sh"}]}
JSON
config=$(sha256sum "$scratch/config.json" | cut -d' ' -f1)
mv "$scratch/config.json" "$scratch/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$tag" "$layer" \
  > "$scratch/manifest.json"
tar -C "$scratch" -cf "$out" manifest.json "$config.json" "$layer"
