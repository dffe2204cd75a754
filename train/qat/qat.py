#!/usr/bin/python3
"""Quantization-aware fine-tuning of a QDQ file `edgeflow quantize` wrote,
distilled from the float model:

  /usr/bin/python3 train/qat/qat.py FLOAT.onnx QDQ.onnx FRAMES.npy OUT.onnx
      [--images a.jpg,b.jpg] [--mean 0,0,0 --std 1,1,1] [--steps 300] [--batch 8]
      [--lr 2e-5] [--seed 1] [--threads 2] [--features W] [--val K]

FLOAT.onnx: the float model (`edgeflow convert model.tflite FLOAT.onnx`);
QDQ.onnx: its `edgeflow quantize` output; FRAMES.npy: training inputs in the
model's input layout, stacked on axis 0 (`edgeflow quantize --save-frames
DIR` writes the calibration frames as DIR/calib.npy; never pass the held-out
DIR/eval.npy); --images: further still images (RGB /255, then (x-mean)/std).
Augmentation: flips, crops and brightness/contrast. The student is the QDQ
graph with trainable float weights and biases, fake-quantized with the
file's scales (onnx_torch.py); the teacher the float graph. Loss, per output
(each divided by the PTQ file's on the first 32 training frames): mask
probabilities (outputs in [0, 1]) and detection scores ([1, N, 1] logits,
after the sigmoid) squared error; other outputs with an anchor axis next to the
scores (box regressors) squared error weighted per anchor by the teacher's
score. --features W adds W x the error of every int8 activation against
the float one; --val K
keeps every K-th frame of FRAMES.npy out of training and reports the
metrics on them before and after. OUT.onnx: QDQ.onnx with the fine-tuned int8 weights and
int32 biases (same nodes, scales and names). Deterministic for a given
--seed and --threads.
"""
import argparse, os, sys, time

import numpy as np

if __name__ == "__main__" and any(os.path.basename(v) == "eval.npy" for v in sys.argv[1:]):
    sys.exit("train/qat: error: eval.npy holds the held-out frames, which are never trained on (use calib.npy)")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import OnnxGraph, check_pair  # noqa: E402


def floats(s):
    return [float(v) for v in s.split(",")]


class Layout:
    """Model input layout <-> NCHW pixels in [0, 1]."""

    def __init__(self, shape, mean, std):
        self.nhwc = shape[-1] in (1, 3) and shape[1] not in (1, 3)
        self.h, self.w = (shape[1], shape[2]) if self.nhwc else (shape[2], shape[3])
        self.mean = torch.tensor(mean).reshape(1, -1, 1, 1)
        self.std = torch.tensor(std).reshape(1, -1, 1, 1)

    def to_pixels(self, x):
        x = x.permute(0, 3, 1, 2) if self.nhwc else x
        return x * self.std + self.mean

    def from_pixels(self, p):
        x = (p - self.mean) / self.std
        return x.permute(0, 2, 3, 1).contiguous() if self.nhwc else x.contiguous()


def load_images(paths, lay):
    from PIL import Image
    out = []
    for p in paths:
        im = np.asarray(Image.open(p).convert("RGB").resize((lay.w, lay.h), Image.BILINEAR), np.float32) / 255
        out.append(torch.from_numpy(im).permute(2, 0, 1)[None])
    return out


def augment(p, gen):
    """p: [1, 3, H, W] pixels in [0, 1]; random flip, crop (60-100 % of the
    side, resized back) and brightness/contrast; half the frames unchanged."""
    r = torch.rand(6, generator=gen)
    if r[0] < 0.5:
        return p
    _, _, h, w = p.shape
    if r[1] < 0.5:
        p = p.flip(3)
    s = 0.6 + 0.4 * float(r[2])
    ch, cw = max(8, int(h * s)), max(8, int(w * s))
    y0, x0 = int((h - ch) * float(r[3])), int((w - cw) * float(r[4]))
    p = F.interpolate(p[:, :, y0:y0 + ch, x0:x0 + cw], size=(h, w), mode="bilinear", align_corners=False)
    a = 0.7 + 0.6 * float(r[5])
    b = 0.1 * (float(torch.rand(1, generator=gen)) - 0.5)
    return torch.clamp((p - 0.5) * a + 0.5 + b, 0, 1)


def kinds(graph, teacher_out):
    """Per output: 'prob' (values in [0, 1]), 'score' ([1, N, 1] logits) or 'tensor'."""
    r = []
    for (name, shape), y in zip(graph.outputs, teacher_out):
        if len(shape) == 3 and shape[2] == 1 and (y.min() < 0 or y.max() > 1):
            r.append("score")
        elif y.min() >= 0 and y.max() <= 1:
            r.append("prob")
        else:
            r.append("tensor")
    return r


def feature_pairs(teacher, student):
    """(float value, its fake-quantized copy in the student) for every int8 activation the float model also has."""
    have = {o for n in teacher.nodes for o in n.output}
    dq = {n.input[0]: n.output[0] for n in student.nodes if n.op_type == "DequantizeLinear"}
    return [(n.input[0], dq[n.output[0]]) for n in student.nodes
            if n.op_type == "QuantizeLinear" and n.input[0] in have and n.output[0] in dq]


def feature_loss(pairs, s_vals, t_vals):
    """Mean over the pairs of the squared error relative to the float value's energy."""
    return sum(((s_vals[q] - t_vals[f]) ** 2).mean() / (t_vals[f] ** 2).mean().clamp(min=1e-12)
               for f, q in pairs) / len(pairs)


def losses(kind, s_out, t_out):
    score = next((torch.sigmoid(t) for k, t in zip(kind, t_out) if k == "score"), None)
    out = []
    for k, s, t in zip(kind, s_out, t_out):
        if k == "score":
            out.append(((torch.sigmoid(s) - torch.sigmoid(t)) ** 2).sum() / s.shape[0])
        elif k == "prob":
            out.append(((s - t) ** 2).mean())
        elif score is not None and s.dim() == 3 and s.shape[1] == score.shape[1]:
            out.append((((s - t) ** 2).mean(2, keepdim=True) * score).sum() / s.shape[0])
        else:
            out.append(((s - t) ** 2).mean())
    return out


def metrics(kind, s_out, t_out):
    """The report's metrics per frame: mask IoU (prob outputs) and the best
    detection's |score difference| (frames whose best float score >= 0.5)."""
    r = {}
    for k, s, t in zip(kind, s_out, t_out):
        if k == "prob":
            ms, mt = s > 0.5, t > 0.5
            inter, union = (ms & mt).flatten(1).sum(1), (ms | mt).flatten(1).sum(1)
            r.setdefault("IoU", []).extend(torch.where(union > 0, inter / union.clamp(min=1), 1.0).tolist())
        elif k == "score":
            bs, bt = torch.sigmoid(s).flatten(1).max(1)[0], torch.sigmoid(t).flatten(1).max(1)[0]
            r.setdefault("best detection |diff|", []).extend((bs - bt).abs()[bt >= 0.5].tolist())
    return r


def all_losses(teacher, student, kind, pairs, xb):
    """The output loss terms, then the feature term if pairs (teacher without gradients)."""
    s_vals, t_vals = {}, {}
    with torch.no_grad():
        t_out = teacher(xb, values=t_vals)
    ls = losses(kind, student(xb, values=s_vals), t_out)
    return ls + [feature_loss(pairs, s_vals, t_vals)] if pairs else ls


def fixed_losses(teacher, student, kind, pairs, lay, pool, n=32, batch=8):
    """The loss terms on the first n training frames, unaugmented."""
    tot = None
    with torch.no_grad():
        for i in range(0, min(n, len(pool)), batch):
            xb = lay.from_pixels(torch.cat(pool[i:i + batch]))
            ls = all_losses(teacher, student, kind, pairs, xb)
            tot = ls if tot is None else [u + v for u, v in zip(tot, ls)]
    return tot


def validate(teacher, student, kind, frames, batch=8):
    r = {}
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            xb = frames[i:i + batch]
            for k, v in metrics(kind, student(xb), teacher(xb)).items():
                r.setdefault(k, []).extend(v)
    return "  ".join(f"{k} mean {np.mean(v):.4f} {'min' if k == 'IoU' else 'max'} "
                     f"{np.min(v) if k == 'IoU' else np.max(v):.4f}" for k, v in r.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("float_model")
    ap.add_argument("qdq_model")
    ap.add_argument("frames")
    ap.add_argument("out")
    ap.add_argument("--images", default="")
    ap.add_argument("--mean", type=floats, default=[0.0, 0.0, 0.0])
    ap.add_argument("--std", type=floats, default=[1.0, 1.0, 1.0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--features", type=float, default=0.0,
                    help="weight of the feature distillation term (every int8 activation against the float one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val", type=int, default=0,
                    help="keep every k-th frame of FRAMES.npy out of training and report the metrics on them")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    t0 = time.time()

    teacher, student = OnnxGraph(a.float_model), OnnxGraph(a.qdq_model, trainable=True)
    check_pair(teacher, student)
    if len(teacher.inputs) != 1:
        sys.exit(f"{a.float_model}: train/qat needs a model with one image input")
    shape = teacher.inputs[0][1]
    lay = Layout(shape, a.mean, a.std)
    x = np.load(a.frames).astype(np.float32)
    if list(x.shape[1:]) != list(shape[1:]):
        sys.exit(f"{a.frames}: frames of shape {list(x.shape[1:])}, but the model input is {shape[1:]}")
    val = torch.from_numpy(x[a.val - 1::a.val]) if a.val else None
    train = [i for i in range(len(x)) if not a.val or (i + 1) % a.val]
    pool = [lay.to_pixels(torch.from_numpy(x[i:i + 1])) for i in train]
    pool += load_images([p for p in a.images.split(",") if p], lay)
    print(f"train/qat: {len(pool)} training frame(s) ({len(train)} from {a.frames}), {len(student.params)} "
          f"quantized tensor(s), {sum(p.numel() for p in student.params)} parameters", flush=True)

    pairs = feature_pairs(teacher, student) if a.features > 0 else []
    opt = torch.optim.Adam(student.params, lr=a.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * s / a.steps)))
    with torch.no_grad():
        kind = kinds(teacher, teacher(lay.from_pixels(torch.cat(pool[:8]))))
    norm = [max(float(v), 1e-12) for v in fixed_losses(teacher, student, kind, pairs, lay, pool)]
    if val is not None:
        print(f"  validation ({len(val)} frames), PTQ: {validate(teacher, student, kind, val)}", flush=True)
    log = []
    for step in range(a.steps):
        idx = torch.randint(len(pool), (a.batch,), generator=gen)
        xb = lay.from_pixels(torch.cat([augment(pool[int(i)], gen) for i in idx]))
        ls = all_losses(teacher, student, kind, pairs, xb)
        weights = [1.0] * len(kind) + ([a.features] if pairs else [])
        loss = sum(w * v / n for w, v, n in zip(weights, ls, norm)) / sum(weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        log.append(float(loss))
        if (step + 1) % 50 == 0:
            fl = fixed_losses(teacher, student, kind, pairs, lay, pool)
            print(f"  step {step + 1:4d}  batch loss {np.mean(log[-50:]):.4f}  unaugmented training frames: "
                  + " ".join(f"{float(v) / n:.4f}" for v, n in zip(fl, norm))
                  + f" (PTQ = 1)  {time.time() - t0:6.1f} s", flush=True)
    if val is not None:
        print(f"  validation ({len(val)} frames), QAT: {validate(teacher, student, kind, val)}", flush=True)
    student.save_qdq(a.out)
    print(f"train/qat: {a.qdq_model} -> {a.out} ({a.steps} steps of {a.batch}, {a.threads} thread(s), "
          f"{(time.time() - t0) / 60:.1f} min)")


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as e:  # bad files (UnsupportedOp is a ValueError): a message, no traceback
        sys.exit(f"train/qat: error: {e}")
