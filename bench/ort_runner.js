#!/usr/bin/env node
// Times an ONNX model in ONNX Runtime (CPU), the peer edgeflow is measured
// against. Mirrors `edgeflow bench --json`.
//
//   node bench/ort_runner.js MODEL.onnx [--threads T] [--runs R] [--warmup W]
//        [--input NAME=FILE.npy ...] [--json] [--cpu]
//
// --cpu times each run by the process's CPU time (process.cpuUsage) instead
// of wall time: less sensitive to other load, meaningful at 1 thread.
// Inputs: --input, else MODEL.input.npy beside the model (single-input
// models), else seeded pseudo-random values in the shape ORT reports
// (dynamic dimensions become 1). Session: intraOpNumThreads=T,
// interOpNumThreads=1, sequential, graphOptimizationLevel=all.
'use strict';
const fs = require('fs');
const { readNpy } = require('./npy');
const { loadOrt, sessionOptions } = require('./ort');

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: ort_runner.js MODEL.onnx [--threads T] [--runs R] [--warmup W] [--input NAME=FILE.npy] [--json] [--cpu]');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { threads: 1, runs: 30, warmup: 10, inputs: [], json: false, cpu: false, model: null };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${k} needs a value`); return argv[++i]; };
    if (k === '--threads') a.threads = parseInt(val(), 10);
    else if (k === '--cpu') a.cpu = true;
    else if (k === '--runs') a.runs = parseInt(val(), 10);
    else if (k === '--warmup') a.warmup = parseInt(val(), 10);
    else if (k === '--input') a.inputs.push(val());
    else if (k === '--json') a.json = true;
    else if (k.startsWith('-')) usage(`unknown option ${k}`);
    else if (!a.model) a.model = k;
    else usage(`unexpected argument ${k}`);
  }
  if (!a.model) usage('no model given');
  if (!(a.threads >= 1 && a.runs >= 1 && a.warmup >= 0)) usage('bad --threads/--runs/--warmup');
  return a;
}

function makeTensor(ort, arr) {
  return new ort.Tensor(arr.type, arr.data, arr.shape);
}

function feedsFor(ort, session, a) {
  const feeds = {};
  for (const spec of a.inputs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) usage(`--input wants NAME=FILE.npy, got ${spec}`);
    feeds[spec.slice(0, eq)] = makeTensor(ort, readNpy(spec.slice(eq + 1)));
  }
  const beside = a.model.replace(/\.onnx$/, '') + '.input.npy';
  if (session.inputNames.length === 1 && !feeds[session.inputNames[0]] && fs.existsSync(beside))
    feeds[session.inputNames[0]] = makeTensor(ort, readNpy(beside));
  const meta = session.inputMetadata || [];
  session.inputNames.forEach((name, i) => {
    if (feeds[name]) return;
    const m = Array.isArray(meta) ? meta[i] : meta[name];
    if (!m || !m.shape) usage(`no value for input ${name}: give --input ${name}=FILE.npy`);
    const shape = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    let s = 12345;
    for (let j = 0; j < n; ++j) { s = (s * 1103515245 + 12345) >>> 0; data[j] = (s / 4294967296) * 2 - 1; }
    if (m.type && m.type !== 'float32') usage(`input ${name} is ${m.type}: give --input ${name}=FILE.npy`);
    feeds[name] = new ort.Tensor('float32', data, shape);
  });
  return feeds;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(a.model)) { console.error(`error: ${a.model}: no such file`); process.exit(1); }
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(a.model, sessionOptions(a.threads));
  const feeds = feedsFor(ort, session, a);
  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < a.runs; ++i) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    await session.run(feeds);
    if (a.cpu) { const c = process.cpuUsage(c0); ms.push((c.user + c.system) / 1e3); }
    else ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const mid = ms.length >> 1;
  const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
  const res = { model: a.model, engine: 'onnxruntime-node', version: require('./node_modules/onnxruntime-node/package.json').version,
                threads: a.threads, runs: a.runs, median_ms: median, min_ms: ms[0], max_ms: ms[ms.length - 1] };
  if (a.json) console.log(JSON.stringify(res));
  else console.log(`${a.model}: ORT ${res.version}, ${a.threads} thread(s), ${a.runs} runs: ` +
                   `median ${median.toFixed(3)} ms, min ${res.min_ms.toFixed(3)} ms, max ${res.max_ms.toFixed(3)} ms`);
}

main().catch((e) => { console.error(`error: ${e.message || e}`); process.exit(1); });
