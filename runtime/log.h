// ocirun's own messages. They go to --log (text or JSON lines) when given, else to
// stderr — never to stdout, which under containerd is the container's stdout.
#pragma once
#include <string>

namespace ocirun::log {

enum class Level { Debug, Info, Warn, Error };

struct Config {
  std::string file;    // empty: stderr
  bool json = false;   // --log-format json
  bool debug = false;  // --debug: Debug and Info are written too
};

void configure(const Config&);
void write(Level, const std::string& msg);
inline void debug(const std::string& m) { write(Level::Debug, m); }
inline void warn(const std::string& m) { write(Level::Warn, m); }
bool debug_enabled();

// With --debug, logs how long each named step took since the previous one:
// "create c1: mount rootfs, 1.23 ms". Costs nothing without --debug.
class StepTimer {
 public:
  explicit StepTimer(std::string what);
  void step(const char* name);

 private:
  std::string what_;
  long long last_ns_ = 0;
};

// An error for the user: to the log file (one JSON object in json mode) and to stderr.
void error(const std::string& m);

}  // namespace ocirun::log
