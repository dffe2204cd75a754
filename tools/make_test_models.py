#!/usr/bin/python3
"""Export the whole-model test models and their PyTorch references.

Run with Debian's Python (/usr/bin/python3: torch 1.13, torchvision 0.14,
onnx 1.12). Writes into OUT_DIR (default: <repo>/.cache/models):

  mobilenet_v2.onnx  resnet18.onnx  segnet.onnx
  NAME.input.npy     a fixed float32 input (seeded normal noise)
  NAME.output.npy    PyTorch's float32 output for that input
  NAME.argmax.txt    flat index of that output's maximum (a clear winner)

The wrapper tools/make_test_models.sh skips the export when its stamp matches.

Everything is deterministic (torch.manual_seed per model). Weights are random
(no downloads); BatchNorm running statistics and affine parameters are
randomized so that BN folding in the engine has real work to do. The models
are exported with training=PRESERVE on an eval-mode model, which keeps the
BatchNormalization nodes in the ONNX file (torch's own eval peephole would
otherwise fold them into the convolutions).

  mobilenet_v2  torchvision, 1x3x224x224 -> 1x1000, do_constant_folding=True
  resnet18      torchvision, 1x3x224x224 -> 1x1000, do_constant_folding=False
  segnet        small segmentation net, 1x3x128x128 -> 1x2x128x128,
                do_constant_folding=False: SpaceToDepth stem, depthwise,
                grouped and dilated convs, residual Add, two Concat skips,
                Resize (bilinear via size from Shape ops, and nearest x2),
                PixelShuffle head (DepthToSpace, mode CRD).
"""
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

OPSET = 13
warnings.filterwarnings("ignore")  # torch 1.13 exporter chatter (deprecations, PRESERVE hints)


def randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=g) * 1.0 + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) * 0.8 + 0.6)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)


class SpaceToDepthFn(torch.autograd.Function):
    """ONNX SpaceToDepth semantics: out[n, (bh*b + bw)*C + c, h, w] = x[n, c, h*b+bh, w*b+bw]."""

    @staticmethod
    def forward(ctx, x, b):
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
        return y.reshape(n, c * b * b, h // b, w // b)

    @staticmethod
    def symbolic(g, x, b):
        return g.op("SpaceToDepth", x, blocksize_i=b)


class SpaceToDepth(nn.Module):
    def __init__(self, b):
        super().__init__()
        self.b = b

    def forward(self, x):
        return SpaceToDepthFn.apply(x, self.b)


def cbr(cin, cout, k=3, s=1, d=1, groups=1, act=nn.ReLU):
    p = d * (k - 1) // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, dilation=d, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), act())


class SegNet(nn.Module):
    """A small encoder-decoder in the style of edge segmentation models."""

    def __init__(self, classes=2):
        super().__init__()
        self.stem = nn.Sequential(SpaceToDepth(2), cbr(12, 32))                    # 64x64
        self.down1 = nn.Sequential(cbr(32, 32, s=2, groups=32, act=nn.ReLU6),     # depthwise
                                   cbr(32, 64, k=1, act=nn.ReLU6))                  # 32x32
        self.mid = cbr(64, 64, d=2, groups=4, act=nn.Hardswish)                    # grouped+dilated
        self.down2 = nn.Sequential(cbr(64, 64, s=2, groups=64),
                                   cbr(64, 96, k=1))                                # 16x16
        self.ctx = nn.Sequential(nn.Conv2d(96, 96, 3, 1, 3, dilation=3, groups=8, bias=True),
                                 nn.BatchNorm2d(96))
        self.fuse2 = cbr(96 + 64, 64, k=1)
        self.up1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.fuse1 = cbr(64 + 32, 32)
        self.head = nn.Conv2d(32, classes * 4, 1)
        self.shuffle = nn.PixelShuffle(2)                                           # 128x128

    def forward(self, x):
        f1 = self.stem(x)
        f2 = self.down1(f1)
        f2 = f2 + self.mid(f2)
        f3 = self.down2(f2)
        f3 = F.relu(f3 + self.ctx(f3))
        u = F.interpolate(f3, size=f2.shape[-2:], mode="bilinear", align_corners=False)
        u = self.fuse2(torch.cat([u, f2], 1))
        u = self.fuse1(torch.cat([self.up1(u), f1], 1))
        return self.shuffle(self.head(u))


def build(name):
    torch.manual_seed({"mobilenet_v2": 1, "resnet18": 2, "segnet": 3}[name])
    if name == "mobilenet_v2":
        m, shape, fold = torchvision.models.mobilenet_v2(weights=None), (1, 3, 224, 224), True
    elif name == "resnet18":
        m, shape, fold = torchvision.models.resnet18(weights=None), (1, 3, 224, 224), False
    else:
        m, shape, fold = SegNet(), (1, 3, 128, 128), False
    randomize_bn(m, 100 + len(name))
    m.eval()
    x = torch.randn(*shape)
    return m, x, fold


def export(name, out_dir):
    import onnx
    m, x, fold = build(name)
    with torch.no_grad():
        y = m(x)
    path = os.path.join(out_dir, name + ".onnx")
    tmp = path + ".tmp"
    torch.onnx.export(m, x, tmp, opset_version=OPSET, input_names=["input"], output_names=["output"],
                      do_constant_folding=fold, training=torch.onnx.TrainingMode.PRESERVE)
    model = onnx.load(tmp)
    onnx.checker.check_model(model)
    ops = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    assert ops.get("BatchNormalization", 0) > 0, name + ": BatchNormalization was folded by the exporter"
    os.replace(tmp, path)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy().astype(np.float32))
    yv = y.numpy()
    flat = np.sort(yv.ravel())[::-1]
    with open(os.path.join(out_dir, name + ".argmax.txt"), "w") as f:
        f.write(f"{int(np.argmax(yv))}\n")  # flat index; the e2e example prints it
    assert flat[0] - flat[1] > 1e-3 * np.abs(yv).max(), name + ": top-1 is a near tie"
    print(f"{name}: {path} in {list(x.shape)} out {list(y.shape)} "
          f"|y|max {np.abs(yv).max():.4g} std {yv.std():.4g}; ops " +
          " ".join(f"{k}:{v}" for k, v in sorted(ops.items())))


NAMES = ["mobilenet_v2", "resnet18", "segnet"]


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, ".cache", "models")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for n in NAMES:
        export(n, out_dir)


if __name__ == "__main__":
    main()
