#!/usr/bin/env node
// Runs an ONNX file in ONNX Runtime (CPU) on .npy inputs and writes every
// output as DIR/<output name>.npy (characters other than [A-Za-z0-9._-]
// become '_', as in `edgeflow run --out`), so tests can compare edgeflow
// with ORT.
//
//   node bench/ort_check.js MODEL.onnx --input NAME=FILE.npy [...] --out DIR
//        [--threads T] [--no-opt]
//
// A single-input model also takes its input positionally: MODEL.onnx FILE.npy.
// Needs onnxruntime-node in bench/node_modules (bench/compare_ort.sh
// --install-only). Exit 0 on success; 1 with a message on any failure.
'use strict';
const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy } = require('./npy');
const { loadOrt, sessionOptions } = require('./ort');

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: ort_check.js MODEL.onnx [FILE.npy | --input NAME=FILE.npy ...] --out DIR [--threads T] [--no-opt]');
  process.exit(2);
}

async function main() {
  const argv = process.argv.slice(2);
  let model = null, out = null, threads = 1, opt = true;
  const named = [], positional = [];
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${k} needs a value`); return argv[++i]; };
    if (k === '--input') named.push(val());
    else if (k === '--out') out = val();
    else if (k === '--threads') threads = parseInt(val(), 10);
    else if (k === '--no-opt') opt = false;
    else if (k.startsWith('-')) usage(`unknown option ${k}`);
    else if (!model) model = k;
    else positional.push(k);
  }
  if (!model || !out) usage('need MODEL and --out DIR');
  const ort = loadOrt();
  const so = sessionOptions(threads);
  if (!opt) so.graphOptimizationLevel = 'disabled';
  const session = await ort.InferenceSession.create(model, so);
  const feeds = {};
  for (const spec of named) {
    const eq = spec.indexOf('=');
    if (eq <= 0) usage(`--input wants NAME=FILE.npy, got ${spec}`);
    const name = spec.slice(0, eq);
    if (!session.inputNames.includes(name)) usage(`model has no input ${name} (inputs: ${session.inputNames.join(', ')})`);
    const a = readNpy(spec.slice(eq + 1));
    feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  }
  const free = session.inputNames.filter((n) => !feeds[n]);
  if (positional.length > free.length) usage('more positional inputs than model inputs');
  positional.forEach((f, i) => { const a = readNpy(f); feeds[free[i]] = new ort.Tensor(a.type, a.data, a.shape); });
  const missing = session.inputNames.filter((n) => !feeds[n]);
  if (missing.length) usage(`missing inputs: ${missing.join(', ')}`);
  const res = await session.run(feeds);
  fs.mkdirSync(out, { recursive: true });
  for (const name of session.outputNames) {
    const t = res[name];
    const file = path.join(out, (name.replace(/[^A-Za-z0-9._-]/g, '_') || 'output') + '.npy');
    writeNpy(file, t.type, t.dims, t.data);
    console.log(`${name}: ${t.type}[${t.dims.join(',')}] -> ${file}`);
  }
}

main().catch((e) => { console.error(`error: ${e.message || e}`); process.exit(1); });
