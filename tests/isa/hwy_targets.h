// Running a test on every Highway target this CPU supports (AVX3_DL, AVX3, AVX2, SSE4, SSSE3 and
// scalar on a recent x86): hwy::SetSupportedTargetsForTest makes every HWY_DYNAMIC_DISPATCH of the
// isa/ kernels pick that target, so the SIMD kernels are checked on each path they have, not only
// on the best one.
#pragma once
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // the targets isa/simd_*.cpp compile
#endif
#include <hwy/highway.h>

#include <string>
#include <vector>

namespace tpusim::testing {

// Calls f(target name) once per target with the dispatch forced to it; returns how many ran.
template <class F>
int for_each_hwy_target(F&& f) {
  struct Restore {
    ~Restore() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  int count = 0;
  for (const int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    f(std::string(hwy::TargetName(t)));
    ++count;
  }
  return count;
}

}  // namespace tpusim::testing
