# tpusim train / ptq / qat end to end on a Fashion-MNIST subset: short runs with accuracy floors,
# the integer reference agreeing with fake-quant, resume, the exported models compiling for the
# simulator, and one-line errors. Floors are far below what the runs reach (measured: see the
# comments) so that they catch breakage, not noise.
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)
set(subset --limit 4000 --test-limit 1000 --threads 2)

# FP32: two epochs on 4000 images.
run(0 out err train --model lenet5 --epochs 2 ${subset} -o fp32)
foreach(f model.onnx report.json model.pt checkpoint.pt)
  if(NOT EXISTS "${WORK}/fp32/${f}")
    message(FATAL_ERROR "train: fp32/${f} missing")
  endif()
endforeach()
python("
r = json.load(open('fp32/report.json'))
assert r['kind'] == 'fp32' and r['model'] == 'lenet5' and len(r['history']) == 2, r
assert r['accuracy']['fp32'] >= 0.75, r['accuracy']
assert r['train_images'] == 4000 and r['test_images'] == 1000
")

# Resume: a third epoch continues from the checkpoint; the first two epochs are kept as they were.
run(0 out err train --model lenet5 --epochs 3 ${subset} --resume -o fp32)
python("
r = json.load(open('fp32/report.json'))
assert len(r['history']) == 3, r['history']
")

# PTQ INT8 (percentile): fake-quant close to FP32; the integer reference agrees with fake-quant.
run(0 out err ptq --from fp32 --bits w8a8 --calib percentile --calib-images 1000 --test-limit 1000 --ref-limit 300
    --threads 2 -o ptq8)
python("
r = json.load(open('ptq8/report.json'))
a = r['accuracy']
assert a['fake_quant'] >= a['fp32'] - 0.02, a
ref = r['integer_reference']
assert ref['images'] == 300 and ref['agreement'] >= 0.97, ref
assert abs(ref['gap']) <= 0.03, ref
assert r['layers'][1]['weight_bits'] == 8 and len(r['layers'][1]['weight_scales']) == 32
")

# QAT W4A4 with LSQ, one epoch.
run(0 out err qat --from fp32 --bits w4a4 --algo lsq --epochs 1 ${subset} --ref-limit 300 -o qat4)
python("
r = json.load(open('qat4/report.json'))
assert r['algo'] == 'lsq' and r['bits'] == 'w4a4'
assert r['accuracy']['fake_quant'] >= 0.70, r['accuracy']
assert r['integer_reference']['agreement'] >= 0.95, r['integer_reference']
")

# The exported models compile for the simulator's default architecture.
run(0 out err compile qat4/model.onnx --arch default -o qat4.tpu)
run(0 out err compile ptq8/model.onnx --arch edge -o ptq8.tpu)

# Errors: one line, non-zero exit, nothing half-written.
run(1 out err ptq --from nowhere --bits w8a8 -o x)
require_contains("${err}" "nowhere/report.json: not found" "ptq --from a missing folder")
run(1 out err ptq --from fp32 --bits w9a9 -o x)
require_contains("${err}" "bits 'w9a9'" "ptq --bits")
run(1 out err qat --from fp32 --algo foo -o x)
require_contains("${err}" "--algo 'foo'" "qat --algo")
run(1 out err qat --from ptq8 -o x)
require_contains("${err}" "--from wants a `tpusim train` folder" "qat --from a ptq folder")
run(1 out err train --model vgg -o x --limit 10)
require_contains("${err}" "unknown model 'vgg'" "train --model")
run(1 out err train --dataset mnist:/nonexistent -o x)
require_contains("${err}" "/nonexistent/train-images-idx3-ubyte.gz: no such file" "train --dataset")
run(1 out err train --lr 0 -o x --limit 10)
require_contains("${err}" "--lr must be > 0, not 0" "train --lr 0")
