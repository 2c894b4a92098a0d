# vit_tiny through tpusim train / ptq / qat on a Fashion-MNIST subset, then the compiler and the
# timed simulator: the transformer recipe (Adam) applied unless the user picks an optimizer, the
# integer reference agreeing with fake-quant (integer LayerNorm and softmax in both), the programs
# on default and server equal to the integer reference bit for bit, and one-line errors. Floors are
# far below the measured values (comments) so that they catch breakage, not noise.
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)
set(subset --limit 3000 --test-limit 400 --threads 2)

# FP32: one epoch on 3000 images (measured 60% on 6000).
run(0 out err train --model vit_tiny --epochs 1 ${subset} -o fp32)
python("
r = json.load(open('fp32/report.json'))
assert r['model'] == 'vit_tiny', r['model']
o = r['options']
assert o['optimizer'] == 'adam' and abs(o['lr'] - 1e-3) < 1e-12, o
assert r['accuracy']['fp32'] >= 0.35, r['accuracy']
")

# PTQ W8A8: the integer reference agrees with fake-quant (measured 100% of 200 images).
run(0 out err ptq --from fp32 --bits w8a8 --calib-images 400 --test-limit 400 --ref-limit 100 --threads 2 -o ptq8)
python("
r = json.load(open('ptq8/report.json'))
assert r['accuracy']['fake_quant'] >= r['accuracy']['fp32'] - 0.05, r['accuracy']
ref = r['integer_reference']
assert ref['images'] == 100 and ref['agreement'] >= 0.95, ref
")

# QAT W4A8, one epoch on 1000 images, Adam at 1e-4 (the transformer recipe below 8 bits).
run(0 out err qat --from fp32 --bits w4a8 --epochs 1 --limit 1000 --test-limit 400 --ref-limit 100 --threads 2
    -o qat4)
python("
r = json.load(open('qat4/report.json'))
o = r['options']
assert o['optimizer'] == 'adam' and abs(o['lr'] - 1e-4) < 1e-12, o
assert r['integer_reference']['agreement'] >= 0.9, r['integer_reference']
")

# The simulator on default and server: every output equal to the integer reference (eval fails otherwise).
foreach(arch default server)
  run(0 out err compile ptq8/model.onnx --arch ${arch} -o ptq8_${arch}.tpu)
  run(0 out err eval ptq8_${arch}.tpu --limit 4 --reference ptq8/model.onnx -j 1)
  require_contains("${out}" "outputs identical on 4/4 images (bit-exact)" "eval --reference on ${arch}")
endforeach()
run(0 out err compile qat4/model.onnx --arch default -o qat4.tpu)
run(0 out err eval qat4.tpu --limit 4 --reference qat4/model.onnx -j 1)
require_contains("${out}" "outputs identical on 4/4 images (bit-exact)" "eval --reference of QAT W4A8")

# An explicit optimizer keeps the CNN defaults for the rest.
run(0 out err train --model vit_tiny --epochs 1 --limit 256 --test-limit 64 --threads 2 --optimizer sgd -o sgd)
python("
o = json.load(open('sgd/report.json'))['options']
assert o['optimizer'] == 'sgd' and abs(o['lr'] - 0.05) < 1e-12, o
")

# Errors: one line, non-zero exit, nothing written.
run(1 out err ptq --from fp32 --bits w2a2 -o bad2)
require_contains("${err}" "2-bit activations at layer" "ptq w2a2 of a transformer")
if(EXISTS "${WORK}/bad2/model.onnx")
  message(FATAL_ERROR "ptq w2a2: bad2/model.onnx written")
endif()
