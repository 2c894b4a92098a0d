# End-to-end test of `tpusim run` and `tpusim arch`: inputs made and outputs checked with numpy
# (an independent reference for QuantizeLinear: np.clip(np.rint(x / scale) + zp)), timed and
# functional modes agree, a batch of 3 equals three single runs, stats.json and trace.json are
# well formed, and every failure is exit 1 with one "error:" line and no output written.
# Run by ctest as:
#   cmake -DTPUSIM=<binary> -DSRC=<source dir> -DPYTHON=<python with numpy> -DWORK=<scratch> -P run_test.cmake
foreach(var SRC PYTHON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

# A failing run: exit 1, stderr's first line "error: ...<needle>...", any further lines indented
# (a deadlock's state dump), and no output directory or stats file created.
function(require_failure needle)
  file(REMOVE_RECURSE "${WORK}/fail")
  run(1 out err run ${ARGN} -o fail --stats fail.json)
  if(NOT err MATCHES "^error: [^\n]*\n(  [^\n]*\n)*$")
    message(FATAL_ERROR "tpusim run ${ARGN}: stderr is not one 'error:' line (plus indented lines):\n${err}")
  endif()
  require_contains("${err}" "${needle}" "tpusim run ${ARGN}")
  if(EXISTS "${WORK}/fail" OR EXISTS "${WORK}/fail.json")
    message(FATAL_ERROR "tpusim run ${ARGN}: failed but wrote output")
  endif()
endfunction()

# ---- programs and inputs ----------------------------------------------------------------------
run(0 out err -q asm "${SRC}/examples/conv_relu_pool.s" -o conv.tpu)
# A copy program with scale 0.5: its output is the quantized input, so ties are visible. The
# output name needs sanitising for a file name.
file(WRITE "${WORK}/copy.s" [==[
.arch default
.input  name=x shape=1x2x2x4 dtype=int8 scale=0.5 zp=3 addr=0x0
.output name=out/y:0 shape=1x2x2x4 dtype=int8 scale=0.5 zp=3 addr=0x100
.gdma
dma.load dtype=int8 n=1 c=2 h=2 w=4 src=0x0 src_sn=16 src_sc=8 src_sh=4 src_sw=1 dst=0x0 dst_sn=8 dst_sc=8 dst_sh=4 dst_sw=1
dma.store dtype=int8 n=1 c=2 h=2 w=4 src=0x0 src_sn=8 src_sc=8 src_sh=4 src_sw=1 dst=0x100 dst_sn=16 dst_sc=8 dst_sh=4 dst_sw=1
end
.tiu
end
]==])
run(0 out err -q asm copy.s -o copy.tpu)
# Each engine waits for the other before doing anything: passes validation, deadlocks at run time.
file(WRITE "${WORK}/deadlock.s" ".arch default\n.input name=x shape=1x4x8x8 dtype=int8 scale=1 zp=0 addr=0x0\n"
           ".gdma\nsync count=1\nend\n.tiu\nsync count=1\nend\n")
run(0 out err -q asm deadlock.s -o deadlock.tpu)
run(0 info err info conv.tpu --json)
string(JSON scale GET "${info}" inputs 0 scale)
string(JSON zp GET "${info}" inputs 0 zero_point)
python("
rng = np.random.default_rng(5)
x = rng.uniform(-0.2, 1.2, (1, 4, 8, 8)).astype(np.float32)   # beyond [0, 1]: saturates
np.save('x_f32.npy', x)
q = np.clip(np.rint(x / np.float32(${scale})) + ${zp}, -128, 127).astype(np.int8)
np.save('x_q.npy', q)
xb = rng.integers(-128, 128, (3, 4, 8, 8)).astype(np.int8)
np.save('xb.npy', xb)
for k in range(3): np.save(f'x{k}.npy', xb[k:k+1])
t = np.array([0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 1000, -1000, 2.25, -2.25, 0.5, -2.75, 63, 62.25, -65.25,
              -66.75], np.float32).reshape(1, 2, 2, 4)
np.save('ties.npy', t)
np.save('wrong_shape.npy', np.zeros((2, 4, 8), np.float32))
big = np.zeros((1, 4, 8, 8), np.int32); big[0, 2, 3, 4] = 200
np.save('out_of_range.npy', big)
")

# ---- runs -------------------------------------------------------------------------------------
run(0 summary err run conv.tpu -i x_f32.npy -o timed --dequantize --stats stats.json --trace trace.json --vcd wave.vcd)
foreach(needle "total" "cycles" "gdma" "tiu" "busy" "waiting" "idle" "MACs" "utilization" "DDR" "LMEM" "bank conflicts"
               "overflows" "conv2d=1")
  require_contains("${summary}" "${needle}" "run summary")
endforeach()
require_contains("${err}" "wrote timed/y.npy" "run log")
run(0 out err run conv.tpu --input x=x_q.npy -o functional --functional)
run(0 out err -q run copy.tpu -i ties.npy -o copy)
if(NOT err STREQUAL "")
  message(FATAL_ERROR "run -q printed on stderr: ${err}")
endif()
run(0 out err -q run conv.tpu -i xb.npy -o batch --stats batch.json)
run(0 out err -q run conv.tpu -i xb.npy -o batch_functional --functional)
# --jobs: the batch's runs split over worker processes; outputs and stats.json identical for 1-3 jobs.
foreach(j 1 2 3)
  run(0 out err -q run conv.tpu -i xb.npy -o batch_j${j} --stats batch_j${j}.json --jobs ${j})
endforeach()
foreach(k 0 1 2)
  run(0 out err -q run conv.tpu -i x${k}.npy -o single${k})
endforeach()

python("
def load(p): return np.load(p)
scale, zp = np.float32(${scale}), ${zp}
# float32 input quantized exactly as numpy's half-to-even reference: same conv output as the
# pre-quantized int8 input, and timed == functional
y = load('timed/y.npy')
assert y.dtype == np.int8 and y.shape == (1, 8, 4, 4), (y.dtype, y.shape)
assert (y == load('functional/y.npy')).all(), 'timed and functional outputs differ'
assert y.min() >= -128 and (y != y.flat[0]).any(), 'degenerate output'
# dequantized output: (q - zp) * scale in float32
yf = load('timed/y.f32.npy')
assert yf.dtype == np.float32 and yf.shape == y.shape
assert (yf == (y.astype(np.float32) + np.float32(128)) * np.float32(0.02)).all(), 'dequantized values'
# the copy program shows the quantized input itself
t = load('ties.npy')
ref = np.clip(np.rint(t / np.float32(0.5)) + 3, -128, 127).astype(np.int8)
got = load('copy/out_y_0.npy')
assert (got == ref).all(), (got.ravel(), ref.ravel())
# a batch of 3 equals three single runs, timed and functional
b = load('batch/y.npy')
assert b.shape == (3, 8, 4, 4), b.shape
assert (b == np.concatenate([load(f'single{k}/y.npy') for k in range(3)])).all(), 'batch != single runs'
assert (b == load('batch_functional/y.npy')).all(), 'batch timed != functional'
for j in (1, 2, 3):
  assert (load(f'batch_j{j}/y.npy') == b).all(), f'run --jobs {j}: outputs differ'
  assert json.load(open(f'batch_j{j}.json')) == json.load(open('batch_j1.json')), f'run --jobs {j}: stats differ'
assert json.load(open('batch.json')) == json.load(open('batch_j1.json')), 'run: stats differ from --jobs 1'
# stats.json
def check_stats(s, runs):
  for key in ['arch', 'clock_mhz', 'mode', 'total_cycles', 'time_us', 'engines', 'macs', 'peak_macs_per_cycle',
              'mac_utilization', 'acc_overflows', 'bytes', 'opcode_counts', 'bank', 'ddr_bus_busy_cycles', 'batch']:
    assert key in s, key
  assert s['mode'] == 'timed' and s['total_cycles'] > 0
  assert abs(s['time_us'] - s['total_cycles'] / s['clock_mhz']) < 1e-9
  for e in ['gdma', 'tiu']:
    es = s['engines'][e]
    assert es['busy_cycles'] + es['idle_cycles'] + es['waiting_cycles'] == s['total_cycles'], (e, es)
  for k in ['ddr_read', 'ddr_write', 'lmem_read', 'lmem_write']: assert s['bytes'][k] > 0, k
  for k in ['tiu_conflicts', 'tiu_conflict_cycles', 'gdma_tiu_overlaps', 'lmem_hazards']: assert k in s['bank'], k
  assert s['opcode_counts']['conv2d'] == runs and s['macs'] == runs * 8 * 8 * 8 * 4 * 9
  assert s['batch']['runs'] == runs and len(s['batch']['per_run']) == runs
  assert sum(r['total_cycles'] for r in s['batch']['per_run']) == s['total_cycles']
check_stats(json.load(open('stats.json')), 1)
check_stats(json.load(open('batch.json')), 3)
# trace.json: Chrome trace events, a slice per instruction named 'mnemonic node', node also in args
tr = json.load(open('trace.json'))
ev = tr['traceEvents']
threads = {e['tid']: e['args']['name'] for e in ev if e['ph'] == 'M' and e['name'] == 'thread_name'}
assert sorted(threads.values()) == ['gdma', 'tiu'], threads
slices = [e for e in ev if e['ph'] == 'X']
names = {(threads[e['tid']], e['name'].split(' ')[0] if 'node' in e['args'] else e['name']) for e in slices}
assert all(e['name'] == e['name'].split(' ')[0] + ' ' + e['args']['node'] for e in slices if 'node' in e['args'])
assert {('gdma', 'dma.load'), ('gdma', 'dma.store'), ('tiu', 'conv2d'), ('tiu', 'pool')} <= names, names
assert all(n in ('dma.load', 'dma.store', 'conv2d', 'pool', 'sync (waiting)') for _, n in names), names
for e in slices:
  assert e['dur'] >= 0 and e['ts'] >= 0 and 'index' in e['args']
conv = [e for e in slices if e['name'].startswith('conv2d')]
assert len(conv) == 1 and conv[0]['args']['node'] == 'conv1', conv
assert [e['args']['node'] for e in slices if e['name'] == 'pool pool1'] == ['pool1']
# VCD
v = open('wave.vcd').read()
assert v.startswith('\$version') and '\$enddefinitions' in v, v[:200]
assert '\$timescale 1ps \$end' in v, v[:300]  # picoseconds at the clock
")

# ---- failures: exit 1, one error line, nothing written -----------------------------------------
require_failure("wrong_shape.npy: shape [2, 4, 8] does not fit input 'x': expected [1, 4, 8, 8]" conv.tpu
                -i wrong_shape.npy)
require_failure("missing.npy: cannot read" conv.tpu -i missing.npy)
require_failure("out_of_range.npy: value 200 at element 156" conv.tpu -i out_of_range.npy)
require_failure("compiled for architecture 'default'" conv.tpu -i x_q.npy --arch edge)
require_failure("deadlock: gdma instruction 0 (sync count=1)" deadlock.tpu -i x_q.npy)
require_failure("deadlock: gdma instruction 0 (sync count=1)" deadlock.tpu -i x_q.npy --functional)
require_failure("no --input for program input 'x'" conv.tpu)
require_failure("neither a preset" conv.tpu -i x_q.npy --arch no-such-arch)
run(1 out err run deadlock.tpu -i x_q.npy)
require_contains("${err}" "\n  engine state:\n" "deadlock state dump")
# Options with no effect in the combination: one error line naming the option, exit 1
run(1 out err run conv.tpu -i x_q.npy --functional --trace t.json)
require_contains("${err}" "error: --trace has no effect with --functional" "--trace with --functional")
run(1 out err run conv.tpu -i x_q.npy --functional --vcd w.vcd)
require_contains("${err}" "error: --vcd has no effect with --functional" "--vcd with --functional")
run(1 out err run conv.tpu -i x_q.npy --dequantize)
require_contains("${err}" "error: --dequantize has no effect without --output-dir" "--dequantize without -o")
# Command-line mistakes: CLI11, exit 2
run(2 out err run)

# ---- arch list / show ---------------------------------------------------------------------------
run(0 help err --help)
require_contains("${help}" "run " "--help")
require_contains("${help}" "arch " "--help")
run(0 list err arch list)
foreach(needle "edge" "default" "server" "lanes" "MACs/cycle" "LMEM" "DDR GB/s" "512 KiB" "256 MiB")
  require_contains("${list}" "${needle}" "arch list")
endforeach()
run(0 yaml err arch show default)
require_contains("${yaml}" "lanes: 16" "arch show default")
file(WRITE "${WORK}/default.yaml" "${yaml}")
run(0 again err arch show default.yaml)
if(NOT again STREQUAL yaml)
  message(FATAL_ERROR "arch show of its own YAML differs:\n${again}")
endif()
run(0 out err -q run conv.tpu -i x_q.npy --arch default.yaml -o from_yaml)  # same fingerprint: accepted
run(1 out err arch show no-such-arch)
run(2 out err arch)
message(STATUS "cli run test passed")
