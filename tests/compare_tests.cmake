# tpusim compare: the library (compiler/compare.h, strip_qdq.h) and the command end to end.
tpusim_test(test_compare SOURCES compare_test.cpp compiler_zoo.cpp onnx_builders.cpp
            LIBS tpusim_compiler onnx_proto LABELS fast)
# The models and dumps the CLI test reads.
add_test(NAME compare_models COMMAND test_compare "compare: models and reference dumps for the CLI test")
set_tests_properties(compare_models PROPERTIES FIXTURES_SETUP compare_models LABELS fast)
add_test(NAME cli_compare
         COMMAND ${CMAKE_COMMAND} -DTPUSIM=$<TARGET_FILE:tpusim> -DPYTHON=${TPUSIM_PYTHON}
                 -DMODELS=${CMAKE_CURRENT_BINARY_DIR}/compare_models -DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli_compare_work
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cli_compare_test.cmake)
set_tests_properties(cli_compare PROPERTIES FIXTURES_REQUIRED compare_models LABELS fast)
