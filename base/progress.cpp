#include "base/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace tpusim {

ProgressOutput ProgressOutput::to_stderr(std::function<void(const std::string& line)> log) {
  ProgressOutput out;
  out.stream = stderr;
  out.tty = isatty(STDERR_FILENO) == 1;
  out.log = std::move(log);
  return out;
}

Progress::Progress(std::string label, std::string unit, bool enabled, ProgressOutput output)
    : label_(std::move(label)), unit_(std::move(unit)), enabled_(enabled), out_(std::move(output)) {}

Progress::~Progress() { finish(); }

std::string Progress::log_line(int64_t done, int64_t total) const {
  std::string line = label_.empty() ? "" : label_ + " ";
  line += fmt::format("{}/{}", done, total);
  if (!unit_.empty()) line += " " + unit_;
  if (!suffix_.empty()) line += "  " + suffix_;
  return line;
}

std::string Progress::bar_line(int64_t done, int64_t total) const {
  const int filled = static_cast<int>(kBarWidth * std::clamp<int64_t>(done, 0, total) / total);
  std::string line = label_.empty() ? "" : label_ + " ";
  line += fmt::format("[{:#<{}}{:<{}}] {}/{}", "", filled, "", kBarWidth - filled, done, total);
  if (!unit_.empty()) line += " " + unit_;
  if (!suffix_.empty()) line += "  " + suffix_;
  return line;
}

void Progress::update(int64_t done, int64_t total) {
  if (!enabled_ || finished_ || total < 2) return;
  if (!out_.tty) {
    // Every 10% crossed since the last line, whatever the step between updates.
    const int64_t tenths = std::clamp<int64_t>(done, 0, total) * 10 / total;
    if (total < kMinLoggedTotal || tenths <= logged_tenths_) return;
    logged_tenths_ = tenths;
    const std::string line = log_line(done, total);
    if (out_.log)
      out_.log(line);
    else
      fmt::print(out_.stream, "{}\n", line);
    return;
  }
  const auto now = out_.clock ? out_.clock() : std::chrono::steady_clock::now();
  if (done < total && drawn_width_ > 0 && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  const std::string line = bar_line(done, total);
  // Pad over the rest of a longer previous line (a shrinking suffix).
  const size_t pad = drawn_width_ > line.size() ? drawn_width_ - line.size() : 0;
  fmt::print(out_.stream, "\r{}{:{}}", line, "", pad);
  std::fflush(out_.stream);
  drawn_width_ = std::max(line.size(), drawn_width_);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (drawn_width_ == 0) return;
  fmt::print(out_.stream, "\r{:{}}\r", "", drawn_width_);
  std::fflush(out_.stream);
  drawn_width_ = 0;
}

}  // namespace tpusim
