// The calibration options `compile`, `compare` and `infer` share (--calib, --calib-method, --bits,
// --calib-limit), and the refusal of an option that has no effect.
#include <fmt/format.h>

#include "base/error.h"
#include "cli/command.h"

namespace tpusim::cli {

void refuse_without(const CLI::Option* opt, const CLI::Option* needed, const std::string& why) {
  if (opt->count() > 0 && needed->count() == 0)
    throw Error(fmt::format("{} has no effect without {} ({})", opt->get_name(), needed->get_name(), why));
}

CalibCli add_calib_options(CLI::App* sub, workflow::CalibOptions& o, const std::string& calib_help) {
  CalibCli c;
  c.calib = sub->add_option("--calib", o.calib, calib_help);
  c.method = sub->add_option("--calib-method", o.method, "With --calib: minmax, ema, percentile, mse or kl")
                 ->capture_default_str();
  c.bits =
      sub->add_option("--bits", o.bits, "With --calib: weight and activation bits: w8a8, w4a4, w4a8, w8a4")
          ->capture_default_str();
  c.limit =
      sub->add_option("--calib-limit", o.limit, "With --calib: use at most N calibration samples (0 = all)");
  return c;
}

void CalibCli::refuse_unused(std::initializer_list<const CLI::Option*> more) const {
  for (const CLI::Option* opt : {method, bits, limit})
    refuse_without(opt, calib,
                   "it configures the calibration of an FP32 model; a QDQ model keeps its own bits");
  for (const CLI::Option* opt : more)
    refuse_without(opt, calib,
                   "it configures the calibration of an FP32 model; a QDQ model keeps its own bits");
}

}  // namespace tpusim::cli
