#!/bin/bash
# Export the whole-model test models (mobilenet_v2, resnet18, segnet) and their
# PyTorch references into .cache/models/ (or $1). Needs Debian's python3-torch,
# python3-torchvision and python3-onnx (`./x setup` installs them). Skips when
# the stamp (hash of the generator + the Debian versions of torch & co) matches
# and every file is there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${EF_MODELS_DIR:-$(dirname "$here")/.cache/models}}"
names=(mobilenet_v2 resnet18 segnet)
stamp=$( { cat "$here/make_test_models.py"
           dpkg-query -W python3-torch python3-torchvision python3-onnx python3-numpy 2>/dev/null || true
         } | sha256sum | cut -d' ' -f1)
uptodate=1
[ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] || uptodate=0
for n in "${names[@]}"; do for s in .onnx .input.npy .output.npy .argmax.txt; do
  [ -s "$out/$n$s" ] || uptodate=0
done; done
if [ $uptodate = 1 ]; then echo "test models up to date in $out"; exit 0; fi
if ! /usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null; then
  echo "make_test_models: /usr/bin/python3 lacks torch/torchvision/onnx (run ./x setup)" >&2
  exit 1
fi
mkdir -p "$out"
rm -f "$out/stamp"
/usr/bin/python3 "$here/make_test_models.py" "$out"
echo "$stamp" >"$out/stamp"
