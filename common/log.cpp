// Logger implementation; see log.h.
#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

namespace alertbus {

int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool parseLogLevel(std::string_view s, LogLevel& out) {
  if (s == "debug") out = LogLevel::debug;
  else if (s == "info") out = LogLevel::info;
  else if (s == "warn") out = LogLevel::warn;
  else if (s == "error") out = LogLevel::error;
  else return false;
  return true;
}

void Logger::log(LogLevel l, std::string_view component, std::string_view text) const {
  if (l < min_) return;
  static const char* names[] = {"debug", "info", "warn", "error"};
  int64_t ms = wallClockMs();
  time_t secs = ms / 1000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char head[64];
  size_t n = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line(head, n);
  char frac[16];
  snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(ms % 1000));
  line += frac;
  line += names[static_cast<int>(l)];
  line += ' ';
  line += component;
  line += ": ";
  line += text;
  line += '\n';
  (void)!::write(fd_, line.data(), line.size());
}

}  // namespace alertbus
