# tpusim eval end to end without libtorch: a QDQ model of the test zoo (compare_models fixture)
# compiled for two presets, a small IDX dataset written by numpy, top-1 and predictions checked
# against an independent numpy decode of the dataset and against `tpusim run` on the same images,
# simulator == integer reference bit for bit (--reference), errors.
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)
set(model "${MODELS}/zoo_qdq_int8.onnx")  # input [1, 1, 16, 16]

# 40 random 16x16 images (gzip-compressed images, raw labels) and 12 of 28x28 for the shape error.
python("
import gzip, os, struct
rng = np.random.default_rng(5)
def write(d, n, h, w, gz):
    os.makedirs(d, exist_ok=True)
    img = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    lab = rng.integers(0, 10, n, dtype=np.uint8)
    data = struct.pack('>IIII', 0x803, n, h, w) + img.tobytes()
    name = d + '/t10k-images-idx3-ubyte' + ('.gz' if gz else '')
    open(name, 'wb').write(gzip.compress(data) if gz else data)
    open(d + '/t10k-labels-idx1-ubyte', 'wb').write(struct.pack('>II', 0x801, n) + lab.tobytes())
    return img, lab
img, lab = write('ds16', 40, 16, 16, True)
np.save('x.npy', (img.astype(np.float32) / np.float32(255)).reshape(40, 1, 16, 16))
np.save('labels.npy', lab)
write('ds28', 12, 28, 28, False)
")

foreach(arch default edge)
  run(0 out err compile "${model}" --arch ${arch} -o m_${arch}.tpu)
  run(0 out err eval m_${arch}.tpu --dataset mnist:ds16 --reference "${model}" --json e_${arch}.json)
  require_contains("${out}" "outputs identical on 40/40 images (bit-exact)" "eval --reference (${arch})")
  require_contains("${out}" "per image:" "eval timed figures (${arch})")
  # The same images through `tpusim run` (the host quantizes the float .npy itself).
  run(0 out err run m_${arch}.tpu -i x.npy -o out_${arch})
  python("
e = json.load(open('e_${arch}.json'))
lab = np.load('labels.npy')
y = np.load('out_${arch}/' + [f for f in __import__('os').listdir('out_${arch}') if f.endswith('.npy')][0])
pred = y.reshape(40, -1).argmax(axis=1)
assert e['images'] == 40 and e['predictions'] == pred.tolist(), (e['predictions'], pred)
assert e['correct'] == int((pred == lab).sum()) and abs(e['top1'] - e['correct'] / 40) < 1e-12, e
assert e['integer_reference']['identical_outputs'] == 40, e
p = e['per_image']
assert p['cycles'] > 0 and p['macs'] > 0 and 0 < p['mac_utilization'] <= 1, p
assert p['ddr_read_bytes'] > 0 and p['ddr_write_bytes'] > 0, p
")
endforeach()

# --jobs: the images split over worker processes; the JSON (predictions, per-image figures, the
# summed statistics) is the same for 1, 2 and 3 jobs, timed and functional.
foreach(mode timed functional)
  set(flag "")
  if(mode STREQUAL "functional")
    set(flag --functional)
  endif()
  foreach(j 1 2 3)
    run(0 out err eval m_default.tpu --dataset mnist:ds16 ${flag} --jobs ${j} --json j${j}_${mode}.json)
  endforeach()
  python("
a = json.load(open('j1_${mode}.json'))
assert a['images'] == 40 and a['stats']['macs'] > 0 and len(a['predictions']) == 40, a
assert a['stats']['mode'] == '${mode}', a['stats']
for j in (2, 3):
    b = json.load(open('j%d_${mode}.json' % j))
    assert a == b, (j, a, b)
")
endforeach()

# A model whose batch is fixed at 1 (torch.onnx's default): the integer reference runs it image by
# image and agrees with the simulator on all 40.
python("
import onnx
m = onnx.load('${model}')
for v in list(m.graph.input) + list(m.graph.output):
    for d in v.type.tensor_type.shape.dim[:1]:
        d.ClearField('dim_param')
        d.dim_value = 1
onnx.save(m, 'fixed_b1.onnx')
")
run(0 out err compile fixed_b1.onnx -o fixed_b1.tpu)
run(0 out err eval fixed_b1.tpu --dataset mnist:ds16 --reference fixed_b1.onnx --functional)
require_contains("${out}" "outputs identical on 40/40 images (bit-exact)" "eval --reference of a fixed-batch model")

# Functional mode, --limit, and a trace of the first image.
run(0 out err eval m_default.tpu --dataset mnist:ds16 --functional --limit 7 --json f.json)
require_contains("${out}" "(7 images;" "eval --limit")
python("
f, e = json.load(open('f.json')), json.load(open('e_default.json'))
assert f['images'] == 7 and f['predictions'] == e['predictions'][:7] and 'per_image' not in f, f
")
run(0 out err eval m_default.tpu --dataset mnist:ds16 --limit 3 --trace t.json)
python("
t = json.load(open('t.json'))
assert any(ev.get('ph') == 'X' for ev in t['traceEvents']), 'no slices in the trace'
")

# A program that is not the model's any more (one weight bit flipped in the .tpu, resealed): eval
# --reference must fail, naming both files.
python("
import struct, zlib
b = bytearray(open('m_default.tpu', 'rb').read())
for i in range(struct.unpack_from('<I', b, 28)[0]):
    kind, off, size = struct.unpack_from('<IQQ', b, 32 + 20 * i)
    if kind != 4:  # the data section: u32 count, then (u64 addr, u64 size, bytes) per block
        continue
    at, blocks = off + 4, []
    for _ in range(struct.unpack_from('<I', b, off)[0]):
        addr, n = struct.unpack_from('<QQ', b, at)
        blocks.append((n, at + 16))
        at += 16 + n
    n, start = max(blocks)  # the largest block: a layer's weights
    b[start + n // 2] ^= 0x01
struct.pack_into('<I', b, 24, zlib.crc32(bytes(b[32:])) & 0xffffffff)
open('patched.tpu', 'wb').write(b)
")
run(1 out err eval patched.tpu --dataset mnist:ds16 --reference "${model}")
require_contains("${err}" "patched.tpu: simulator outputs differ from the integer reference of" "eval --reference mismatch")

# Errors: one line, exit 1, no JSON written.
run(1 out err eval m_default.tpu --dataset mnist:ds28 --json bad.json)
require_contains("${err}" "m_default.tpu: input" "eval on images of another shape")
require_contains("${err}" "[1, 1, 28, 28]" "eval shape message")
run(1 out err eval m_default.tpu --dataset mnist:nowhere)
require_contains("${err}" "nowhere" "eval on a missing dataset")
run(1 out err eval missing.tpu --dataset mnist:ds16)
require_contains("${err}" "missing.tpu" "eval of a missing program")
run(1 out err eval m_default.tpu --dataset mnist:ds16 --reference "${MODELS}/zoo_qdq_int4.onnx")
require_contains("${err}" "zoo_qdq_int4.onnx: input shape does not match" "eval --reference of another model")
run(1 out err eval m_default.tpu --dataset nonsense)
require_contains("${err}" "unknown dataset 'nonsense'" "eval --dataset")
foreach(e bad.json)
  if(EXISTS "${WORK}/${e}")
    message(FATAL_ERROR "a failed eval wrote ${e}")
  endif()
endforeach()
