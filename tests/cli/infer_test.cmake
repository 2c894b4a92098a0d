# `tpusim infer` (docs/cli.md) on the models and dumps test_compare writes (fixture compare_models):
# the integer engine against the reference dump test_compare saved, the simulator bit-exact with it
# on two architectures, a fixed-batch model run image by image, .npz and NAME=PATH inputs, and the
# one-line errors.
foreach(var PYTHON MODELS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "infer_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

run(0 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -o int.npz --engine int)
require_contains("${err}" "1 output of 3 runs (int) -> int.npz" "int summary")  # compiled at batch 1, as `compile` does
run(0 out err infer "${MODELS}/net_qdq.onnx" -i "x=${MODELS}/x_net.npy" -o sim_edge.npz --engine sim --arch edge)
require_contains("${err}" "cycles" "sim summary")
run(0 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -o sim_server.npz --engine sim --arch server)
run(0 out err infer "${MODELS}/net_fp32.onnx" -i "${MODELS}/x_net.npy" -o fp32.npz)
python("
d = np.load('${MODELS}/net_int_dump.npz')
i = np.load('int.npz')
assert list(i.keys()) == ['y'], list(i.keys())
assert i['y'].dtype == np.float32 and i['y'].shape == (3, 5), i['y'].shape
assert np.array_equal(i['y'], d['y_q_dq']), 'int engine differs from the reference dump'
for a in ('sim_edge.npz', 'sim_server.npz'):
    assert np.array_equal(np.load(a)['y'], i['y']), a + ' differs from the integer reference'
f = np.load('${MODELS}/net_fp32_dump.npz')
out = np.load('fp32.npz')
(name,) = out.keys()
assert np.array_equal(out[name], f[name]), name
x = np.load('${MODELS}/x_net.npy')
np.savez('inputs.npz', x=x)
")
run(0 out err infer "${MODELS}/net_qdq.onnx" -i inputs.npz -o npz_in.npz --engine int)
python("assert np.array_equal(np.load('npz_in.npz')['y'], np.load('int.npz')['y'])")

# Errors: one line, exit 1 (or CLI11's 2 for a bad choice), nothing written.
run(1 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -o bad.npz --engine fp32 --arch edge)
require_contains("${err}" "--arch has no effect with --engine fp32" "arch without sim")
run(1 out err infer "${MODELS}/net_fp32.onnx" -i "${MODELS}/x_net.npy" -o bad.npz --engine int)
require_contains("${err}" "needs calibration data: give --calib" "fp32 model on int")
run(1 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_mlp.npy" -o bad.npz)
require_contains("${err}" "does not fit input 'x'" "shape mismatch")
run(1 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -i "${MODELS}/x_net.npy" -o bad.npz)
require_contains("${err}" "more inputs given than" "surplus input")
run(1 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -o "${WORK}")
require_contains("${err}" "is a directory" "output is a directory")
run(2 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -o bad.npz --engine gpu)
if(EXISTS "${WORK}/bad.npz")
  message(FATAL_ERROR "a failed infer wrote bad.npz")
endif()

# compile --save-qdq: the calibrated QDQ model it writes gives the same integers as calibrating on
# the fly, and is refused without --calib.
run(0 out err compile "${MODELS}/fp32_mlp.onnx" --calib "${MODELS}/calib_mlp.npy" --bits w4a8 -o mlp.tpu
    --save-qdq mlp_qdq.onnx)
require_contains("${err}" "wrote mlp_qdq.onnx (the calibrated QDQ model)" "save-qdq message")
run(0 out err infer mlp_qdq.onnx -i "${MODELS}/x_mlp.npy" -o saved.npz --engine int)
run(0 out err infer "${MODELS}/fp32_mlp.onnx" -i "${MODELS}/x_mlp.npy" -o onthefly.npz --engine int
    --calib "${MODELS}/calib_mlp.npy" --bits w4a8)
python("assert np.array_equal(np.load('saved.npz')['y'], np.load('onthefly.npz')['y'])")
run(1 out err compile mlp_qdq.onnx -o again.tpu --save-qdq again.onnx)
require_contains("${err}" "--save-qdq has no effect without --calib" "save-qdq without calib")
run(1 out err infer "${MODELS}/net_qdq.onnx" -i "${MODELS}/x_net.npy" -o bad.npz --calib-method kl)
require_contains("${err}" "error: --calib-method has no effect without --calib" "--calib-method without --calib")
