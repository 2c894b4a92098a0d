// The progress bar's exact output on a terminal (redraws, throttling, padding, erasing) and on a
// log (a line per 10%), written into a memory stream with a fake clock.
#include "base/progress.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

using namespace tpusim;
using Clock = std::chrono::steady_clock;

namespace {

// A FILE* whose contents the test reads back (POSIX open_memstream).
class MemoryStream {
 public:
  MemoryStream() : file_(open_memstream(&data_, &size_)) { REQUIRE(file_ != nullptr); }
  ~MemoryStream() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

// Written out by hand: '#' x filled, then spaces up to 30, in brackets.
std::string bar(int filled) { return "[" + std::string(filled, '#') + std::string(30 - filled, ' ') + "]"; }

struct FakeClock {
  Clock::time_point now{};
  void advance_ms(int ms) { now += std::chrono::milliseconds(ms); }
};

ProgressOutput terminal(MemoryStream& s, FakeClock& clock) {
  ProgressOutput out;
  out.stream = s.file();
  out.tty = true;
  out.clock = [&clock] { return clock.now; };
  return out;
}

ProgressOutput log_file(MemoryStream& s) {
  ProgressOutput out;
  out.stream = s.file();
  out.tty = false;
  return out;
}

}  // namespace

TEST_CASE("terminal: redrawn at most every 100 ms, always at the end, erased when finished") {
  MemoryStream s;
  FakeClock clock;
  {
    Progress p("run", "runs", true, terminal(s, clock));
    p.update(1, 10);  // first draw
    clock.advance_ms(50);
    p.update(2, 10);  // throttled
    clock.advance_ms(60);
    p.update(3, 10);  // 110 ms after the first draw
    clock.advance_ms(1);
    p.update(10, 10);  // the end is always drawn
  }                    // destructor erases
  const std::string line1 = "run " + bar(3) + " 1/10 runs";
  const std::string line3 = "run " + bar(9) + " 3/10 runs";
  const std::string line10 = "run " + bar(30) + " 10/10 runs";
  REQUIRE(line10.size() == 47);  // 4 + 32 + 11: the widest line, erased at the end
  CHECK(s.text() == "\r" + line1 + "\r" + line3 + "\r" + line10 + "\r" + std::string(47, ' ') + "\r");
}

TEST_CASE("terminal: a shorter line is padded over the longer one, suffix and no label or unit") {
  MemoryStream s;
  FakeClock clock;
  Progress p("", "", true, terminal(s, clock));
  p.set_suffix("loss 12.5");
  p.update(0, 4);
  clock.advance_ms(100);
  p.set_suffix("loss 1");
  p.update(2, 4);
  p.finish();
  p.finish();      // idempotent
  p.update(3, 4);  // nothing after finish
  const std::string first = bar(0) + " 0/4  loss 12.5";
  const std::string second = bar(15) + " 2/4  loss 1";
  CHECK(s.text() == "\r" + first + "\r" + second + "   " + "\r" + std::string(first.size(), ' ') + "\r");
}

TEST_CASE("terminal: disabled or a total below 2 shows nothing, not even an erase") {
  MemoryStream s;
  FakeClock clock;
  {
    Progress off("run", "runs", false, terminal(s, clock));
    off.update(1, 10);
    off.update(10, 10);
    Progress tiny("run", "runs", true, terminal(s, clock));
    tiny.update(1, 1);
  }
  CHECK(s.text().empty());
}

TEST_CASE("log: one line per 10% for large totals, whatever the step") {
  MemoryStream s;
  {
    Progress p("train 1/3", "img", true, log_file(s));
    p.set_suffix("loss 0.5");
    for (int done = 1; done <= 1000; ++done) p.update(done, 1000);
  }
  std::string expected;
  for (int k = 1; k <= 10; ++k) expected += "train 1/3 " + std::to_string(100 * k) + "/1000 img  loss 0.5\n";
  CHECK(s.text() == expected);  // and no erase sequence at the end

  MemoryStream coarse;
  {
    Progress p("eval", "img", true, log_file(coarse));
    for (int done : {128, 256, 384, 512, 640, 768, 896, 1000}) p.update(done, 1000);
  }
  // 128 crosses 10%, 256 20%, 384 30%, 512 50% (40% skipped), 640 60%, 768 70%, 896 80%, 1000 100%.
  CHECK(coarse.text() ==
        "eval 128/1000 img\neval 256/1000 img\neval 384/1000 img\neval 512/1000 img\n"
        "eval 640/1000 img\neval 768/1000 img\neval 896/1000 img\neval 1000/1000 img\n");
}

TEST_CASE("log: small totals log nothing; a log callback gets the lines without newline") {
  MemoryStream s;
  {
    Progress p("run", "runs", true, log_file(s));
    for (int done = 1; done <= 99; ++done) p.update(done, 99);
  }
  CHECK(s.text().empty());

  std::vector<std::string> lines;
  ProgressOutput out = log_file(s);
  out.log = [&lines](const std::string& line) { lines.push_back(line); };
  Progress p("run", "runs", true, out);
  for (int done = 1; done <= 200; done += 1) p.update(done, 200);
  REQUIRE(lines.size() == 10);
  CHECK(lines.front() == "run 20/200 runs");
  CHECK(lines.back() == "run 200/200 runs");
  CHECK(s.text().empty());
}
