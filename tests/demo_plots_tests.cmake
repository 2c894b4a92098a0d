# scripts/demo_plots.py (the PNGs of `tpusim demo`): its python test, no tpusim binary needed.
add_test(NAME demo_plots COMMAND ${TPUSIM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/demo_plots_test.py)
set_tests_properties(demo_plots PROPERTIES LABELS fast)
