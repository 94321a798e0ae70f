// Stage progress for `tessera compile`, on stderr (stdout carries only the closing summary):
//   terminal:      one line rewritten in place, "[#####.....] 3/9 spmd-search ..."
//   not a terminal (CI logs, pipes): plain lines, never escape codes: every stage with
//                  --verbose, otherwise only stages that took a second or more.
// --quiet prints nothing; --timings adds one "stage  seconds" line per stage.
#pragma once
#include <unistd.h>
#include <cstdio>
#include <string>

namespace tessera::compiler {

class Progress {
 public:
  Progress(bool quiet, bool verbose)
      : quiet_(quiet), verbose_(verbose), tty_(isatty(fileno(stderr)) != 0) {}
  // Number of stages, for the bar; 0 (unknown) shows the count only.
  void set_total(int total) { total_ = total; }
  void begin(const std::string& stage) {
    ++count_;
    if (quiet_) return;
    if (tty_)
      std::fprintf(stderr, "\r\033[K%s %s ...", position(true).c_str(), stage.c_str());
    else if (verbose_)
      std::fprintf(stderr, "%s %s ...\n", position(false).c_str(), stage.c_str());
    std::fflush(stderr);
  }
  void end(const std::string& stage, double seconds, bool timings) {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    if (timings)
      std::fprintf(stderr, "%-12s %8.3f s\n", stage.c_str(), seconds);
    else if (!tty_ && !verbose_ && seconds >= 1.0)
      std::fprintf(stderr, "%s %s took %.1f s\n", position(false).c_str(), stage.c_str(), seconds);
    std::fflush(stderr);
  }

 private:
  // "[#####.....] 3/9" on a terminal, "[3/9]" in logs.
  std::string position(bool bar) const {
    const std::string n = std::to_string(count_) + (total_ > 0 ? "/" + std::to_string(total_) : "");
    if (!bar || total_ <= 0) return "[" + n + "]";
    const int width = 20, filled = count_ * width / total_;
    return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + n;
  }

  bool quiet_, verbose_, tty_;
  int count_ = 0, total_ = 0;
};

}  // namespace tessera::compiler
