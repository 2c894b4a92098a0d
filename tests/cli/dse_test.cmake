# End-to-end test of `tpusim dse` (docs/dse.md) on the QDQ model test_compiler_backend writes:
# results files, resume (rerun, deleted, corrupt and killed points), shards + merge, failed
# points, argument errors, the plot script. Run by ctest as:
#   cmake -DTPUSIM=<binary> -DPYTHON=<python3> -DSRC=<source dir> -DMODELS=<dir> -DWORK=<scratch> -P dse_test.cmake
foreach(var PYTHON SRC MODELS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "dse_test.cmake needs -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)
file(COPY_FILE "${MODELS}/backend_qdq_int8.onnx" "${WORK}/m.onnx")
set(SWEEP --model m.onnx --sweep lanes=8,16 --sweep macs_per_lane=8,16)

# Reads every points/*.json of a directory into <var>_names and <var>_<name> (contents).
function(snapshot dir var)
  file(GLOB files RELATIVE "${WORK}/${dir}/points" "${WORK}/${dir}/points/*.json")
  list(SORT files)
  set(${var}_names "${files}" PARENT_SCOPE)
  foreach(f ${files})
    file(READ "${WORK}/${dir}/points/${f}" text)
    set(${var}_${f} "${text}" PARENT_SCOPE)
  endforeach()
endfunction()
# Fails unless every point of snapshot <var> still has the same contents (not recomputed).
function(require_unchanged dir var)
  foreach(f ${${var}_names})
    file(READ "${WORK}/${dir}/points/${f}" text)
    if(NOT text STREQUAL "${${var}_${f}}")
      message(FATAL_ERROR "${dir}/points/${f} was recomputed or changed by the rerun")
    endif()
  endforeach()
endfunction()
function(require_same_file a b)
  file(READ "${WORK}/${a}" ta)
  file(READ "${WORK}/${b}" tb)
  if(NOT ta STREQUAL tb)
    message(FATAL_ERROR "${a} and ${b} differ:\n${ta}\n---\n${tb}")
  endif()
endfunction()
# An argument error: exit 1 and exactly one stderr line, "error: ...".
function(require_one_error what)
  run(1 out err ${ARGN})
  string(REGEX MATCHALL "\n" lines "${err}")
  list(LENGTH lines n)
  if(NOT n EQUAL 1 OR NOT err MATCHES "^error: ")
    message(FATAL_ERROR "${what}: expected one 'error:' line, got:\n${err}")
  endif()
  require_contains("${err}" "${what}" "${ARGN}")
endfunction()

# The cost model is part of every architecture.
run(0 out err arch show default)
require_contains("${out}" "energy_mac_int8_pj: 0.3" "arch show default")
require_contains("${out}" "area_sram_mm2_per_kib: 0.004" "arch show default")

# A 2x2 sweep: results.csv/json with one row per point and the metric columns.
run(0 out err dse ${SWEEP} --out full -j 2)
require_contains("${out}" "dse: 4 of 4 points in full/results.csv (4 ok)" "first sweep")
require_contains("${err}" "0 of 4 points already done; running 4 with 2 jobs" "first sweep")
python("
import csv
rows = list(csv.DictReader(open('full/results.csv')))
assert len(rows) == 4, rows
cols = list(rows[0].keys())
assert cols[:5] == ['index', 'id', 'status', 'lanes', 'macs_per_lane'] and cols[-1] == 'error', cols
for c in ['cycles', 'latency_us', 'mac_utilization', 'ddr_read_bytes', 'energy_nj', 'area_mm2', 'edp_nj_us']:
    assert c in cols, c
assert [r['id'] for r in rows] == ['lanes-8__macs_per_lane-8', 'lanes-8__macs_per_lane-16',
                                   'lanes-16__macs_per_lane-8', 'lanes-16__macs_per_lane-16'], rows
for r in rows:
    assert r['status'] == 'ok' and int(r['cycles']) > 0, r
    parts = sum(float(r[k]) for k in ['energy_mac_nj', 'energy_lmem_nj', 'energy_ddr_nj', 'energy_static_nj'])
    assert abs(parts - float(r['energy_nj'])) <= 1e-9 * parts, r
    assert abs(float(r['edp_nj_us']) - float(r['energy_nj']) * float(r['latency_us'])) <= 1e-9 * float(r['edp_nj_us'])
a = {r['id']: r for r in rows}
assert int(a['lanes-16__macs_per_lane-16']['tiu_busy']) < int(a['lanes-8__macs_per_lane-8']['tiu_busy'])
assert float(a['lanes-16__macs_per_lane-16']['area_mm2']) > float(a['lanes-8__macs_per_lane-8']['area_mm2'])
j = json.load(open('full/results.json'))
assert len(j['points']) == 4 and j['points_missing'] == [] and j['shard'] == '1/1', j.keys()
p = j['points'][0]
assert p['stats']['macs'] == int(rows[0]['macs']) and p['arch']['lanes'] == 8, p['arch']
")

# Rerun: nothing recomputed.
snapshot(full before)
run(0 out err dse ${SWEEP} --out full -j 2)
require_contains("${err}" "4 of 4 points already done; running 0" "rerun")
require_unchanged(full before)
file(COPY_FILE "${WORK}/full/results.csv" "${WORK}/full_results.csv")

# Resume: a deleted point, a corrupt one and a stale temporary file; only the two are recomputed.
list(GET before_names 0 deleted)
list(GET before_names 3 corrupt)
file(REMOVE "${WORK}/full/points/${deleted}")
file(WRITE "${WORK}/full/points/${corrupt}" "{\"id\": ")
file(WRITE "${WORK}/full/points/${deleted}.tmp.99999" "{")
list(REMOVE_ITEM before_names "${deleted}" "${corrupt}")
run(0 out err dse ${SWEEP} --out full -j 2)
require_contains("${err}" "2 of 4 points already done; running 2" "resume")
require_unchanged(full before)
require_same_file(full/results.csv full_results.csv)

# A killed sweep (SIGKILL once 3 points are done): what finished is kept as is, the rest completed.
set(BIG --model m.onnx --sweep lanes=8,16,32,64 --sweep macs_per_lane=8,16,32,64 --sweep ddr_bytes_per_cycle=16,32,64,128)
string(JOIN " " big_args ${BIG})
execute_process(COMMAND sh -c "'${TPUSIM}' -q dse ${big_args} --out killed -j 1 & pid=$!
  while [ $(ls killed/points/ 2>/dev/null | grep -c '[.]json$') -lt 3 ]; do sleep 0.01; done
  kill -9 $pid; wait $pid; sleep 0.3" WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc)
snapshot(killed survivors)
list(LENGTH survivors_names n_survivors)
message(STATUS "killed sweep: ${n_survivors} of 64 points had finished (rc ${rc})")
if(n_survivors LESS 3 OR n_survivors GREATER 60)
  message(FATAL_ERROR "the sweep was not killed mid-way: ${n_survivors} of 64 points done")
endif()
run(0 out err dse ${BIG} --out killed -j 2)
require_contains("${out}" "dse: 64 of 64 points in killed/results.csv (64 ok)" "after the kill")
require_contains("${err}" "${n_survivors} of 64 points already done" "after the kill")
require_unchanged(killed survivors)
python("
import glob
files = glob.glob('killed/points/*.json')
assert len(files) == 64, files
for f in files:
    json.load(open(f))  # every point file is whole
")

# Shards 1/2 and 2/2, merged, equal the unsharded sweep.
run(0 out err dse ${SWEEP} --out s1 --shard 1/2)
require_contains("${out}" "dse: 2 of 2 points in s1/results.csv" "shard 1/2")
run(0 out err dse ${SWEEP} --out s2 --shard 2/2)
run(0 out err dse merge s1 s2 --out merged)
require_contains("${out}" "dse: 4 of 4 points in merged/results.csv (4 ok)" "merge")
require_same_file(merged/results.csv full_results.csv)
run(0 out err dse merge s1 --out half)
require_contains("${out}" "2 missing" "merge of one shard")
run(0 out err dse --model m.onnx --sweep lanes=8 --out other)
run(1 out err dse merge s1 other --out bad_merge)
require_contains("${err}" "other: another sweep than s1 (sweep differs)" "mismatched merge")

# Points that cannot be built or compiled are recorded, and the sweep goes on.
run(0 out err dse --model m.onnx --sweep lanes=3,16 --sweep lmem_kib=1,64 --out failing)
require_contains("${out}" "(1 error, 2 invalid, 1 ok)" "failing points")
python("
import csv
rows = {r['id']: r for r in csv.DictReader(open('failing/results.csv'))}
assert rows['lanes-3__lmem_kib-64']['error'] == 'lmem_kib 64 does not split evenly over 3 lanes', rows
assert 'no tiling fits LMEM' in rows['lanes-16__lmem_kib-1']['error'], rows
assert rows['lanes-16__lmem_kib-1']['status'] == 'error' and rows['lanes-16__lmem_kib-1']['cycles'] == ''
")

# Argument errors: one line each.
require_one_error("unknown key 'lanez'" dse --model m.onnx --sweep lanez=8 --out e1)
require_one_error("lanes value 'eight' is not a positive integer" dse --model m.onnx --sweep lanes=eight --out e1)
require_one_error("--shard '3/2': K must be in 1..N" dse ${SWEEP} --shard 3/2 --out e1)
require_one_error("--shard '1of2'" dse ${SWEEP} --shard 1of2 --out e1)
require_one_error("dse: --out is required" dse ${SWEEP})
if(EXISTS "${WORK}/e1")
  message(FATAL_ERROR "a refused sweep created its output directory")
endif()

# Pareto plots from results.json; bad input is one stderr line and exit 1.
execute_process(COMMAND "${PYTHON}" -c "import matplotlib" RESULT_VARIABLE no_mpl OUTPUT_QUIET ERROR_QUIET)
if(no_mpl)
  message(STATUS "matplotlib missing: plot script not tested")
else()
  execute_process(COMMAND "${PYTHON}" "${SRC}/scripts/dse_plots.py" full/results.json WORKING_DIRECTORY "${WORK}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS "${WORK}/full/pareto_latency_area.png"
     OR NOT EXISTS "${WORK}/full/pareto_energy_latency.png")
    message(FATAL_ERROR "dse_plots.py failed (${rc}): ${out}${err}")
  endif()
  execute_process(COMMAND "${PYTHON}" "${SRC}/scripts/dse_plots.py" full/sweep.json WORKING_DIRECTORY "${WORK}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "^dse_plots.py: error: [^\n]*\n$")
    message(FATAL_ERROR "dse_plots.py on bad input: exit ${rc}, stderr:\n${err}")
  endif()
endif()
