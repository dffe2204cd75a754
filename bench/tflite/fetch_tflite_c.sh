#!/usr/bin/env bash
# Fetch the native TFLite C library (2.9, linux x86-64) that ships inside the
# npm package tfjs-tflite-node@0.0.2, into models/cache/tflite_c/ (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="$here/models/cache/tflite_c"
lib="$dest/libtensorflowlite_c.so"
sha=dc89b4cd86d956516570bd483668e6dd98907f49901d0567dedc69a29a56b7f7
[[ -f "$lib" && "$(sha256sum "$lib" | cut -d" " -f1)" == "$sha" ]] && { echo "$lib"; exit 0; }
mkdir -p "$dest"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent tfjs-tflite-node@0.0.2 >/dev/null 2>&1) || { echo "npm pack tfjs-tflite-node@0.0.2 failed" >&2; exit 1; }
tar -xzf "$tmp"/tfjs-tflite-node-0.0.2.tgz -C "$tmp" package/cc_deps/linux_amd64/libtensorflowlite_c.so
cp "$tmp/package/cc_deps/linux_amd64/libtensorflowlite_c.so" "$lib.part"
[[ "$(sha256sum "$lib.part" | cut -d" " -f1)" == "$sha" ]] || { echo "sha256 mismatch for libtensorflowlite_c.so" >&2; exit 1; }
mv "$lib.part" "$lib"
echo "$lib"
