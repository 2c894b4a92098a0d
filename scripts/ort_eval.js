#!/usr/bin/env node
// Top-1 of an image classifier (ONNX, e.g. the demo's QDQ LeNet-5) under ONNX Runtime on
// Fashion-MNIST test images, one image per run as `tpusim eval` does: the speed reference of
// scripts/bench_speed.sh. Pixels / 255 as float32, shape [1, 1, 28, 28]; graph optimisations "all"
// (ORT's fused integer kernels for QDQ), one intra-op thread unless --threads.
//
//   node scripts/ort_eval.js [--ort-dir DIR] [--limit N] [--threads T] [--data DIR] model.onnx
//
// DIR holds node_modules/onnxruntime-node (scripts/setup_ort.sh); default $TPUSIM_ORT_DIR, else
// build/tools. Prints one line: images, top-1, seconds of the loop and of the whole process.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const t0 = process.hrtime.bigint();

function fail(msg) {
  process.stderr.write(`ort_eval: ${msg}\n`);
  process.exit(1);
}

function readIdx(file) {
  const raw = fs.readFileSync(file);
  const b = file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw;
  const dims = b[3];
  const shape = [];
  for (let i = 0; i < dims; ++i) shape.push(b.readUInt32BE(4 + 4 * i));
  return { shape, data: b.subarray(4 + 4 * dims) };
}

async function main() {
  const args = process.argv.slice(2);
  let ortDir = process.env.TPUSIM_ORT_DIR || path.join(__dirname, '..', 'build', 'tools');
  let limit = 0, threads = 1, data = '/usr/share/datasets/fashion-mnist';
  const rest = [];
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--ort-dir') ortDir = args[++i];
    else if (args[i] === '--limit') limit = Number(args[++i]);
    else if (args[i] === '--threads') threads = Number(args[++i]);
    else if (args[i] === '--data') data = args[++i];
    else rest.push(args[i]);
  }
  if (rest.length !== 1) fail('usage: ort_eval.js [--ort-dir DIR] [--limit N] [--threads T] [--data DIR] model.onnx');
  let ort;
  try {
    ort = require(path.resolve(ortDir, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    fail(`onnxruntime-node not found under ${ortDir} (scripts/setup_ort.sh ${ortDir}): ${e.message}`);
  }
  const images = readIdx(path.join(data, 't10k-images-idx3-ubyte.gz'));
  const labels = readIdx(path.join(data, 't10k-labels-idx1-ubyte.gz'));
  const [count, h, w] = images.shape;
  const n = limit > 0 ? Math.min(limit, count) : count;
  const session = await ort.InferenceSession.create(rest[0], {
    graphOptimizationLevel: 'all', executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
  });
  const inputName = session.inputNames[0], outputName = session.outputNames[0];
  const x = new Float32Array(h * w);
  const tensor = new ort.Tensor('float32', x, [1, 1, h, w]);
  let correct = 0;
  const tLoop = process.hrtime.bigint();
  for (let i = 0; i < n; ++i) {
    const px = images.data.subarray(i * h * w, (i + 1) * h * w);
    for (let k = 0; k < h * w; ++k) x[k] = px[k] / 255;
    const out = (await session.run({ [inputName]: tensor }))[outputName].data;
    let best = 0;
    for (let k = 1; k < out.length; ++k) if (out[k] > out[best]) best = k;
    correct += best === labels.data[i] ? 1 : 0;
  }
  const tEnd = process.hrtime.bigint();
  const s = (a, b) => (Number(b - a) / 1e9).toFixed(3);
  process.stdout.write(`ort_eval: ${n} images, top-1 ${(100 * correct / n).toFixed(2)}%, ` +
                       `loop ${s(tLoop, tEnd)} s, process ${s(t0, tEnd)} s (after node start)\n`);
}

main().catch((e) => fail(e.message));
