# An opcode added to the ISA table without its traits must not compile. This copies
# isa/isa_table.h into WORK with one fake TIU opcode appended to TPUSIM_ISA and puts WORK first on
# the include path, so isa/isa.h's #include "isa/isa_table.h" finds the copy. Each file that builds
# a per-opcode traits table must then fail with its static_assert's message, and must compile with
# the real table (so the failure is the missing traits, not the command).
#   cmake -DCXX=<c++ compiler> -DSRC=<source dir> -DWORK=<scratch dir> -P opcode_traits_compile_fail.cmake

# file that builds a table, and the message its primary template's static_assert prints
set(tables
    "isa/semantics.cpp|opcode without semantics traits"
    "isa/semantics_check.cpp|opcode without semantics traits"
    "sim/timing.cpp|opcode without timing traits")

file(READ "${SRC}/isa/isa_table.h" table)
string(FIND "${table}" "#define TPUSIM_ISA(X)" at)
if(at EQUAL -1)
  message(FATAL_ERROR "isa/isa_table.h no longer defines TPUSIM_ISA(X): update this test")
endif()
string(REPLACE "#define TPUSIM_ISA(X)" "#define TPUSIM_ISA_REAL(X)" table "${table}")
string(APPEND table "\n#define TPUSIM_ISA(X) TPUSIM_ISA_REAL(X) "
                    "X(0x7e, Fake, \"fake\", Tiu, TPUSIM_FIELDS_NONE, \"an opcode without traits\")\n")
file(REMOVE_RECURSE "${WORK}")
file(WRITE "${WORK}/isa/isa_table.h" "${table}")

set(flags -std=c++20 -fsyntax-only -DSC_CPLUSPLUS=201703L)
foreach(entry IN LISTS tables)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 file)
  list(GET entry 1 expect)
  execute_process(COMMAND ${CXX} ${flags} -I${SRC} ${SRC}/${file} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${file} does not compile with the real ISA table:\n${err}")
  endif()
  execute_process(COMMAND ${CXX} ${flags} -I${WORK} -I${SRC} ${SRC}/${file} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${file} compiles with an opcode that has no traits")
  endif()
  string(FIND "${err}" "${expect}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${file} fails without '${expect}' for the traitless opcode:\n${err}")
  endif()
  message(STATUS "${file}: an opcode without traits is a compile error ('${expect}')")
endforeach()
