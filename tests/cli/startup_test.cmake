# `tpusim` links no libtorch: commands that do not train never load it (docs/design.md,
# "Start-up"), and the training commands open the QAT toolchain's library on demand, failing with
# one clear line when it is missing.
include(${CMAKE_CURRENT_LIST_DIR}/../support/cli_common.cmake)

# 1. No libtorch (nor libc10) among the binary's dynamic dependencies.
execute_process(COMMAND ldd "${TPUSIM}" RESULT_VARIABLE rc OUTPUT_VARIABLE deps ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ldd ${TPUSIM} failed (${rc}): ${err}")
endif()
require_contains("${deps}" "libstdc++" "ldd output")  # the listing is real
foreach(lib libtorch libc10)
  string(FIND "${deps}" "${lib}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "tpusim links ${lib}: every command would pay its start-up\n${deps}")
  endif()
endforeach()

# 2. A command that does not train runs without the library.
set(ENV{TPUSIM_TRAIN_LIBRARY} "${WORK}/missing/libtpusim_train.so")
run(0 out err arch list)
require_contains("${out}" "default" "tpusim arch list")

# 3. Training without the library: exit 1, one "error:" line naming the library, no output folder.
run(1 out err train --epochs 1 --limit 16 -o "${WORK}/trained")
require_contains("${err}" "error: ${WORK}/missing/libtpusim_train.so: not found" "tpusim train without the library")
string(REGEX MATCHALL "\n" lines "${err}")
list(LENGTH lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one error line, got:\n${err}")
endif()
if(EXISTS "${WORK}/trained")
  message(FATAL_ERROR "tpusim train without the library created its output folder")
endif()

# 4. A file that is not a shared library: one line naming it and the loader's reason.
file(WRITE "${WORK}/bogus.so" "not an ELF file")
set(ENV{TPUSIM_TRAIN_LIBRARY} "${WORK}/bogus.so")
run(1 out err qat --from "${WORK}" -o "${WORK}/q")
require_contains("${err}" "error: ${WORK}/bogus.so: cannot load:" "tpusim qat with a bogus library")
