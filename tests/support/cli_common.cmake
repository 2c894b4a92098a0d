# Helpers shared by the CLI tests (cmake -P scripts run by ctest). The including script sets
# TPUSIM (the binary) and WORK (a scratch folder, recreated here) with -D.
foreach(var TPUSIM WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${CMAKE_CURRENT_LIST_FILE}: needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# run(<expected exit code> <out var> <err var> args...): runs tpusim in WORK, fails unless the
# exit code matches.
function(run expected out_var err_var)
  execute_process(COMMAND "${TPUSIM}" ${ARGN} WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL expected)
    message(FATAL_ERROR "tpusim ${ARGN}: exit code ${rc}, expected ${expected}\nstdout: ${out}\nstderr: ${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
endfunction()

function(require_contains text needle what)
  string(FIND "${text}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected to find '${needle}' in:\n${text}")
  endif()
endfunction()

# python(<script text>): runs it in WORK with numpy (PYTHON, set with -D); it fails the test by
# raising.
function(python script)
  file(WRITE "${WORK}/check.py" "import json, sys\nimport numpy as np\n${script}")
  execute_process(COMMAND "${PYTHON}" check.py WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "python check failed (${rc}):\n${script}\n${out}${err}")
  endif()
endfunction()
