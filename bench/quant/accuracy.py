#!/usr/bin/python3
"""INT8 (or any second model) against FP32 on the same inputs, with edgeflow:
  /usr/bin/python3 bench/quant/accuracy.py classifier|segmenter|detector FP32_MODEL INT8_MODEL INPUT_NAME NPY...
classifier: top-1 agreement; segmenter: mask (> 0.5) IoU; detector: largest
|sigmoid(score) difference| over all anchors (last output = scores)."""
import os, subprocess, sys, tempfile
import numpy as np

EF = os.environ.get("EF", os.path.join(os.path.dirname(__file__), "..", "..", "build", "edgeflow"))

def run(model, name, npy, threads=2):
    d = tempfile.mkdtemp()
    subprocess.check_output([EF, "run", model, "--threads", str(threads), "--input", f"{name}={npy}", "--out", d])
    outs = sorted(os.listdir(d))
    return [np.load(os.path.join(d, o)) for o in outs]

kind, fp32, int8, name, inputs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
vals = []
for npy in inputs:
    a, b = run(fp32, name, npy), run(int8, name, npy)
    if kind == "classifier":
        vals.append(float(a[0].argmax() == b[0].argmax()))
    elif kind == "segmenter":
        ma, mb = a[0] > 0.5, b[0] > 0.5
        vals.append(float((ma & mb).sum() / max(1, (ma | mb).sum())))
    else:
        sa, sb = 1 / (1 + np.exp(-a[0].astype(np.float64))), 1 / (1 + np.exp(-b[0].astype(np.float64)))
        vals.append(float(np.abs(sa - sb).max()))
label = {"classifier": "top-1 agreement", "segmenter": "mask IoU (min)", "detector": "max |score diff|"}[kind]
v = np.array(vals)
print(f"{label}: {v.mean() if kind == 'classifier' else (v.min() if kind == 'segmenter' else v.max()):.4f} over {len(v)} input(s)")
