# Every dependency comes from a Debian package (see docs/design.md, "Dependencies", and scripts/setup.sh).
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Catch2 REQUIRED)
find_package(benchmark REQUIRED)
# Explicit SIMD of the simulator's fast kernels (isa/simd_kernels.cpp), runtime-dispatched.
find_package(hwy REQUIRED)
# oneDNN: only the int8 convolution benchmark against it (tests/bench/bench_conv_onednn.cpp).
find_package(dnnl CONFIG QUIET)
# ONNX in (compiler/) and out (qat/), through libonnx's protobuf classes.
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED)

# libsystemc-dev ships no CMake config: locate header and library directly.
find_path(SYSTEMC_INCLUDE_DIR systemc.h REQUIRED)
find_library(SYSTEMC_LIBRARY systemc REQUIRED)
add_library(SystemC::systemc UNKNOWN IMPORTED)
set_target_properties(SystemC::systemc PROPERTIES
  IMPORTED_LOCATION "${SYSTEMC_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${SYSTEMC_INCLUDE_DIR}")

if(TPUSIM_WITH_TORCH)
  find_package(Torch REQUIRED)
endif()
