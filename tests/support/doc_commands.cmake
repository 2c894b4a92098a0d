# Running documented commands as written (tests/cli/tutorial_test.cmake, cli_docs_test.cmake).
# Include after cli_common.cmake, with SRC (the source tree) and PYTHON defined.
#   doc_root()                 lays WORK out like the repository root (build/tpusim, scripts/,
#                              examples/) so the docs' paths work
#   doc(<exit code> <command>) runs a command as printed in the docs (see below)
#   check_doc_pages(MIN_COMMANDS <n> [SKIP prefix...] PAGES path start end ...)
#                              every `$` command of the page sections was run by doc(), failed
#                              exactly when an error is shown, and printed every line shown
#                              (tests/support/doc_pages_check.py; end "-": to the page's end)

function(doc_root)
  file(MAKE_DIRECTORY "${WORK}/build" "${WORK}/doclog")
  file(CREATE_LINK "${TPUSIM}" "${WORK}/build/tpusim" SYMBOLIC)
  file(CREATE_LINK "${SRC}/scripts" "${WORK}/scripts" SYMBOLIC)
  file(CREATE_LINK "${SRC}/examples" "${WORK}/examples" SYMBOLIC)
endfunction()

# doc(<expected exit code> <command line as printed in the docs>): runs it with sh in WORK (the
# docs' /usr/bin/python3 replaced by PYTHON), fails unless the exit code matches, sets out and err
# in the caller and logs command, exit code and output for check_doc_pages.
set_property(GLOBAL PROPERTY doc_count 0)
function(doc expected cmdline)
  string(REPLACE "/usr/bin/python3" "${PYTHON}" sh_line "${cmdline}")
  execute_process(COMMAND sh -c "${sh_line}" WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE o
                  ERROR_VARIABLE e)
  if(NOT rc EQUAL expected)
    message(FATAL_ERROR "${cmdline}: exit code ${rc}, expected ${expected}\nstdout: ${o}\nstderr: ${e}")
  endif()
  get_property(n GLOBAL PROPERTY doc_count)
  math(EXPR n "${n} + 1")
  set_property(GLOBAL PROPERTY doc_count ${n})
  file(WRITE "${WORK}/doclog/${n}.cmd" "${cmdline}")
  file(WRITE "${WORK}/doclog/${n}.out" "${o}${e}")
  file(WRITE "${WORK}/doclog/${n}.rc" "${rc}")
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
endfunction()

function(check_doc_pages)
  cmake_parse_arguments(C "" "MIN_COMMANDS" "SKIP;PAGES" ${ARGN})
  get_property(n GLOBAL PROPERTY doc_count)
  set(args "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/doc_pages_check.py" "${WORK}/doclog" ${n} ${C_MIN_COMMANDS} "${SRC}")
  foreach(s IN LISTS C_SKIP)
    list(APPEND args "--skip" "${s}")
  endforeach()
  list(APPEND args "--pages" ${C_PAGES})
  execute_process(COMMAND "${PYTHON}" ${args} WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE o
                  ERROR_VARIABLE e)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "documented commands differ from the docs:\n${o}${e}")
  endif()
  message(STATUS "${o}")
endfunction()
