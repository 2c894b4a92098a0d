message(STATUS "cli test not written yet")
