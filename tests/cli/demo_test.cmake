# tpusim demo end to end on a Fashion-MNIST subset (100 test images): every variant's simulator
# outputs equal the integer reference's bit for bit, accuracies above floors, the report and its
# plots, the cache on a rerun, `tpusim eval` on a demo program; errors. Floors sit well below what
# these short runs reach (FP32 ~80%, every variant ~80% at 2 epochs on 4000 images) so they catch
# breakage, not noise.
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)
set(demo demo -o demo --limit 4000 --epochs 2 --qat8-epochs 1 --qat4-epochs 1 --test-limit 100
    --compare-images 20 --threads 2)
run(0 out err ${demo})
require_contains("${out}" "# tpusim demo: lenet5 on fashion-mnist" "demo prints its report")
python("
import gzip
r = json.load(open('demo/report.json'))
names = [v['name'] for v in r['variants']]
assert names == ['fp32', 'ptq_w8a8', 'qat_w8a8', 'ptq_w4a4', 'qat_w4a4'], names
assert r['test_images'] == 100 and r['arch'] == 'default', r
# Labels decoded here, independently of tpusim's IDX reader.
raw = gzip.open('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz').read()
labels = np.frombuffer(raw[8:], dtype=np.uint8)[:100]
assert r['variants'][0]['accuracy']['fp32'] >= 0.70, r['variants'][0]
sqnr = {}
for v in r['variants'][1:]:
    a, s = v['accuracy'], v['sim_vs_int_ref']
    assert s['images'] == 100 and s['identical_outputs'] == 100, (v['name'], s)
    assert a['sim'] == a['int_ref'] and a['sim'] >= 0.65, (v['name'], a)
    assert abs(a['fake_quant'] - a['int_ref']) <= 0.03, (v['name'], a)
    e = json.load(open('demo/' + v['name'] + '/eval.json'))
    pred = np.array(e['predictions'])
    assert len(pred) == 100 and abs((pred == labels).mean() - a['sim']) < 1e-12, v['name']
    layers = v['layers']
    assert [l['name'] for l in layers] == ['image_q', 'conv1_q', 'pool1_q', 'conv2_q', 'pool2_q', 'fc1_q', 'fc2_q'], layers
    sqnr[v['name']] = sum(l['sqnr_db'] for l in layers[1:])
    # Each layer's error split by source (tpusim compare --attribute): shares summing to 1, the
    # all-off emulation equal to FP32, nothing upstream of the first layer.
    parts = ['weight_rounding', 'weight_clipping', 'weight_update', 'bias_rounding', 'input_rounding',
             'input_clipping', 'requant', 'multiplier', 'output_clipping', 'interaction', 'upstream']
    for l in layers[1:]:
        at = l['attribution']
        assert abs(sum(at[k] for k in parts) - 1) < 1e-9 and at['fp32_deviation'] == 0, (v['name'], l)
    assert layers[1]['attribution']['upstream'] == 0, (v['name'], layers[1])
    p = v['perf']
    assert p['cycles'] > 0 and 0 < p['mac_utilization'] <= 1 and p['macs'] == 4241152, p
    assert abs(p['latency_us'] - p['cycles'] / r['clock_mhz']) < 1e-9, p
    assert v['trace'] == v['name'] + '/trace.json'
    json.load(open('demo/' + v['trace']))
for l in r['variants'][1]['layers']:
    assert l['cosine'] >= 0.99, l  # PTQ W8A8
assert sqnr['ptq_w4a4'] < sqnr['ptq_w8a8'], sqnr
# Int4 MACs run two per int8 slot: fewer cycles at W4A4 on the same network.
perf = {v['name']: v['perf'] for v in r['variants'][1:]}
assert perf['ptq_w4a4']['cycles'] < perf['ptq_w8a8']['cycles'], perf
md = open('demo/report.md').read()
for needle in ['| PTQ W8A8 (mse) |', '| QAT W4A4 (lsq) |', '100/100 outputs bit-exact', '![accuracy](accuracy.png)',
               \"## Where each layer's error comes from\", '![per-layer error attribution](attribution.png)']:
    assert needle in md, needle
for png in ['accuracy.png', 'layers.png', 'attribution.png', 'perf.png', 'timeline_qat_w4a4.png']:
    assert open('demo/' + png, 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n', png
")

# A rerun reuses every trained model with the same options; a folder with a missing output (a job
# killed half way) is redone.
file(REMOVE "${WORK}/demo/qat_w4a4/model.pt")
run(0 out err ${demo})
require_contains("${err}" "reusing the trained FP32 model" "demo rerun: FP32 cached")
require_contains("${err}" "reusing QAT W8A8 (ema)" "demo rerun: QAT W8A8 cached")
require_contains("${err}" "QAT W4A4 (lsq) for 1 epoch(s)" "demo rerun: QAT W4A4 redone")
string(FIND "${err}" "reusing QAT W4A4" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "demo rerun reused a folder without model.pt:\n${err}")
endif()

# A demo program through `tpusim eval`, checked against its model's integer reference.
run(0 out err eval demo/qat_w4a4/model.tpu --limit 100 --reference demo/qat_w4a4/model.onnx --json e.json)
require_contains("${out}" "outputs identical on 100/100 images (bit-exact)" "eval of a demo program")
python("
e, r = json.load(open('e.json')), json.load(open('demo/report.json'))
assert e['top1'] == r['variants'][4]['accuracy']['sim'], (e['top1'], r['variants'][4]['accuracy'])
")

# Errors: one line, exit 1.
run(1 out err demo -o bad --variants ptq_w8a8,foo)
require_contains("${err}" "unknown demo variant 'foo'" "demo --variants")
run(1 out err demo -o bad --from nowhere)
require_contains("${err}" "--from nowhere: not a `tpusim train` folder" "demo --from")
