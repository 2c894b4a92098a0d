# docs/cli.md runs as written: every `$` command of the page, in page order, run literally with
# `sh -c` from a folder laid out like the repository root (build/tpusim, scripts/, examples/, a copy
# of docs/isa.md), on the shipped examples/*.s and the files scripts/make_examples.py writes. Each
# result is checked (files, shapes, dtypes, key lines, exit codes), numpy or a second tpusim command
# recomputing what matters. At the end python parses the page and requires that every command shown
# there was run here, failed exactly when an error is shown and printed every output line shown
# (lines "..." stand for left-out ones). The `train`/`ptq` example runs only in a build with
# libtorch (WITH_TORCH); without it those commands are left out of the page check.
# (cli_tutorial also runs the `tpusim run` example, with the tutorial's pages.)
# Run by ctest as:
#   cmake -DTPUSIM=<binary> -DSRC=<source dir> -DPYTHON=<python with numpy and onnx> -DWITH_TORCH=ON|OFF
#         -DWORK=<scratch> -P cli_docs_test.cmake
foreach(var SRC PYTHON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "cli_docs_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

include(${CMAKE_CURRENT_LIST_DIR}/../support/doc_commands.cmake)
doc_root()
# docs/isa.md is a copy: `doc isa --update` must not touch the source tree.
file(COPY "${SRC}/docs/isa.md" DESTINATION "${WORK}/docs")

function(require_missing path what)
  if(EXISTS "${WORK}/${path}")
    message(FATAL_ERROR "${what}: ${path} was written")
  endif()
endfunction()

function(require_one_error_line what)
  if(NOT err MATCHES "^error: [^\n]*\n$")
    message(FATAL_ERROR "${what}: not one error line:\n${err}")
  endif()
endfunction()

# ---- top: version, help, exit codes ------------------------------------------------------------
doc(0 "build/tpusim --version")
doc(0 "build/tpusim --help          # the commands; build/tpusim COMMAND --help lists its options")
doc(1 "build/tpusim asm examples/nothere.s -o nothere.tpu")
require_one_error_line("unreadable input")
require_missing(nothere.tpu "asm of a missing file")
doc(2 "build/tpusim asm examples/conv_relu_pool.s")
doc(2 "build/tpusim compil")

# ---- asm ------------------------------------------------------------------------------------------
doc(0 "build/tpusim asm examples/conv_relu_pool.s -o conv.tpu")
file(SIZE "${WORK}/conv.tpu" size)
if(NOT size EQUAL 1302)
  message(FATAL_ERROR "conv.tpu has ${size} bytes")
endif()
doc(0 "build/tpusim asm examples/conv_relu_pool.s -o conv.tpu -q")  # global option after the command
if(NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "asm -q printed: ${out}${err}")
endif()
doc(0 "sed 's/ kh=3 / kh=300 /' examples/conv_relu_pool.s > broken.s")
doc(1 "build/tpusim asm broken.s -o broken.tpu")
require_one_error_line("asm broken.s")
require_missing(broken.tpu "failed asm")
# A failed command leaves the file it would have replaced as it was.
file(SHA256 "${WORK}/conv.tpu" before)
run(1 _ _ asm broken.s -o conv.tpu)
file(SHA256 "${WORK}/conv.tpu" after)
if(NOT before STREQUAL after)
  message(FATAL_ERROR "a failed asm changed conv.tpu")
endif()

# ---- disasm ---------------------------------------------------------------------------------------
doc(0 "build/tpusim disasm conv.tpu -o conv.s && build/tpusim asm conv.s -o conv2.tpu && cmp conv.tpu conv2.tpu")
doc(0 "build/tpusim disasm conv.tpu")
file(READ "${WORK}/conv.s" listing)
if(NOT listing STREQUAL out)
  message(FATAL_ERROR "disasm to stdout differs from disasm -o")
endif()
# Every instruction carries its index; the .node markers give the debug map info reports.
run(0 info_json _ info conv.tpu --json)
file(WRITE "${WORK}/info.json" "${info_json}")
python("
stream, index, node, seen = None, {}, '-', []
for line in open('conv.s'):
    line = line.split('\\n')[0]
    if line in ('.gdma', '.tiu'):
        stream, node = line[1:], '-'
        index[stream] = 0
    elif line.startswith('.node '):
        node = line.split()[1]
    elif line.startswith('  '):
        assert line.endswith('; [%d]' % index[stream]), line
        if node != '-':
            seen.append((stream, index[stream], node))
        index[stream] += 1
j = json.load(open('info.json'))
assert index == {k: v['instructions'] for k, v in j['streams'].items()}, index
assert sorted(seen) == sorted((d['engine'], d['index'], d['node']) for d in j['debug']), seen
")

# ---- info -----------------------------------------------------------------------------------------
doc(0 "build/tpusim info conv.tpu")
doc(0 [=[build/tpusim info conv.tpu --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["inputs"][0]["shape"])']=])
# The page names every key --json writes.
python("
page = open('${SRC}/docs/cli.md').read()
para = page[page.index('`--json` prints the same'):]
para = para[:para.index('for scripts')]
names = set(' '.join(para.split('`')[1::2]).replace('|', ' ').replace('.', ' ').replace(',', ' ')
            .replace('{', ' ').replace('}', ' ').split())
j = json.load(open('info.json'))
for keys in (set(j), set(j['streams']), set(j['streams']['gdma']), set(j['inputs'][0]), set(j['outputs'][0])):
    assert keys <= names, ('docs/cli.md info --json keys', sorted(keys - names))
")

# ---- doc isa --------------------------------------------------------------------------------------
doc(0 "build/tpusim doc isa --update docs/isa.md")
file(SHA256 "${WORK}/docs/isa.md" a)
file(SHA256 "${SRC}/docs/isa.md" b)
if(NOT a STREQUAL b)
  message(FATAL_ERROR "docs/isa.md is stale: run build/tpusim doc isa --update docs/isa.md")
endif()

# ---- run ------------------------------------------------------------------------------------------
doc(0 "build/tpusim asm examples/conv_relu_pool.s -o conv.tpu")
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('x.npy', np.random.default_rng(0).random((1, 4, 8, 8), dtype=np.float32))"]=])
doc(0 "build/tpusim run conv.tpu -i x.npy -o out --dequantize --stats stats.json --trace trace.json")
python("
y, f = np.load('out/y.npy'), np.load('out/y.f32.npy')
assert y.dtype == np.int8 and y.shape == (1, 8, 4, 4) and f.dtype == np.float32, (y.dtype, y.shape)
assert np.allclose(f, (y.astype(np.float32) + 128) * np.float32(0.02)), 'dequantized with scale 0.02, zp -128'
s = json.load(open('stats.json'))
assert s['total_cycles'] == 863 and s['batch']['runs'] == 1, s
")
# Inputs: two of them, by name and by order, integers as they are.
doc(0 "build/tpusim asm examples/fc_residual.s -o fc.tpu -q")
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('a.npy', np.arange(-32, 32, dtype=np.int8).reshape(2, 32)); np.save('r.npy', np.full((2, 16), 3, np.int8))"]=])
doc(0 "build/tpusim run fc.tpu -i r=r.npy -i a.npy -o fc_out -q > /dev/null")
if(NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "run -q > /dev/null printed: ${out}${err}")
endif()
doc(0 [=[/usr/bin/python3 -c "import numpy as np; y = np.load('fc_out/out.npy'); print(y.dtype, y.shape)"]=])
run(0 _ _ run fc.tpu -i a.npy -i r.npy -o fc_order -q)        # the same binding, by order
run(0 _ _ run fc.tpu -i r.npy -i x=a.npy -o fc_swapped -q)    # x by name, r by order
python("
a, b, c = (np.load(d + '/out.npy') for d in ('fc_out', 'fc_order', 'fc_swapped'))
assert np.array_equal(a, b) and np.array_equal(a, c), (a, b, c)
")
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('r300.npy', np.full((2, 16), 300, np.int16))"]=])
doc(1 "build/tpusim run fc.tpu -i r=r300.npy -i a.npy")
require_one_error_line("out-of-range integer input")
# Batches: each run from fresh memory, so sample k alone gives output k.
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('xs.npy', np.random.default_rng(1).random((3, 4, 8, 8), dtype=np.float32))"]=])
doc(0 "build/tpusim run conv.tpu -i xs.npy -o outs")
python("np.save('x1.npy', np.load('xs.npy')[1:2])")
run(0 _ _ run conv.tpu -i x1.npy -o out1 -q)
python("
b, one = np.load('outs/y.npy'), np.load('out1/y.npy')
assert b.shape == (3, 8, 4, 4) and b.dtype == np.int8, b.shape
assert np.array_equal(b[1:2], one), 'batch sample 1 differs from its own run'
")
# Timelines.
doc(0 [=[python3 -c "import json; print(sorted({e['name'] for e in json.load(open('trace.json'))['traceEvents'] if e['ph'] != 'M'}))"]=])
python("
ev = [e for e in json.load(open('trace.json'))['traceEvents'] if e['ph'] != 'M']
for e in ev:
    args = e['args']
    assert set(args) - {'node'} == {'index', 'start_cycle', 'end_cycle'}, e
    mnemonic = 'sync (waiting)' if e['name'].startswith('sync') else e['name'].split()[0]
    assert e['name'] == mnemonic + (' ' + args['node'] if 'node' in args else ''), e
    assert (e['cat'] == 'wait') == (mnemonic == 'sync (waiting)') and (e['ph'] == 'i') == (mnemonic == 'end'), e
assert len(ev) == 11, len(ev)  # 7 + 4 instructions: both syncs waited here
")
doc(0 "build/tpusim run conv.tpu -i x.npy --vcd conv.vcd > /dev/null && grep -A4 'module gdma' conv.vcd")
# Architecture and errors.
doc(1 "build/tpusim run conv.tpu -i x.npy --arch edge")
require_one_error_line("run --arch edge")
doc(0 "cat > deadlock.s <<'EOF'
.arch default
.input  name=x shape=1x4x8x8 dtype=int8 scale=0.003921569 zp=-128 addr=0x0
.output name=y shape=1x4x8x8 dtype=int8 scale=0.003921569 zp=-128 addr=0x100
.gdma
sync count=1
end
.tiu
sync count=1
end
EOF")
doc(0 "build/tpusim asm deadlock.s -o deadlock.tpu -q")
doc(1 "build/tpusim run deadlock.tpu -i x.npy")
if(NOT err MATCHES "^error: deadlock: [^\n]*\n(  [^\n]*\n)+$")
  message(FATAL_ERROR "deadlock: not one error line and an indented dump:\n${err}")
endif()
doc(0 [=[/usr/bin/python3 -c "import numpy as np; np.save('bad.npy', np.zeros((2, 4, 8), np.float32))"]=])
doc(1 "build/tpusim run conv.tpu -i bad.npy -o bad_out")
require_one_error_line("run bad.npy")
require_missing(bad_out "a failed run")

# ---- arch -----------------------------------------------------------------------------------------
doc(0 "build/tpusim arch list")
doc(0 "build/tpusim arch show edge")
doc(0 "build/tpusim arch show default > mine.yaml")
doc(0 "sed -i 's/^name: default/name: mine/; s/^lanes: 16/lanes: 32/' mine.yaml")
doc(0 "build/tpusim arch show mine.yaml | head -3")
run(1 _ err run conv.tpu -i x.npy --arch mine.yaml)  # another fingerprint
require_contains("${err}" "simulator runs 'mine'" "run --arch mine.yaml")

# ---- compile --------------------------------------------------------------------------------------
doc(0 "/usr/bin/python3 scripts/make_examples.py ex")
doc(0 [=[build/tpusim compile ex/cnn_fp32.onnx --arch edge -o cnn.tpu --calib ex/calib.npy --calib-method mse --bits w4a8 \
      --save-qdq cnn_qdq.onnx]=])
run(0 info_json _ info cnn.tpu --json)
file(WRITE "${WORK}/info.json" "${info_json}")
python("
import onnx
from onnx import numpy_helper
assert json.load(open('info.json'))['arch']['name'] == 'edge'
m = onnx.load('cnn_qdq.onnx')
assert [o.version for o in m.opset_import] == [13], m.opset_import  # 4-bit weights in int8, opset 13
w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
for name in ('conv1.w_q', 'conv2.w_q', 'fc.w_q'):
    assert w[name].dtype == np.int8 and -8 <= w[name].min() and w[name].max() <= 7, name
")
doc(1 "build/tpusim compile ex/cnn_fp32.onnx -o m.tpu --bits w4a8")
require_one_error_line("compile --bits without --calib")
require_missing(m.tpu "a refused compile")

# ---- infer ----------------------------------------------------------------------------------------
doc(0 "build/tpusim infer ex/cnn_fp32.onnx -i ex/images.npy -o sim.npz --engine sim --calib ex/calib.npy --calib-method mse")
doc(0 "build/tpusim infer cnn_qdq.onnx -i x=ex/images.npy -o int.npz --engine int")
doc(1 "build/tpusim infer ex/cnn_fp32.onnx -i ex/images.npy -o fp32.npz --arch edge")
require_missing(fp32.npz "a refused infer")
# The saved QDQ model is the program's: its integer reference equals the program run, bit for bit.
run(0 _ _ run cnn.tpu -i ex/images.npy -o cnn_out --dequantize -q)
run(0 _ _ infer ex/cnn_fp32.onnx -i ex/images.npy -o fp32.npz -q)
python("
s, i, f = np.load('sim.npz'), np.load('int.npz'), np.load('fp32.npz')
assert list(s) == list(i) == ['y'] and s['y'].shape == i['y'].shape == (4, 10), (list(s), list(i))
assert s['y'].dtype == i['y'].dtype == np.float32
assert np.array_equal(i['y'], np.load('cnn_out/y.f32.npy')), 'int reference of cnn_qdq.onnx differs from cnn.tpu'
assert np.abs(s['y'] - f['y']).max() < 0.05 and (s['y'].argmax(1) == f['y'].argmax(1)).all(), 'sim vs fp32'
")

# ---- train / ptq (a build with libtorch) -----------------------------------------------------------
set(torch_commands "build/tpusim train" "build/tpusim ptq" "ls runs/")
if(WITH_TORCH)
  doc(0 "build/tpusim train --model mlp --epochs 1 --limit 512 --test-limit 128 -o runs/mlp")
  doc(0 "build/tpusim ptq --from runs/mlp -o runs/mlp_w8a8 --calib-images 128 --test-limit 128 --ref-limit 128")
  doc(0 "ls runs/mlp runs/mlp_w8a8")
  python("
import onnx
m = onnx.load('runs/mlp_w8a8/model.onnx')
onnx.checker.check_model(m)
assert 'QuantizeLinear' in [n.op_type for n in m.graph.node]
r = json.load(open('runs/mlp_w8a8/report.json'))
assert r['calibration']['method'] == 'mse', r['calibration']  # ptq's default, as compile's
")
  set(torch_commands)
endif()

# ---- eval -----------------------------------------------------------------------------------------
doc(0 "build/tpusim eval cnn.tpu --limit 1000 --reference cnn_qdq.onnx")
doc(1 "build/tpusim eval conv.tpu --limit 10")
require_one_error_line("eval of a program of another shape")

# ---- the page against the log: every command shown was run, and printed what is shown ------------
list(LENGTH torch_commands skipped)
math(EXPR min_commands "45 - 3 * ${skipped}")
check_doc_pages(MIN_COMMANDS ${min_commands} SKIP ${torch_commands} PAGES docs/cli.md "# " -)
