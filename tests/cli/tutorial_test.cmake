# The documentation runs as written: the commands of docs/tutorial-byom.md (sections 2 to 6), of
# docs/compare.md ("Example") and of docs/cli.md (the `tpusim run` example), run literally with
# `sh -c` from a folder laid out like the repository root (build/tpusim, scripts/, examples/), on
# the inputs scripts/make_examples.py writes. Each result is checked (files, shapes, dtypes, key
# lines, exit codes); at the end python parses the three pages and requires that every
# command shown there was run here, exited as shown (1 when its output is an error line, else 0)
# and printed every output line shown (lines "..." stand for left-out ones).
# Run by ctest as:
#   cmake -DTPUSIM=<binary> -DSRC=<source dir> -DPYTHON=<python with numpy and onnx> -DWORK=<scratch> -P tutorial_test.cmake
foreach(var SRC PYTHON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "tutorial_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

include(${CMAKE_CURRENT_LIST_DIR}/../support/doc_commands.cmake)
doc_root()

# ---- tutorial-byom.md, section 2: the example inputs ---------------------------------------------
doc(0 "/usr/bin/python3 scripts/make_examples.py ex")
python("
import onnx
m = onnx.load('ex/cnn_fp32.onnx')
onnx.checker.check_model(m)
dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
assert [v.name for v in m.graph.input] == ['x'] and dims(m.graph.input[0]) == [1, 1, 28, 28], m.graph.input
assert [v.name for v in m.graph.output] == ['y'] and dims(m.graph.output[0]) == [1, 10], m.graph.output
assert [n.op_type for n in m.graph.node] == ['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm']
for name, n in (('calib', 64), ('x', 1), ('images', 4)):
    a = np.load('ex/' + name + '.npy')
    assert a.dtype == np.float32 and a.shape == (n, 1, 28, 28), (name, a.dtype, a.shape)
    assert 0 <= a.min() and a.max() <= 1, name
")
file(COPY "${WORK}/ex" DESTINATION "${WORK}/again")  # deterministic: a second run writes the same bytes
doc(0 "/usr/bin/python3 scripts/make_examples.py ex")
foreach(f cnn_fp32.onnx calib.npy x.npy images.npy)
  file(SHA256 "${WORK}/ex/${f}" a)
  file(SHA256 "${WORK}/again/ex/${f}" b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "scripts/make_examples.py is not deterministic: ${f} differs")
  endif()
endforeach()
# The page's own-data snippet, taken from the page.
python("
import re
page = open('${SRC}/docs/tutorial-byom.md').read()
(snippet,) = [b for b in re.findall(r'```python\\n(.*?)```', page, re.S) if 'my_calib.npy' in b]
exec(snippet, {})
c, x = np.load('my_calib.npy'), np.load('my_x.npy')
assert c.dtype == np.float32 and c.shape == (256, 1, 28, 28) and 0 <= c.min() and c.max() <= 1, c.shape
assert x.dtype == np.float32 and x.shape == (1, 1, 28, 28), x.shape
")

# ---- section 3: an FP32 model ------------------------------------------------------------------
doc(0 "build/tpusim compile ex/cnn_fp32.onnx --calib ex/calib.npy --calib-method kl --bits w8a8 --arch default \\
      -o model.tpu --report schedule.json --simulate")
require_contains("${err}" "calibrated on 64 samples (kl, w8a8), 6 activation tensors" "compile --calib")
string(REGEX MATCH "simulated: ([0-9]+) cycles" _ "${err}")
set(cycles ${CMAKE_MATCH_1})
doc(0 [=[python3 -c "import json; [print(l['name'], l['kind'], l['macs'], l['tiles'], l['roofline_cycles'],
      l.get('sim_cycles'), round(l.get('efficiency', 0), 2)) for l in json.load(open('schedule.json'))['layers']]"]=])
python("
r = json.load(open('schedule.json'))
assert [l['name'] for l in r['layers']] == ['conv1', 'pool1', 'conv2', 'pool2', 'fc'], r['layers']
assert [l['kind'] for l in r['layers']] == ['conv2d', 'pool', 'conv2d', 'pool', 'matmul']
assert r['total_macs'] == sum(l['macs'] for l in r['layers']) == 8 * 28 * 28 * 9 + 16 * 8 * 14 * 14 * 9 + 784 * 10
assert r['sim_cycles'] == ${cycles}, r['sim_cycles']
assert r['opt'] == 2 and [l['schedule'] for l in r['layers']] == ['resident'] * 5, r['layers']
# conv1 -> pool1 -> conv2 -> pool2 stay in LMEM; pool2's output goes to DDR for the flatten.
assert [l['input_from_lmem'] for l in r['layers']] == [False, True, True, True, False], r['layers']
assert [l['output_to_ddr'] for l in r['layers']] == [False, False, False, True, True], r['layers']
# Each output's LMEM lifetime ends at its reader (pool2's and fc's: their own layer, then DDR).
assert [l['lmem_output']['live_until'] for l in r['layers']] == ['pool1', 'conv2', 'pool2', 'pool2', 'fc'], r['layers']
assert all(l['lmem_output']['bytes_per_lane'] > 0 for l in r['layers'])
")

doc(0 "build/tpusim run model.tpu -i x=ex/x.npy -o out --dequantize --stats stats.json --trace trace.json")
require_contains("${out}" " ${cycles} cycles" "run: the cycles compile --simulate reported")
python("
i = json.load(open('stats.json'))
q, f = np.load('out/y.npy'), np.load('out/y.f32.npy')
assert q.dtype == np.int8 and q.shape == (1, 10) and f.dtype == np.float32 and f.shape == (1, 10), (q, f)
assert i['total_cycles'] == ${cycles} and i['batch']['runs'] == 1, i
assert json.load(open('trace.json'))
# docs/cli.md lists every key stats.json has.
page = open('${SRC}/docs/cli.md').read()
table = page[page.index('| key | meaning |'):]
table = table[:table.index('\\n\\n')]
documented = set()
for row in table.splitlines()[2:]:
    for key in row.split('|')[1].split('`')[1::2]:
        documented.add(key.split('.')[0].split('\\\\')[0])
assert documented == set(i), ('docs/cli.md stats keys', sorted(documented ^ set(i)))
")
doc(0 "build/tpusim run model.tpu -i ex/images.npy -o outb --dequantize")
require_contains("${out}" "4 runs back to back" "batch run")
doc(0 "build/tpusim infer ex/cnn_fp32.onnx -i ex/images.npy -o fp32.npz")
doc(0 "build/tpusim infer ex/cnn_fp32.onnx -i ex/images.npy -o sim.npz --engine sim --calib ex/calib.npy --calib-method kl")
python("
a, b, c = np.load('fp32.npz')['y'], np.load('sim.npz')['y'], np.load('outb/y.f32.npy')
assert a.shape == b.shape == c.shape == (4, 10) and a.dtype == b.dtype == np.float32, (a.shape, b.shape, c.shape)
assert np.array_equal(b, c), 'infer --engine sim differs from run on the same program'
assert np.abs(a - b).max() < 0.05 and (a.argmax(1) == b.argmax(1)).all(), np.abs(a - b).max()
")
doc(0 "build/tpusim compare ex/cnn_fp32.onnx --calib ex/calib.npy --calib-method kl --bits w8a8 -i ex/images.npy --csv layers.csv")
require_contains("${out}" "4 image(s), FP32 (ex/cnn_fp32.onnx, BN folded) vs integer reference" "compare header")
python("
import csv
r = list(csv.DictReader(open('layers.csv')))
assert [x['layer'] for x in r] == ['x_q', 'relu1_q', 'pool1_q', 'relu2_q', 'pool2_q', 'y_q'], r
assert r[-1]['shape'] == '4x10' and float(r[-1]['cosine']) > 0.99, r[-1]
")
doc(0 "build/tpusim eval model.tpu --dataset fashion-mnist --limit 1000")
require_contains("${out}" "(1000 images;" "eval")

# ---- section 4: a QDQ model ----------------------------------------------------------------------
doc(0 "build/tpusim compile ex/cnn_fp32.onnx --calib ex/calib.npy -o fp32.tpu --save-qdq cnn_qdq.onnx")
python("
import onnx
m = onnx.load('cnn_qdq.onnx')
onnx.checker.check_model(m)
ops = [n.op_type for n in m.graph.node]
assert ops.count('QuantizeLinear') == 6 and ops.count('DequantizeLinear') == 9, ops
")
doc(0 "build/tpusim compile cnn_qdq.onnx --arch edge -o m.tpu --report r.json")
python("assert json.load(open('r.json'))['arch'] == 'edge'")
doc(1 "build/tpusim compile cnn_qdq.onnx --calib ex/calib.npy -o m.tpu")
doc(0 "build/tpusim compare cnn_qdq.onnx -i ex/images.npy --fp32 ex/cnn_fp32.onnx")
require_contains("${out}" "FP32 (ex/cnn_fp32.onnx) vs integer reference" "compare --fp32")

# ---- section 5: architectures ----------------------------------------------------------------------
doc(0 "build/tpusim arch list")
doc(0 "build/tpusim arch show default      # every parameter, with comments")
doc(0 "cat > wide.yaml <<'EOF'
base: default
name: wide
lanes: 32
EOF")
doc(0 "build/tpusim compile ex/cnn_fp32.onnx --calib ex/calib.npy --arch wide.yaml -o w.tpu")
doc(0 "build/tpusim run w.tpu -i ex/x.npy --arch wide.yaml")
require_contains("${out}" "arch wide @ 1000 MHz" "custom architecture")

# ---- section 6: typical errors (one error line, exit 1, nothing written) ----------------------------
file(REMOVE "${WORK}/m.tpu")
doc(1 "build/tpusim compile ex/cnn_fp32.onnx -o m.tpu")
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('c.npy', np.zeros((3, 5), np.float32))"]=])
doc(1 "build/tpusim compile ex/cnn_fp32.onnx --calib c.npy -o m.tpu")
doc(1 "build/tpusim compile ex/cnn_fp32.onnx --calib ex/calib.npy --bits w2a8 -o m.tpu")
if(EXISTS "${WORK}/m.tpu")
  message(FATAL_ERROR "a failed compile wrote m.tpu")
endif()
doc(1 "build/tpusim run model.tpu -i ex/x.npy --dequantize")
doc(1 "build/tpusim run model.tpu -i ex/x.npy --arch edge")
doc(1 "build/tpusim run w.tpu -i ex/x.npy")
if(NOT err MATCHES "^error: [^\n]*\n$")
  message(FATAL_ERROR "not one error line:\n${err}")
endif()

# ---- compare.md, "Example" ---------------------------------------------------------------------------
doc(0 "build/tpusim compare cnn_qdq.onnx -i ex/images.npy --arch edge")
require_contains("${out}" "vs simulator (arch edge)" "compare --arch")
if(out MATCHES " NO\n")
  message(FATAL_ERROR "the simulator differs from the integer reference:\n${out}")
endif()
doc(0 "build/tpusim compare ex/cnn_fp32.onnx --calib ex/calib.npy --calib-method kl --bits w4a4 -i ex/images.npy --csv w4a4.csv")
python("
import csv
a, b = list(csv.DictReader(open('layers.csv'))), list(csv.DictReader(open('w4a4.csv')))
assert float(b[-1]['sqnr_db']) < float(a[-1]['sqnr_db']) - 10, (a[-1], b[-1])
")
doc(0 "build/tpusim compare ex/cnn_fp32.onnx --calib ex/calib.npy --bits w4a4 -i ex/images.npy --attribute --json attr.json")
require_contains("${out}" "error attribution, % of each layer's error energy" "compare --attribute")
python("
import json
parts = ['weight_rounding', 'weight_clipping', 'weight_update', 'bias_rounding', 'input_rounding', 'input_clipping',
         'requant', 'multiplier', 'output_clipping', 'interaction', 'upstream']
layers = json.load(open('attr.json'))['layers']
assert 'attribution' not in layers[0], 'the input row is not attributed'
for l in layers[1:]:
    a = l['attribution']
    assert abs(sum(a[k] for k in parts) - 1) < 1e-9, (l['layer'], a)
    assert a['fp32_deviation'] == 0 and a['dominant'] in parts, (l['layer'], a)
    assert abs(a['error_energy']['total'] - a['error_energy']['local'] - a['error_energy']['upstream']) < 1e-12
assert layers[1]['attribution']['upstream'] == 0, 'the first op reads the host-quantized input'
")

# ---- cli.md, `tpusim run` ------------------------------------------------------------------------------
doc(0 "build/tpusim asm examples/conv_relu_pool.s -o conv.tpu")
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('x.npy', np.random.default_rng(0).random((1, 4, 8, 8), dtype=np.float32))"]=])
doc(0 "build/tpusim run conv.tpu -i x.npy -o out --dequantize --stats stats.json --trace trace.json")
python("
y, f = np.load('out/y.npy'), np.load('out/y.f32.npy')
assert y.dtype == np.int8 and y.shape == (1, 8, 4, 4) and f.dtype == np.float32, (y.dtype, y.shape)
assert np.allclose(f, (y.astype(np.float32) + 128) * np.float32(0.02)), 'dequantized with scale 0.02, zp -128'
")

# ---- the pages against the log: every command shown was run, and printed what is shown ---------------
check_doc_pages(MIN_COMMANDS 30 PAGES docs/tutorial-byom.md "## 2. Input" - docs/compare.md "## Example" "## Library"
                docs/cli.md "## `tpusim run" "**Inputs.**")
