#!/usr/bin/python3
"""--precision fp16 against fp32 in edgeflow on the photos in data/, with
float32 arithmetic (--fp16-compute f32), the default choice per layer (auto)
and float16 arithmetic on every converted layer (f16):
  /usr/bin/python3 bench/fp16/accuracy_fp16.py
mobilenet_v2: top-1 agreement and max|fp16 - fp32| / max|fp32| (logits);
selfie: mask (> 0.5) IoU and max abs diff; BlazeFace: max |sigmoid(score)| diff."""
import glob, os, subprocess, tempfile
import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EF = os.environ.get("EF", os.path.join(os.environ.get("EF_BUILD_DIR", os.path.join(ROOT, "build")), "edgeflow"))
PHOTOS = sorted(glob.glob(os.path.join(ROOT, "data", "*.jpg")))
MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)

def frame(path, size, kind):
    x = np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR), np.float32) / 255
    if kind == "imagenet":
        return np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1)[None])
    return np.ascontiguousarray((x if kind == "0:1" else 2 * x - 1)[None])

def run(model, name, x, precision, compute="auto"):
    d = tempfile.mkdtemp()
    np.save(os.path.join(d, "in.npy"), x)
    subprocess.check_output([EF, "run", model, "--threads", "2", "--precision", precision, "--fp16-compute", compute,
                             "--input", f"{name}={d}/in.npy", "--out", os.path.join(d, "out")])
    return [np.load(os.path.join(d, "out", o)) for o in sorted(os.listdir(os.path.join(d, "out")))]

MODELS = [("mobilenet_v2", ROOT + "/.cache/models/mobilenet_v2.onnx", "input", 224, "imagenet"),
          ("selfie", ROOT + "/models/cache/selfie_segmentation.tflite", "input_1", 256, "0:1"),
          ("blazeface", ROOT + "/models/cache/face_detection_short_range.tflite", "input", 128, "-1:1")]
for (m, path, name, size, kind), compute in [(m, c) for m in MODELS for c in ("f32", "auto", "f16")]:
    agree, worst = [], 0.0
    for p in PHOTOS:
        x = frame(p, size, kind)
        a, b = run(path, name, x, "fp32"), run(path, name, x, "fp16", compute)
        if m == "mobilenet_v2":
            agree.append(float(a[0].argmax() == b[0].argmax()))
            worst = max(worst, float(np.abs(a[0] - b[0]).max() / np.abs(a[0]).max()))
        elif m == "selfie":
            ma, mb = a[0] > 0.5, b[0] > 0.5
            agree.append(float((ma & mb).sum() / max(1, (ma | mb).sum())))
            worst = max(worst, float(np.abs(a[0] - b[0]).max()))
        else:
            sa, sb = 1 / (1 + np.exp(-a[-1])), 1 / (1 + np.exp(-b[-1]))
            worst = max(worst, float(np.abs(sa - sb).max()))
    head = f"{m} (fp16 arithmetic {compute}):"
    if m == "mobilenet_v2":
        print(head, "top-1 agreement %.3f, max|diff|/max|logit| %.3g" % (np.mean(agree), worst), f"({len(PHOTOS)} photos)")
    elif m == "selfie":
        print(head, "mask IoU (min) %.5f, max|diff| %.3g" % (min(agree), worst), f"({len(PHOTOS)} photos)")
    else:
        print(head, "max|sigmoid(score) diff| %.3g" % worst, f"({len(PHOTOS)} photos)")
