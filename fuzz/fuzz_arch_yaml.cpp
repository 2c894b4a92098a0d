// Architecture YAML: parse; an accepted architecture prints (arch_to_yaml) as YAML that parses to
// the same architecture (same fingerprint and name).
#include "fuzz/fuzz_common.h"
#include "isa/arch.h"

using namespace tpusim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Arch a;
  try {
    a = arch_from_yaml(text, "fuzz.yaml");
  } catch (const Error& e) {
    fuzz::check_error(e);
    return 0;
  }
  const std::string yaml = arch_to_yaml(a);
  const Arch b = arch_from_yaml(yaml, "printed");
  fuzz::fuzz_check(b.fingerprint() == a.fingerprint() && b.name == a.name,
                   "arch_to_yaml round trip:\n" + yaml);
  return 0;
}
