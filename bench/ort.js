// Loads onnxruntime-node from bench/node_modules (installed by compare_ort.sh).
'use strict';
const path = require('path');

function loadOrt() {
  try {
    return require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    console.error(`error: onnxruntime-node is not installed in ${path.join(__dirname, 'node_modules')}: ` +
                  'run bench/compare_ort.sh --install-only');
    process.exit(2);
  }
}

function sessionOptions(threads) {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

module.exports = { loadOrt, sessionOptions };
