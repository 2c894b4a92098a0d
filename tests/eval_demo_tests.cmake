# tpusim eval (no libtorch) and tpusim demo end to end (libtorch), the demo's plot script.
add_test(NAME cli_eval
         COMMAND ${CMAKE_COMMAND} -DTPUSIM=$<TARGET_FILE:tpusim> -DPYTHON=${TPUSIM_PYTHON}
                 -DMODELS=${CMAKE_CURRENT_BINARY_DIR}/compare_models -DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli_eval_work
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cli_eval_test.cmake)
set_tests_properties(cli_eval PROPERTIES FIXTURES_REQUIRED compare_models LABELS fast)
include(${CMAKE_CURRENT_SOURCE_DIR}/demo_plots_tests.cmake)
if(TPUSIM_WITH_TORCH)
  add_test(NAME cli_demo
           COMMAND ${CMAKE_COMMAND} -DTPUSIM=$<TARGET_FILE:tpusim> -DPYTHON=${TPUSIM_PYTHON}
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli_demo_work -P ${CMAKE_CURRENT_SOURCE_DIR}/cli_demo_test.cmake)
  set_tests_properties(cli_demo PROPERTIES LABELS slow TIMEOUT 900)  # trains: 35-90 s
endif()
