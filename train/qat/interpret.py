#!/usr/bin/python3
"""Runs an ONNX file with train/qat's torch interpreter (onnx_torch.py), to
check it against edgeflow:

  /usr/bin/python3 train/qat/interpret.py MODEL.onnx INPUTS.npy OUTDIR

INPUTS.npy: inputs stacked on axis 0 (as `edgeflow quantize --save-frames`
writes them); OUTDIR/NAME.npy: each output, stacked the same way. A QDQ
file runs with fake quantization (its int8 semantics), a float file in float.
"""
import os, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import OnnxGraph  # noqa: E402

model, inputs, out = sys.argv[1:4]
torch.set_num_threads(1)
g = OnnxGraph(model, trainable=True)
x = torch.from_numpy(np.load(inputs).astype(np.float32))
with torch.no_grad():
    ys = g(x)
os.makedirs(out, exist_ok=True)
for (name, _), y in zip(g.outputs, ys):
    np.save(os.path.join(out, name.replace("/", "_") + ".npy"), y.numpy())
