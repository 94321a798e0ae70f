// Stage progress for `tessera compile`: on a terminal one line rewritten in place, otherwise
// plain lines; --quiet prints nothing, --timings adds seconds per stage.
#pragma once
#include <cstdio>
#include <string>
#include <unistd.h>

namespace tessera::compiler {

class Progress {
 public:
  Progress(bool quiet, bool verbose)
      : quiet_(quiet), verbose_(verbose), tty_(isatty(fileno(stderr)) != 0) {}
  void begin(const std::string& stage) {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r\033[K[%d] %s ...", ++count_, stage.c_str());
    else if (verbose_) std::fprintf(stderr, "[%d] %s ...\n", ++count_, stage.c_str());
  }
  void end(const std::string& stage, double seconds, bool timings) {
    if (quiet_) return;
    if (timings) std::fprintf(stderr, "%s%-12s %8.3f s\n", tty_ ? "\r\033[K" : "", stage.c_str(), seconds);
    else if (tty_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool quiet_, verbose_, tty_;
  int count_ = 0;
};

}  // namespace tessera::compiler
