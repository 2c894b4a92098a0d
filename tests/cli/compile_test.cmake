# End-to-end test of `tpusim compile`: a QDQ model (written by test_compiler_backend) compiled for
# edge with a schedule report and --dump-ir, the program run by `tpusim run` on a numpy input, and
# an FP32 model refused with the calibration error. Run by ctest as:
#   cmake -DTPUSIM=<binary> -DPYTHON=<python with numpy> -DMODELS=<dir> -DWORK=<scratch> -P compile_test.cmake
foreach(var PYTHON MODELS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compile_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

run(0 out err compile "${MODELS}/backend_qdq_int8.onnx" --arch edge -o int8.tpu --report report.json --dump-ir
    --simulate)
require_contains("${out}" "conv2d" "--dump-ir")
if(NOT EXISTS "${WORK}/int8.tpu")
  message(FATAL_ERROR "tpusim compile wrote no program")
endif()
python("
r = json.load(open('report.json'))
assert r['arch'] == 'edge', r['arch']
assert len(r['layers']) == 5, len(r['layers'])
for L in r['layers']:
    assert L['tiles'] >= 1 and L['roofline_cycles'] >= 0, L
    # A layer that neither multiplies nor moves DDR bytes (a pool reading its producer's LMEM
    # buffer, its output kept there) has a roofline of 0, hence efficiency 0.
    assert L['sim_cycles'] > 0 and (0 < L['efficiency'] <= 1 or L['roofline_cycles'] == 0), L
assert r['total_macs'] > 0
np.save('x.npy', np.random.default_rng(1).uniform(-1, 1, (1, 1, 16, 16)).astype(np.float32))
")
run(0 out err run int8.tpu -i x.npy -o out)
# The program's input and output keep the ONNX graph's names (x, y; not the QuantizeLinear's x_q).
run(0 out err run int8.tpu -i x=x.npy -o out_named)
python("
y = np.load('out/y.npy')
assert y.shape == (1, 10) and y.dtype == np.int8, (y.shape, y.dtype)
assert (np.load('out_named/y.npy') == y).all()
")
run(0 out err info int8.tpu)
require_contains("${out}" "arch: edge" "tpusim info")

run(1 out err compile "${MODELS}/backend_fp32_mlp.onnx" -o fp32.tpu)
require_contains("${err}" "needs calibration data: give --calib data.npy" "FP32 model")
if(EXISTS "${WORK}/fp32.tpu")
  message(FATAL_ERROR "a refused compile wrote a program")
endif()

# An FP32 model calibrated by `tpusim compile --calib` (compiler/calibrate.h), then run.
python("
rng = np.random.default_rng(2)
np.save('calib.npy', rng.uniform(-1, 1, (16, 1, 8, 8)).astype(np.float32))
np.save('calib64.npy', np.load('calib.npy').astype(np.float64))
np.save('calib_u8.npy', np.zeros((4, 1, 8, 8), np.uint8))
np.save('x1.npy', rng.uniform(-1, 1, (1, 1, 8, 8)).astype(np.float32))
")
run(0 out err compile "${MODELS}/backend_fp32_mlp.onnx" --arch edge -o mlp_cal.tpu --calib calib.npy
    --calib-method minmax --bits w4a4 --calib-limit 8 --dump-ir)
require_contains("${out}" "matmul" "--calib --dump-ir")
run(0 out err run mlp_cal.tpu -i x1.npy -o out_cal)
python("
y = np.load('out_cal/y.npy')
assert y.shape == (1, 10), y.shape
")
run(0 out err compile "${MODELS}/backend_fp32_mlp.onnx" --arch edge -o mlp_kl.tpu --calib calib.npy)
# float64 calibration data is rounded to float32: the same program, byte for byte.
run(0 out err compile "${MODELS}/backend_fp32_mlp.onnx" --arch edge -o mlp_kl64.tpu --calib calib64.npy)
python("
assert open('mlp_kl64.tpu', 'rb').read() == open('mlp_kl.tpu', 'rb').read(), 'float64 calibration differs'
")
run(1 out err compile "${MODELS}/backend_fp32_mlp.onnx" -o bad.tpu --calib calib_u8.npy)
require_contains("${err}" "calib_u8.npy: calibration data is uint8, expected float32 or float64" "uint8 calibration data")
run(1 out err compile "${MODELS}/backend_fp32_mlp.onnx" -o bad.tpu --calib calib.npy --bits w2a8)
require_contains("${err}" "2-bit weights cannot be expressed with ONNX QDQ types" "--bits w2a8")

# Options and paths a user gets wrong: refused before any work, one line naming the culprit.
run(1 out err compile "${MODELS}/backend_qdq_int8.onnx" --bits w4a4 -o w4.tpu)
require_contains("${err}" "error: --bits has no effect without --calib" "--bits on a QDQ model")
run(1 out err compile "${MODELS}/backend_qdq_int8.onnx" --calib-method mse -o mse.tpu)
require_contains("${err}" "error: --calib-method has no effect without --calib" "--calib-method on a QDQ model")
file(MAKE_DIRECTORY "${WORK}/adir")
run(1 out err compile "${MODELS}/backend_qdq_int8.onnx" -o adir)
require_contains("${err}" "adir: cannot write: is a directory" "-o a directory")
run(1 out err compile "${MODELS}/backend_fp32_mlp.onnx" --calib missing.npy -o nowhere/fp32.tpu)
require_contains("${err}" "nowhere/fp32.tpu: cannot write: folder 'nowhere' does not exist" "-o in a missing folder")
foreach(f w4.tpu mse.tpu nowhere)
  if(EXISTS "${WORK}/${f}")
    message(FATAL_ERROR "a refused compile wrote ${f}")
  endif()
endforeach()

# A mistyped subcommand: exit 2 and the nearest name.
run(2 out err compil "${MODELS}/backend_qdq_int8.onnx")
require_contains("${err}" "error: unknown command 'compil': did you mean 'compile'?" "tpusim compil")
