#include "isa/dtype.h"

namespace tpusim {

std::optional<DType> dtype_from_name(std::string_view s) {
  for (const DTypeTraits& t : kDTypeTraits)
    if (s == t.name) return t.type;
  return std::nullopt;
}

}  // namespace tpusim
