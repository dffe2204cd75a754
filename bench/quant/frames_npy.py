#!/usr/bin/python3
"""Writes model inputs (.npy) from real images for calibration/accuracy runs.
  /usr/bin/python3 bench/quant/frames_npy.py OUTDIR WxH nhwc|nchw LO HI IMAGE...
Pixels are scaled linearly from [0, 255] to [LO, HI], RGB."""
import sys, os
import numpy as np
from PIL import Image

out, size, layout, lo, hi = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
w, h = (int(v) for v in size.split("x"))
os.makedirs(out, exist_ok=True)
for k, path in enumerate(sys.argv[6:]):
    im = np.asarray(Image.open(path).convert("RGB").resize((w, h), Image.BILINEAR), np.float32)
    x = lo + im / 255.0 * (hi - lo)
    x = x[None] if layout == "nhwc" else x.transpose(2, 0, 1)[None]
    np.save(os.path.join(out, f"{k:03d}.npy"), np.ascontiguousarray(x, np.float32))
