# tpusim mixprec end to end on a short-trained LeNet-5 and a few held-out images: the files exist
# and agree with each other (qtable, pareto.csv, report.json, PNG, model.onnx), the front and the
# choice are recomputed here, the chosen model is what `tpusim ptq --qtable` builds from the table
# (byte for byte) and compiles to the cycles the report gives; `tpusim qat --qtable` fine-tunes
# the mixed model; bad input is one error line and writes nothing.
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

run(0 out err train --model lenet5 --epochs 1 --limit 2000 --test-limit 100 --threads 2 -o fp32)
set(mixprec mixprec --from fp32 --arch default --candidates w8a8,w4a8,w4a4 --max-drop 0.5 --search-images 100
            --report-images 60 --calib-images 256 -j 2)
run(0 out err ${mixprec} -o mp)
require_contains("${out}" "mixprec lenet5 on default:" "mixprec prints its summary")
python("
import csv
r = json.load(open('mp/report.json'))
rows = list(csv.DictReader(open('mp/pareto.csv')))
layers = ['conv1', 'conv2', 'fc1', 'fc2']
assert r['layers'] == layers and r['candidates'] == ['w8a8', 'w4a8', 'w4a4'], r
assert r['points'] == len(rows) >= 10, (r['points'], len(rows))
assert r['search_split'] == {'split': 'test', 'first': 9900, 'images': 100}, r['search_split']
assert r['report_split'] == {'split': 'test', 'first': 0, 'images': 60}, r['report_split']
acc = np.array([float(x['accuracy']) for x in rows]); cyc = np.array([int(x['cycles']) for x in rows])
# Every assignment once; 100 images: accuracies are multiples of 1/100.
assert len({tuple(x[l] for l in layers) for x in rows}) == len(rows)
assert np.allclose(acc * 100, np.round(acc * 100), atol=1e-4)
# The Pareto front recomputed: not dominated (and not an exact repeat of an earlier point).
front = [i for i in range(len(rows)) if not any(
    (acc[j] >= acc[i] and cyc[j] <= cyc[i] and (acc[j] > acc[i] or cyc[j] < cyc[i])) or
    (j < i and acc[j] == acc[i] and cyc[j] == cyc[i]) for j in range(len(rows)))]
assert sorted(r['pareto']) == front, (r['pareto'], front)
assert [int(x['pareto']) for x in rows] == [int(i in front) for i in range(len(rows))]
u8, u4, c = r['uniform']['w8a8'], r['uniform']['w4a4'], r['chosen']
assert set(r['uniform']) == {'w8a8', 'w4a8', 'w4a4'}
assert u8['qtable'] == dict(zip(layers, ['w8a8'] * 4)), u8
assert u4['qtable'] == {'conv1': 'w4a4', 'conv2': 'w4a4', 'fc1': 'w4a4', 'fc2': 'w4a8'}, u4
# int4 x int4 MACs and half the weight bytes: fewer cycles and less energy at W4A4.
assert u4['cycles'] < u8['cycles'] and u4['energy_nj'] < u8['energy_nj'], (u4, u8)
assert u8['weight_bytes'] == 288 + 18432 + 401408 + 1280 and u4['weight_bytes'] < u8['weight_bytes'] / 1.9
# The choice: the fewest cycles among the points within 0.5 points of uniform W8A8 (search split).
floor = u8['search_accuracy'] - 0.005
ok = [i for i in range(len(rows)) if acc[i] >= floor - 1e-12]
best = min(cyc[i] for i in ok)
assert c['cycles'] == best and c['point'] in ok and c['cycles'] <= u8['cycles'], (c, best)
assert abs(r['accuracy_floor'] - floor) < 1e-9
row = rows[c['point']]
assert int(row['cycles']) == c['cycles'] and abs(float(row['accuracy']) - c['search_accuracy']) < 1e-6
assert {l: row[l] for l in layers} == c['qtable']
for p in [c, u8, u4]:
    assert 0 <= p['accuracy'] <= 1 and p['loss'] > 0 and p['energy_nj'] > 0, p
    assert abs(p['latency_us'] - p['cycles'] / r['clock_mhz']) < 1e-9
sens = r['sensitivity']
assert len(sens) == 2 + 2 + 2 + 1 and {s['layer'] for s in sens} == set(layers), sens
# qtable.yaml: comments, then one line per layer, the chosen bits.
lines = [l for l in open('mp/qtable.yaml').read().splitlines() if l and not l.startswith('#')]
assert dict(l.split(': ') for l in lines) == c['qtable'], lines
assert open('mp/pareto.png', 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n'
assert r['plots'] is True and r['seconds']['total'] > 0
import os
assert not [f for f in os.listdir('mp') if f.startswith('.mixprec_point')], os.listdir('mp')
")

# The chosen model is the one `tpusim ptq --qtable` builds, and compiles to the reported cycles.
run(0 out err ptq --from fp32 --qtable mp/qtable.yaml --calib-images 256 --test-limit 60 --ref-limit 0 -o ptqmix)
file(SHA256 "${WORK}/mp/model.onnx" a)
file(SHA256 "${WORK}/ptqmix/model.onnx" b)
if(NOT a STREQUAL b)
  message(FATAL_ERROR "mp/model.onnx differs from `tpusim ptq --qtable mp/qtable.yaml`'s model")
endif()
run(0 out err compile mp/model.onnx --arch default -o mp.tpu)
run(0 out err eval mp.tpu --limit 20 --reference mp/model.onnx --json eval.json -j 1)
python("
r = json.load(open('mp/report.json')); e = json.load(open('eval.json'))
assert round(e['per_image']['cycles']) == r['chosen']['cycles'], (e['per_image'], r['chosen'])
p = json.load(open('ptqmix/report.json'))
bits = {l['name']: (l.get('weight_bits'), l.get('out', {}).get('bits')) for l in p['layers']}
for name, wa in r['chosen']['qtable'].items():
    w, a = int(wa[1]), int(wa[3])
    assert bits[name][0] == w, (name, bits[name], wa)
    assert name == 'fc2' or bits[name][1] == a, (name, bits[name], wa)
")

# QAT fine-tunes the mixed model: its layers take the table's bits.
run(0 out err qat --from fp32 --qtable mp/qtable.yaml --epochs 1 --limit 300 --test-limit 60 --ref-limit 0
    --threads 2 -o qatmix)
python("
r = json.load(open('mp/report.json')); q = json.load(open('qatmix/report.json'))
bits = {l['name']: l.get('weight_bits') for l in q['layers']}
assert all(bits[n] == int(wa[1]) for n, wa in r['chosen']['qtable'].items()), (bits, r['chosen'])
")

# Bad input: one error line naming the problem, exit 1, no output folder.
function(refused what needle)
  run(1 out err ${ARGN})
  require_contains("${err}" "${needle}" "${what}")
  if(NOT err MATCHES "^error: [^\n]*\n$")
    message(FATAL_ERROR "${what}: not one error line:\n${err}")
  endif()
endfunction()
refused("unknown candidate" "--candidates 'w8a8,w9a4': bits 'w9a4'" mixprec --from fp32 --candidates w8a8,w9a4 -o bad1)
refused("one candidate" "at least two" mixprec --from fp32 --candidates w8a8 -o bad1)
refused("--from nowhere" "nowhere/report.json: not found" mixprec --from nowhere -o bad1)
refused("--from a ptq folder" "--from wants a `tpusim train` folder" mixprec --from ptqmix -o bad1)
refused("negative --max-drop" "--max-drop -1" mixprec --from fp32 --max-drop -1 -o bad1)
refused("too many images" "need two disjoint" mixprec --from fp32 --search-images 6000 --report-images 5000 -o bad1)
refused("unknown arch" "nope" mixprec --from fp32 --arch nope -o bad1)
if(EXISTS "${WORK}/bad1")
  message(FATAL_ERROR "a refused mixprec created its output folder")
endif()
file(WRITE "${WORK}/bad.yaml" "conv1: w8a8\nconv2: [w4a4\n")
refused("bad qtable YAML" "bad.yaml:" ptq --from fp32 --qtable bad.yaml -o bad2)
file(WRITE "${WORK}/bits.yaml" "conv1: w8a8\nconv2: w4a3x\n")
refused("bad qtable bits" "bits.yaml:2: layer 'conv2': bits 'w4a3x'" ptq --from fp32 --qtable bits.yaml -o bad2)
file(WRITE "${WORK}/names.yaml" "conv1: w8a8\nconv9: w4a4\n")
refused("qtable layer not in the model" "names.yaml: layer 'conv9' is not in model lenet5"
        qat --from fp32 --qtable names.yaml -o bad2)
refused("missing qtable" "missing.yaml: cannot read" ptq --from fp32 --qtable missing.yaml -o bad2)
if(EXISTS "${WORK}/bad2")
  message(FATAL_ERROR "a refused ptq/qat created its output folder")
endif()
run(2 out err mixprec --from fp32 --max-drop lots -o bad3)
