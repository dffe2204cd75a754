#!/usr/bin/env bash
# Fetch the pretrained MediaPipe edge models from the npm registry and verify
# them against models/manifest.
#
#   tools/fetch_models.sh [DEST]        (default: <repo>/models/cache, git-ignored)
#
# Idempotent: files already present with the right sha256 are kept, and a
# package is only downloaded (`npm pack`) when one of its files is missing or
# wrong. Files packed inside a MediaPipe "*_packed_assets.data" blob (the palm
# and pose detectors, the face-mesh models) are cut out with the start/end
# offsets that the package's loader script lists. Every file's sha256 is
# checked against the manifest; a mismatch is an error (exit status 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$here/models/manifest"
dest="${1:-$here/models/cache}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

die() { echo "fetch_models: error: $*" >&2; exit 1; }
[[ -f "$manifest" ]] || die "manifest not found: $manifest"
command -v sha256sum >/dev/null || die "sha256sum not found"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Manifest lines: name  package@version  path-in-package  sha256
# (path-in-package "A.data:/x/y.tflite" = file /x/y.tflite inside packed blob A.data)
mapfile -t lines < <(grep -v '^[[:space:]]*\(#\|$\)' "$manifest")

# 1. Which packages have a missing or wrong file?
declare -A need_pkg=()
for l in "${lines[@]}"; do
  read -r name pkg path sha <<<"$l"
  f="$dest/$name"
  if [[ ! -f "$f" || "$(sha_of "$f")" != "$sha" ]]; then need_pkg[$pkg]=1; fi
done

if ((${#need_pkg[@]} == 0)); then
  echo "fetch_models: all ${#lines[@]} models present and verified in $dest"
  exit 0
fi
command -v npm >/dev/null || die "npm not found (apt-get install npm)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Offsets of a file inside a packed-assets blob, from the loader script:
# loadPackage({"files": [{"filename": "/x/y.tflite", "start": S, "end": E}, ...]})
packed_range() {  # loader.js inner-path -> "S E"
  local r
  r="$(grep -o "\"filename\": *\"$2\", *\"start\": *[0-9]*, *\"end\": *[0-9]*" "$1" | head -n1 |
       sed 's/.*"start": *\([0-9]*\), *"end": *\([0-9]*\)/\1 \2/')" || true
  [[ -n "$r" ]] || die "$2 not listed in $(basename "$1")"
  echo "$r"
}

# 2. Download and unpack each needed package once.
for pkg in "${!need_pkg[@]}"; do
  d="$work/$(echo "$pkg" | tr '/@' '__')"
  mkdir -p "$d"
  echo "fetch_models: npm pack $pkg"
  tgz="$(cd "$d" && npm pack --silent "$pkg" 2>/dev/null | tail -n1)" || die "npm pack $pkg failed"
  [[ -f "$d/$tgz" ]] || die "npm pack $pkg produced no tarball"
  tar -xzf "$d/$tgz" -C "$d" || die "cannot unpack $tgz"
done

# 3. Extract + verify.
bad=0
for l in "${lines[@]}"; do
  read -r name pkg path sha <<<"$l"
  f="$dest/$name"
  [[ -n "${need_pkg[$pkg]:-}" ]] || continue
  d="$work/$(echo "$pkg" | tr '/@' '__')"
  if [[ "$path" == *:* ]]; then
    blob="$d/${path%%:*}"
    inner="${path#*:}"
    loader="${blob%.data}_loader.js"
    [[ -f "$blob" && -f "$loader" ]] || die "$pkg: ${path%%:*} or its loader script missing"
    read -r start end <<<"$(packed_range "$loader" "$inner")"
    (( end > start )) || die "$pkg: bad range [$start,$end) for $inner"
    dd if="$blob" of="$f.part" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$((end - start))" status=none ||
      die "cannot read $inner from $blob"
  else
    [[ -f "$d/$path" ]] || die "$pkg: $path not in the package"
    cp "$d/$path" "$f.part"
  fi
  got="$(sha_of "$f.part")"
  if [[ "$got" != "$sha" ]]; then
    echo "fetch_models: error: sha256 mismatch for $name ($pkg $path): expected $sha, got $got" >&2
    rm -f "$f.part"
    bad=1
    continue
  fi
  chmod 644 "$f.part"
  mv -f "$f.part" "$f"
  echo "fetch_models: ok $name"
done
((bad == 0)) || die "some models failed verification (see above)"
echo "fetch_models: all ${#lines[@]} models present and verified in $dest"
