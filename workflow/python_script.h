// Runs one of the repository's Python scripts (scripts/NAME, found beside the build or in the
// source tree) with TPUSIM_PYTHON: the plots of `tpusim demo` and `tpusim mixprec`. The C++ tool
// has no Python dependency of its own; a failed plot is a warning, never an error.
#pragma once
#include <string>
#include <vector>

namespace tpusim::workflow {

// The path of scripts/<name>: build/tpusim -> ../scripts, else TPUSIM_SOURCE_DIR/scripts.
std::string script_path(const std::string& name);

// Runs the script with `args` (stdout discarded); false, after a warning naming `what`, when it
// fails.
bool run_python_script(const std::string& name, const std::vector<std::string>& args,
                       const std::string& what);

}  // namespace tpusim::workflow
