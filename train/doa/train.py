#!/usr/bin/env python3
"""Trains the learned DOA estimator (issue 5) and exports it to ONNX.

Input: X.npy [n, 56, 1, 93] (SRP-PHAT's integrated, noise-subtracted,
whitened and weighted cross-spectra of the 28 mic pairs of an 8-mic 4 cm ULA,
200-6000 Hz in 93 bands, see DoaEstimator::cross_spectra in
include/edgeflow/audio.h) and y.npy [n] (true azimuth, degrees) from
`edgeflow audio dataset` (simulated rooms whose seeds and speech are disjoint
from the benchmark's). Output: a 37-way classifier over
-90..+90 degrees in 5 degree steps (logits), trained against a Gaussian soft
label (sigma 3 degrees). Deterministic: fixed seeds, one thread.

Augmentation: mirroring the array (mic i <-> mic 7-i) maps azimuth a to -a
and pair (i, j) to the conjugate of pair (7-j, 7-i); every batch mirrors a
random half of its frames.

usage: train.py OUT.onnx DATASET_DIR... [--epochs 4]
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn


class DoaCnn(nn.Module):
    def __init__(self, cin=56, freqs=117, bins=37):
        super().__init__()
        self.c1 = nn.Conv2d(cin, 48, (1, 5), stride=(1, 2), padding=(0, 2))
        self.c2 = nn.Conv2d(48, 48, (1, 5), stride=(1, 2), padding=(0, 2))
        self.c3 = nn.Conv2d(48, 32, (1, 3), padding=(0, 1))
        w = (((freqs + 1) // 2) + 1) // 2
        self.fc1 = nn.Linear(32 * w, 128)
        self.fc2 = nn.Linear(128, bins)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        x = torch.relu(self.c3(x))
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("data", nargs="+")
    ap.add_argument("--minutes", type=float, default=0, help="stop after this much training time (0 = no limit; a limit makes the result depend on machine speed)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(a.threads)
    X = torch.cat([torch.from_numpy(np.load(d + "/X.npy").astype(np.float32)) for d in a.data])
    y = torch.cat([torch.from_numpy(np.load(d + "/y.npy").astype(np.float32)) for d in a.data])
    n = len(y)
    P = X.shape[1] // 2
    M = int(round((1 + (1 + 8 * P) ** 0.5) / 2))
    pairs = [(i, j) for i in range(M) for j in range(i + 1, M)]
    mirror = torch.tensor([pairs.index((M - 1 - j, M - 1 - i)) for (i, j) in pairs])

    def flip(xb, yb, sel):
        xm = torch.cat([xb[:, mirror], -xb[:, P + mirror]], 1)
        return torch.where(sel[:, None, None, None], xm, xb), torch.where(sel, -yb, yb)

    # the last 10% of frames come from the last rooms: a by-room validation split
    nv = n // 10
    Xt, yt, Xv, yv = X[: n - nv], y[: n - nv], X[n - nv :], y[n - nv :]
    grid = torch.arange(37, dtype=torch.float32) * 5 - 90

    def soft(yb):
        t = torch.exp(-0.5 * ((yb[:, None] - grid[None, :]) / 3.0) ** 2)
        return t / t.sum(1, keepdim=True)

    def angle(logits):
        p = torch.softmax(logits, 1)
        k = p.argmax(1)
        idx = (k[:, None] + torch.arange(-2, 3)[None, :]).clamp(0, 36)
        w = torch.gather(p, 1, idx)
        return (w * grid[idx]).sum(1) / w.sum(1)

    model = DoaCnn(X.shape[1], X.shape[3])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps_per_epoch = (len(yt) + 255) // 256
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=a.epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=g)
        tot = 0.0
        for i in range(0, len(yt), 256):
            b = perm[i : i + 256]
            xb, yb = flip(Xt[b], yt[b], torch.rand(len(b), generator=g) < 0.5)
            lg = model(xb)
            loss = -(soft(yb) * torch.log_softmax(lg, 1)).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            av = torch.cat([angle(model(Xv[i : i + 1024])) for i in range(0, nv, 1024)])
        ok = ((av - yv).abs() <= 5).float().mean().item()
        print(f"epoch {ep + 1}: loss {tot / len(yt):.4f}, validation rooms within 5 deg {100 * ok:.1f}%, "
              f"{time.time() - t0:.0f} s", flush=True)
        if a.minutes > 0 and time.time() - t0 > a.minutes * 60:
            print("time budget reached", flush=True)
            break
    model.eval()
    torch.onnx.export(model, torch.zeros(1, X.shape[1], 1, X.shape[3]), a.out, input_names=["features"],
                      output_names=["logits"], opset_version=13)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
