// A progress bar for long loops (simulated batches, training epochs, evaluation) on stderr:
//
//   label [#########                     ] done/total unit  suffix
//
// On a terminal the line is redrawn in place ('\r') at most every 100 ms (and always at the end);
// elsewhere (a log file, CI) a plain line is logged at every 10%, and only when total is large
// enough for that to help. The bar is erased when finished or destroyed, so that an error printed
// after a failure is stderr's last line. isa/ does not link spdlog: the caller decides whether the
// bar is shown at all (the CLI: only at spdlog level info or below, i.e. not under -q) and may pass
// its logger for the non-terminal lines.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace tpusim {

// Where a Progress writes; injectable so tests can check the exact text of both modes.
struct ProgressOutput {
  std::FILE* stream = stderr;
  bool tty = false;  // redrawn bar (true) or a logged line every 10% (false)
  // The non-terminal lines, without a newline; empty: written to `stream` followed by '\n'.
  std::function<void(const std::string& line)> log;
  // Time source for the redraw throttle; empty: std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock;

  // stderr, a terminal when isatty(stderr) says so.
  static ProgressOutput to_stderr(std::function<void(const std::string& line)> log = {});
};

class Progress {
 public:
  static constexpr int kBarWidth = 30;
  static constexpr int64_t kMinLoggedTotal = 100;  // non-terminal: smaller totals log nothing
  static constexpr std::chrono::milliseconds kRedrawInterval{100};

  // label and unit may be empty (then left out, with their separating spaces).
  Progress(std::string label, std::string unit, bool enabled,
           ProgressOutput output = ProgressOutput::to_stderr());
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // done of total units are complete. Totals below 2 show nothing (nothing to watch).
  void update(int64_t done, int64_t total);
  void operator()(int64_t done, int64_t total) { update(done, total); }
  // Text after the count ("loss 0.41  acc 85.2%"), shown from the next update on.
  void set_suffix(std::string suffix) { suffix_ = std::move(suffix); }
  // Erases the bar; later updates show nothing. Called by the destructor.
  void finish();

  // The line without bar, as logged on a non-terminal: "label done/total unit  suffix".
  std::string log_line(int64_t done, int64_t total) const;
  // The line with bar, as drawn on a terminal (before padding over a longer previous line).
  std::string bar_line(int64_t done, int64_t total) const;

 private:
  std::string label_, unit_, suffix_;
  bool enabled_, finished_ = false;
  ProgressOutput out_;
  size_t drawn_width_ = 0;  // characters of the bar on screen now (0: none)
  int64_t logged_tenths_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace tpusim
