#!/usr/bin/env node
// Min/max of every output of MODEL.onnx over the given input .npy files, as
// JSON {name: [min, max]} on stdout. Used by make_qdq.py (test QDQ files).
//   node bench/quant/ranges.js MODEL.onnx INPUT.npy [INPUT.npy ...]
'use strict';
const { readNpy } = require('../npy');
const { loadOrt, sessionOptions } = require('../ort');
(async () => {
  const [model, ...inputs] = process.argv.slice(2);
  const ort = loadOrt();
  const s = await ort.InferenceSession.create(model, sessionOptions(2));
  const r = {};
  for (const f of inputs) {
    const a = readNpy(f);
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor(a.type, a.data, a.shape) });
    for (const [k, t] of Object.entries(out)) {
      let lo = Infinity, hi = -Infinity;
      for (const v of t.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const p = r[k] || [Infinity, -Infinity];
      r[k] = [Math.min(p[0], lo), Math.max(p[1], hi)];
    }
  }
  console.log(JSON.stringify(r));
})().catch((e) => { console.error(e.message || e); process.exit(1); });
