#!/usr/bin/python3
"""Writes PyTorch reference outputs for tests/unit/ops_spatial/torch_test.cc.

Usage: /usr/bin/python3 torch_refs.py OUT_DIR
Each case NAME gets NAME_x.npy (NCHW input), optional NAME_w.npy / NAME_b.npy
and NAME_y.npy (PyTorch's output, NCHW). The case list must match the C++ test.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)


def save(name, **arrays):
    for k, v in arrays.items():
        np.save(os.path.join(out, f"{name}_{k}.npy"), v.detach().numpy().astype(np.float32))


def r(*shape):
    return torch.rand(*shape) * 2 - 1


# Conv: grouped, strided, dilated, asymmetric padding (t=1, l=2, b=0, r=1)
x, w, b = r(1, 6, 11, 9), r(6, 3, 3, 3), r(6)
save("conv_grouped", x=x, w=w, b=b,
     y=F.conv2d(F.pad(x, (2, 1, 1, 0)), w, b, stride=(2, 1), dilation=(2, 1), groups=2))
# depthwise, stride 2, pad 1
x, w, b = r(2, 8, 10, 10), r(8, 1, 3, 3), r(8)
save("conv_dw", x=x, w=w, b=b, y=F.conv2d(x, w, b, stride=2, padding=1, groups=8))
# ConvTranspose, stride 2, pad 1, output_padding 1
x, w, b = r(1, 4, 5, 6), r(4, 3, 3, 3), r(3)
save("deconv", x=x, w=w, b=b, y=F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1))
# grouped ConvTranspose, k4 s2 p1 (the usual 2x upsampler), dilation 1
x, w, b = r(1, 4, 5, 5), r(4, 2, 4, 4), r(4)
save("deconv_grouped", x=x, w=w, b=b, y=F.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2))
# MaxPool: ceil_mode, padding, dilation
x = r(1, 3, 10, 9)
save("maxpool_ceil", x=x, y=F.max_pool2d(x, 3, stride=2, padding=1, dilation=2, ceil_mode=True))
# AveragePool: ceil_mode with and without count_include_pad
x = r(2, 3, 10, 9)
save("avgpool_inc", x=x, y=F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True))
save("avgpool_exc", x=x, y=F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False))
# Resize
x = r(1, 3, 5, 7)
save("bilinear_up", x=x, y=F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
save("bilinear_down", x=x, y=F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=False))
save("bilinear_ac", x=x, y=F.interpolate(x, size=(9, 12), mode="bilinear", align_corners=True))
save("nearest_up", x=x, y=F.interpolate(x, scale_factor=2, mode="nearest"))
save("nearest_size", x=x, y=F.interpolate(x, size=(7, 13), mode="nearest"))
save("nearest_exact", x=x, y=F.interpolate(x, size=(8, 11), mode="nearest-exact"))
# PixelShuffle == DepthToSpace CRD
x = r(1, 12, 3, 4)
save("pixel_shuffle", x=x, y=F.pixel_shuffle(x, 2))
# Softmax over channels
x = r(2, 5, 3, 4) * 4
save("softmax_c", x=x, y=F.softmax(x, dim=1))
print("ok")
