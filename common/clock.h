// The wall clock in the unit every alertbus time uses, and a compact tag made from it. Header-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace alertbus {

// Milliseconds since the Unix epoch, UTC (system clock: comparable with message times, not monotonic).
inline int64_t wallClockMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// `v` in base 36 (0-9a-z): e.g. a process's start second as a short tag that makes the ids of one run
// differ from those of an earlier run whose counters started at the same place.
inline std::string base36(uint64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]);
    v /= 36;
  } while (v);
  return s;
}

}  // namespace alertbus
