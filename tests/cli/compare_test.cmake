# End-to-end test of `tpusim compare` on the models, images and interpreter dumps test_compare
# writes (fixture compare_models). numpy recomputes the metrics from the dumps, independently of
# the command's arithmetic and name matching. Run by ctest as:
#   cmake -DTPUSIM=<binary> -DPYTHON=<python with numpy> -DMODELS=<dir> -DWORK=<scratch> -P compare_test.cmake
foreach(var PYTHON MODELS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compare_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

# A CSV reader shared by the checks below.
set(read_csv "
import csv
def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))
")

# --fp32: the QDQ net against its FP32 export; the metrics recomputed from the dumps.
run(0 out err compare "${MODELS}/net_qdq.onnx" --fp32 "${MODELS}/net_fp32.onnx" -i "${MODELS}/x_net.npy"
    --csv net.csv --json net.json)
require_contains("${out}" "3 image(s), FP32 (${MODELS}/net_fp32.onnx) vs integer reference" "header")
require_contains("${out}" "lowest SQNR:" "summary line")
python("${read_csv}
f = np.load('${MODELS}/net_fp32_dump.npz')
q = np.load('${MODELS}/net_int_dump.npz')
r = rows('net.csv')
assert [x['op'] for x in r] == ['input', 'conv2d', 'conv2d', 'eltwise', 'pool', 'matmul'], r
assert r[-1]['fp32_tensor'] == 'fc', r[-1]
for x in r:
    a = f[x['fp32_tensor']].astype(np.float64).ravel()
    b = q[x['layer'] + '_dq'].astype(np.float64).ravel()
    assert x['shape'] == 'x'.join(str(d) for d in q[x['layer']].shape), x
    cos = a @ b / np.sqrt((a @ a) * (b @ b))
    e = a - b
    sq = 10 * np.log10((a @ a) / (e @ e)) if (e @ e) > 0 else np.inf
    assert abs(float(x['cosine']) - cos) < 1e-7, (x, cos)
    assert abs(float(x['sqnr_db']) - sq) < 1e-6 or sq == float(x['sqnr_db']), (x, sq)
    assert abs(float(x['max_abs_err']) - np.abs(e).max()) < 1e-6, x
    assert abs(float(x['fp32_max_abs']) - np.abs(a).max()) < 1e-6, x
    assert cos > 0.99, x
j = json.load(open('net.json'))
assert j['images'] == 3 and len(j['layers']) == len(r), j
")

# --attribute: the error of each op layer split by source (compiler/attribution.h); the total
# error energy recomputed from the dumps, the shares summing to 1, the CSV and JSON agreeing.
run(0 out err compare "${MODELS}/net_qdq.onnx" --fp32 "${MODELS}/net_fp32.onnx" -i "${MODELS}/x_net.npy"
    --attribute --csv attr.csv --json attr.json)
require_contains("${out}" "error attribution, % of each layer's error energy" "attribution table")
python("${read_csv}
f = np.load('${MODELS}/net_fp32_dump.npz')
q = np.load('${MODELS}/net_int_dump.npz')
parts = ['weight_rounding', 'weight_clipping', 'weight_update', 'bias_rounding', 'input_rounding',
         'input_clipping', 'requant', 'multiplier', 'output_clipping', 'interaction', 'upstream']
r, j = rows('attr.csv'), json.load(open('attr.json'))['layers']
assert list(r[0].keys())[-13:] == ['attr_' + k for k in parts] + ['attr_total_mse', 'attr_dominant'], r[0].keys()
assert r[0]['attr_total_mse'] == '' and 'attribution' not in j[0], 'the input row is not attributed'
for x, l in zip(r[1:], j[1:]):
    e = f[x['fp32_tensor']].astype(np.float64).ravel() - q[x['layer'] + '_dq'].astype(np.float64).ravel()
    a = l['attribution']
    assert abs(float(x['attr_total_mse']) - (e @ e) / e.size) <= 1e-6 * (e @ e) / e.size, (x, (e @ e) / e.size)
    assert abs(sum(a[k] for k in parts) - 1) < 1e-9 and a['fp32_deviation'] == 0, l
    assert all(abs(float(x['attr_' + k]) - a[k]) < 1e-8 for k in parts), (x, a)
    assert x['attr_dominant'] == a['dominant'] and a[a['dominant']] == max(a[k] for k in parts), a
assert j[1]['attribution']['upstream'] == 0, 'the first op reads the host-quantized input'
# The FP32 export's weights are the integers times their scales: on the grid and inside the range.
assert all(l['attribution'][k] == 0 for l in j[1:] for k in ('weight_rounding', 'weight_clipping', 'weight_update')), j
")

# The QDQ zoo, FP32 side = the model without activation QDQ; and simulated on edge and default:
# every layer's simulator integers equal the integer reference's.
foreach(m qdq_int8 qdq_uint8 qdq_int4 qdq_depthwise)
  run(0 out err compare "${MODELS}/zoo_${m}.onnx" -i "${MODELS}/x_${m}.npy" --csv ${m}_ref.csv)
  require_contains("${out}" "without activation QDQ) vs integer reference" "${m} header")
  foreach(arch edge default)
    run(0 out err compare "${MODELS}/zoo_${m}.onnx" -i "${MODELS}/x_${m}.npy" --arch ${arch} --csv ${m}_${arch}.csv)
    require_contains("${out}" "vs simulator (arch ${arch})" "${m} on ${arch}")
    require_contains("${out}" "sim==ref" "${m} on ${arch}")
    python("${read_csv}
ref, sim = rows('${m}_ref.csv'), rows('${m}_${arch}.csv')
assert len(ref) == len(sim) and len(sim) >= 4, (len(ref), len(sim))
for a, b in zip(ref, sim):
    assert b['sim_equals_ref'] == 'true', b
    assert a['layer'] == b['layer'] and a['cosine'] == b['cosine'] and a['sqnr_db'] == b['sqnr_db'], (a, b)
    assert float(a['cosine']) > (0.9 if '${m}' == 'qdq_int4' else 0.99), a
")
  endforeach()
endforeach()
run(0 out err compare "${MODELS}/zoo_qdq_int8.onnx" -i "${MODELS}/x_qdq_int8.npy" --arch edge --timed)
require_contains("${out}" "yes" "--timed")

# An FP32 model quantized on the fly: 4-bit has the lower SQNR at the output.
foreach(bits w8a8 w4a4)
  run(0 out err compare "${MODELS}/fp32_mlp.onnx" --calib "${MODELS}/calib_mlp.npy" --calib-method minmax
      --bits ${bits} -i "${MODELS}/x_mlp.npy" --csv mlp_${bits}.csv)
  require_contains("${out}" "BN folded) vs integer reference" "--calib ${bits}")
endforeach()
python("${read_csv}
a, b = rows('mlp_w8a8.csv'), rows('mlp_w4a4.csv')
assert float(b[-1]['sqnr_db']) < float(a[-1]['sqnr_db']), (a[-1], b[-1])
assert float(a[-1]['cosine']) > 0.99, a[-1]
")

# float64 images, as `tpusim run` takes them: rounded to float32, the same comparison.
python("np.save('x64.npy', np.load('${MODELS}/x_qdq_int8.npy').astype(np.float64))")
run(0 out err compare "${MODELS}/zoo_qdq_int8.onnx" -i "${MODELS}/x_qdq_int8.npy" --csv f32.csv)
run(0 out err compare "${MODELS}/zoo_qdq_int8.onnx" -i x64.npy --csv f64.csv)
file(READ "${WORK}/f32.csv" f32_csv)
file(READ "${WORK}/f64.csv" f64_csv)
if(NOT f32_csv STREQUAL f64_csv)
  message(FATAL_ERROR "float64 images compare differently from the same float32 ones")
endif()

# Errors: one line, exit 1, no CSV.
function(fails what expect)
  run(1 out err compare ${ARGN} --csv bad.csv)
  require_contains("${err}" "${expect}" "${what}")
  string(REGEX MATCHALL "\n" lines "${err}")
  list(LENGTH lines n)
  if(NOT n EQUAL 1 OR NOT err MATCHES "^error: ")
    message(FATAL_ERROR "${what}: expected one 'error:' line, got:\n${err}")
  endif()
  if(EXISTS "${WORK}/bad.csv")
    message(FATAL_ERROR "${what}: a failed compare wrote the CSV")
  endif()
endfunction()
file(WRITE "${WORK}/junk.onnx" "not a model")
file(MAKE_DIRECTORY "${WORK}/adir")
file(WRITE "${WORK}/junk.npy" "not an array")
python("np.save('x3.npy', np.zeros((2, 3, 16, 16), np.float32))")
fails("missing model" "missing.onnx: cannot read" missing.onnx -i missing.npy)
fails("a folder as the model" "adir: cannot read: is a directory" adir -i missing.npy)
fails("--json into a missing folder" "nowhere/r.json: cannot write: folder 'nowhere' does not exist"
      "${MODELS}/zoo_qdq_int8.onnx" -i "${MODELS}/x_qdq_int8.npy" --json nowhere/r.json)
fails("bad model" "junk.onnx: not an ONNX model" junk.onnx -i "${MODELS}/x_qdq_int8.npy")
fails("bad npy" "junk.npy" "${MODELS}/zoo_qdq_int8.onnx" -i junk.npy)
fails("wrong shape" "x3.npy: shape [2, 3, 16, 16] does not fit input 'x'" "${MODELS}/zoo_qdq_int8.onnx" -i x3.npy)
fails("unknown arch" "nosuch" "${MODELS}/zoo_qdq_int8.onnx" -i "${MODELS}/x_qdq_int8.npy" --arch nosuch)
fails("no matching layer" "other.onnx: no tensor of the FP32 run matches" "${MODELS}/net_qdq.onnx"
      -i "${MODELS}/x_net.npy" --fp32 "${MODELS}/other.onnx")
fails("FP32 model without --calib" "give calibration data (--calib)" "${MODELS}/fp32_mlp.onnx" -i "${MODELS}/x_mlp.npy")

# Options with no effect in the combination: one error line naming the option, exit 1.
run(1 out err compare "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" --bits w4a4)
require_contains("${err}" "error: --bits has no effect without --calib" "--bits without --calib")
run(1 out err compare "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" --timed)
require_contains("${err}" "error: --timed has no effect without --arch" "--timed without --arch")

# A model whose batch is fixed at 1 (torch.onnx's default) over 3 images: one run per image, every
# layer's values stacked, so the table equals the dynamic-batch model's (one run at batch 3), the
# simulated tensors included.
python("
import onnx
m = onnx.load('${MODELS}/net_qdq.onnx')
for v in list(m.graph.input) + list(m.graph.output):
    for d in v.type.tensor_type.shape.dim[:1]:
        d.ClearField('dim_param')
        d.dim_value = 1
onnx.save(m, 'net_qdq_b1.onnx')
")
run(0 out err compare "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" --arch edge --json dyn.json --attribute)
run(0 out err compare net_qdq_b1.onnx -i "${MODELS}/x_net.npy" --arch edge --json fixed.json --attribute)
require_contains("${out}" "3 image(s)" "fixed-batch header")
python("
a, b = json.load(open('dyn.json')), json.load(open('fixed.json'))
la, lb = a['layers'], b['layers']
assert len(la) == len(lb) > 2, (la, lb)
for x, y in zip(la, lb):
    assert x['shape'] == y['shape'] and x['shape'][0] == 3, (x, y)
    for k in ('cosine', 'sqnr_db', 'max_abs_err'):
        assert x[k] == y[k], (k, x, y)
    assert y['sim_equals_ref'] is True, y
    if x['op'] != 'input':  # the attribution summed over the 3 runs
        ax, ay = x['attribution'], y['attribution']
        assert ax['dominant'] == ay['dominant'], (x, y)
        assert all(abs(ax[k] - ay[k]) < 1e-9 for k in ax if k not in ('dominant', 'error_energy')), (ax, ay)
")
