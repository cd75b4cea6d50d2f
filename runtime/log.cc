#include "log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "timestamp.h"
#include "warning.h"

namespace ocirun::log {

namespace {
Config g_config;

const char* level_name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "info";
}

void write_line(int fd, const std::string& line) {
  // One write per line keeps concurrent writers (ocirun and its init) from interleaving.
  ssize_t unused = ::write(fd, line.data(), line.size());
  (void)unused;
}

std::string json_line(Level level, const std::string& msg) {
  // A message may quote anything the user gave (a path that is not UTF-8): written with
  // U+FFFD for such bytes, as runc's JSON log does, not thrown from inside error reporting.
  return nlohmann::json{{"level", level_name(level)}, {"msg", msg}, {"time", now_rfc3339()}}.dump(
             -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

// runc's text log line (logrus): time="..." level=debug msg="...", the message quoted as Go does.
std::string text_line(Level level, const std::string& msg) {
  std::string quoted;
  for (char c : msg) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (c == '\n')
      quoted += "\\n";
    else
      quoted += c;
  }
  return "time=\"" + now_rfc3339() + "\" level=" + level_name(level) + " msg=\"" + quoted + "\"\n";
}

void write_to_file(Level level, const std::string& msg) {
  int fd = ::open(g_config.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  write_line(fd, g_config.json ? json_line(level, msg) : text_line(level, msg));
  ::close(fd);
}
}  // namespace

void configure(const Config& c) {
  g_config = c;
  // The lower modules' warnings (cgroups, seccomp) go where ours do.
  set_warning_sink([](const std::string& message) { write(Level::Warn, message); });
}

bool debug_enabled() { return g_config.debug; }

namespace {
long long monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
}  // namespace

StepTimer::StepTimer(std::string what) : what_(std::move(what)) {
  if (g_config.debug) last_ns_ = monotonic_ns();
}

void StepTimer::step(const char* name) {
  if (!g_config.debug) return;
  long long now = monotonic_ns();
  char ms[32];
  snprintf(ms, sizeof ms, "%.2f", static_cast<double>(now - last_ns_) / 1e6);
  write(Level::Debug, what_ + ": " + name + ", " + ms + " ms");
  last_ns_ = now;
}

void write(Level level, const std::string& msg) {
  if (level < Level::Warn && !g_config.debug) return;
  if (!g_config.file.empty())
    write_to_file(level, msg);
  else if (g_config.json)  // --log-format json without --log: the log is stderr, as runc's
    write_line(STDERR_FILENO, json_line(level, msg));
  else
    write_line(STDERR_FILENO, text_line(level, msg));
}

void error(const std::string& msg) {
  if (!g_config.file.empty())
    write_to_file(Level::Error, msg);
  else if (g_config.json) {
    // runc: with --log-format json and no --log, stderr is the log and gets JSON only.
    write_line(STDERR_FILENO, json_line(Level::Error, msg));
    return;
  }
  write_line(STDERR_FILENO, "ocirun: " + msg + "\n");
}

}  // namespace ocirun::log
