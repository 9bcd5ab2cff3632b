// Minimal structured logging to stderr for the broker and tools: one line per event,
// "2026-11-29T15:38:15.123Z level component: text". A Logger is passed to the parts that log (no global).
// Thread-safe: each line is one write(2) call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace alertbus {

enum class LogLevel : uint8_t { debug, info, warn, error };

class Logger {
 public:
  explicit Logger(LogLevel min = LogLevel::info, int fd = 2) : min_(min), fd_(fd) {}
  bool enabled(LogLevel l) const { return l >= min_; }
  void log(LogLevel l, std::string_view component, std::string_view text) const;
  void info(std::string_view c, std::string_view t) const { log(LogLevel::info, c, t); }
  void warn(std::string_view c, std::string_view t) const { log(LogLevel::warn, c, t); }
  void error(std::string_view c, std::string_view t) const { log(LogLevel::error, c, t); }
  void debug(std::string_view c, std::string_view t) const {
    if (enabled(LogLevel::debug)) log(LogLevel::debug, c, t);
  }

 private:
  LogLevel min_;
  int fd_;
};

bool parseLogLevel(std::string_view s, LogLevel& out);
int64_t wallClockMs();  // UTC milliseconds since the epoch

}  // namespace alertbus
