# Design-space exploration (docs/dse.md): the sweep logic, monotonicity and the energy model
# through the real compiler and simulator (the CLI's dse sources compiled in), and `tpusim dse`
# end to end on a model the back-end test writes.
tpusim_test(test_dse SOURCES dse_test.cpp onnx_builders.cpp compiler_zoo.cpp
            ${PROJECT_SOURCE_DIR}/cli/dse_sweep.cpp ${PROJECT_SOURCE_DIR}/cli/dse_point.cpp
            LIBS tpusim_compiler tpusim_sim onnx_proto LABELS fast)
add_test(NAME cli_dse
         COMMAND ${CMAKE_COMMAND} -DTPUSIM=$<TARGET_FILE:tpusim> -DPYTHON=${TPUSIM_PYTHON}
                 -DSRC=${PROJECT_SOURCE_DIR} -DMODELS=${CMAKE_CURRENT_BINARY_DIR}
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli_dse_work -P ${CMAKE_CURRENT_SOURCE_DIR}/cli_dse_test.cmake)
set_tests_properties(cli_dse PROPERTIES FIXTURES_REQUIRED backend_models LABELS fast TIMEOUT 120)
