#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on .npy inputs and writes each
// output as <out_dir>/<output name, sanitised>.npy: the independent reference the compiler's
// FP32 interpreter is tested against.
//
//   node run_ort.js [--ort-dir DIR] [--opt disabled|basic|extended|all] model.onnx out_dir name=in.npy ...
//   node run_ort.js [--ort-dir DIR] --version
//
// DIR holds node_modules/onnxruntime-node (scripts/setup_ort.sh installs it there); default
// $TPUSIM_ORT_DIR, else build/tools next to this repository. Graph optimisations default to
// "disabled", so a QDQ model runs as written (DequantizeLinear -> float op -> QuantizeLinear)
// instead of as ORT's fused integer kernels. .npy: float32, float64, int8, uint8, int32, int64,
// little-endian, C order. Exit status 1 with one message on stderr on any failure.
'use strict';
const fs = require('fs');
const path = require('path');

const TYPES = {
  '<f4': ['float32', Float32Array, 4], '<f8': ['float64', Float64Array, 8],
  '|i1': ['int8', Int8Array, 1], '|u1': ['uint8', Uint8Array, 1],
  '<i4': ['int32', Int32Array, 4], '<i8': ['int64', BigInt64Array, 8],
};

function fail(msg) {
  process.stderr.write(`run_ort: ${msg}\n`);
  process.exit(1);
}

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.length < 10 || b[0] !== 0x93 || b.toString('latin1', 1, 6) !== 'NUMPY') fail(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + hlen);
  const descr = (/'descr'\s*:\s*'([^']*)'/.exec(header) || [])[1];
  if (/'fortran_order'\s*:\s*True/.test(header)) fail(`${file}: Fortran order is not supported`);
  const shapeText = (/'shape'\s*:\s*\(([^)]*)\)/.exec(header) || [])[1];
  const key = descr === '<i1' ? '|i1' : descr === '<u1' ? '|u1' : descr;
  if (!TYPES[key] || shapeText === undefined) fail(`${file}: unsupported .npy header ${header.trim()}`);
  const [type, Ctor, size] = TYPES[key];
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = shape.reduce((a, d) => a * d, 1);
  const off = start + hlen;
  if (b.length - off !== count * size) fail(`${file}: data is ${b.length - off} bytes, shape needs ${count * size}`);
  const data = new Ctor(count);
  new Uint8Array(data.buffer).set(b.subarray(off, off + count * size));  // little-endian host
  return { type, data, dims: shape };
}

// ORT hands int4/uint4 tensors over packed two per byte (low nibble first): widen to int8/uint8.
function unpack4(tensor) {
  const signed = tensor.type === 'int4';
  const n = tensor.dims.reduce((a, d) => a * d, 1);
  const packed = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const out = signed ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; ++i) {
    const v = (packed[i >> 1] >> (4 * (i & 1))) & 0xf;
    out[i] = signed && v >= 8 ? v - 16 : v;
  }
  return { type: signed ? 'int8' : 'uint8', dims: tensor.dims, data: out };
}

function writeNpy(file, tensor) {
  if (tensor.type === 'int4' || tensor.type === 'uint4') tensor = unpack4(tensor);
  const entry = Object.entries(TYPES).find(([, t]) => t[0] === tensor.type);
  if (!entry) fail(`output type ${tensor.type} cannot be written as .npy`);
  const dims = tensor.dims.map(String);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre[0] = 0x93;
  pre.write('NUMPY', 1, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

function sanitize(name) {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/\.\./g, '._') || '_';
}

function loadOrt(dir) {
  const pkg = path.resolve(dir, 'node_modules', 'onnxruntime-node');  // require() needs an absolute path
  if (!fs.existsSync(pkg)) fail(`onnxruntime-node is not installed in ${dir} (run scripts/setup_ort.sh ${dir})`);
  const version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;
  return { ort: require(pkg), version };
}

async function main() {
  const args = process.argv.slice(2);
  let ortDir = process.env.TPUSIM_ORT_DIR || path.join(__dirname, '..', '..', '..', 'build', 'tools');
  let opt = 'disabled';
  let version = false;
  const rest = [];
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--ort-dir') ortDir = args[++i];
    else if (args[i] === '--opt') opt = args[++i];
    else if (args[i] === '--version') version = true;
    else rest.push(args[i]);
  }
  const { ort, version: v } = loadOrt(ortDir);
  if (version) {
    console.log(v);
    return;
  }
  if (rest.length < 2) fail('usage: run_ort.js [--ort-dir DIR] [--opt LEVEL] model.onnx out_dir name=in.npy ...');
  const [model, outDir, ...inputArgs] = rest;
  const feeds = {};
  for (const a of inputArgs) {
    const eq = a.indexOf('=');
    if (eq <= 0) fail(`input '${a}' is not name=file.npy`);
    const t = readNpy(a.slice(eq + 1));
    feeds[a.slice(0, eq)] = new ort.Tensor(t.type, t.data, t.dims);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(model, { graphOptimizationLevel: opt, executionProviders: ['cpu'] });
  } catch (e) {
    fail(`${model}: ONNX Runtime ${v} cannot load the model: ${e.message.split('\n')[0]}`);
  }
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    fail(`${model}: ONNX Runtime ${v} failed to run: ${e.message.split('\n')[0]}`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const written = {};
  for (const name of session.outputNames) {
    const file = path.join(outDir, sanitize(name) + '.npy');
    writeNpy(file, results[name]);
    written[name] = file;
  }
  console.log(JSON.stringify({ onnxruntime: v, outputs: written }));
}

main().catch((e) => fail(e.stack || String(e)));
