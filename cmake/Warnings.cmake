# Project-wide warning and sanitizer flags, applied to every tpusim target via tpusim_options.
add_library(tpusim_options INTERFACE)
target_compile_options(tpusim_options INTERFACE -Wall -Wextra -Winvalid-pch)
if(TPUSIM_WERROR)
  target_compile_options(tpusim_options INTERFACE -Werror)
endif()
# Debug information costs a third of the compile time; CI builds without it (.ci/run).
if(TPUSIM_DEBUG_INFO)
  target_compile_options(tpusim_options INTERFACE ${TPUSIM_DEBUG_INFO})
endif()
if(TPUSIM_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  # -O1 (the sanitizers' recommended level) compiles 2-3x faster than -O2 under instrumentation.
  target_compile_options(tpusim_options INTERFACE ${_san} -O1)
  target_link_options(tpusim_options INTERFACE ${_san})
  # GCC does not treat the address of a function template instance as a constant under
  # -fsanitize=undefined, so the traits tables' row checks (static_asserts) run in normal builds only.
  target_compile_definitions(tpusim_options INTERFACE TPUSIM_SANITIZE_BUILD)
endif()
if(TPUSIM_FUZZ)
  # Coverage feedback for libFuzzer from every library; the fuzz/ targets link libFuzzer itself.
  target_compile_options(tpusim_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
