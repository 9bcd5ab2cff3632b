// Health of an adapter's inputs beyond "did the last read work": a watched directory or stdin that has
// been quiet for longer than its input.stale_after_s is stale (an agency whose system stopped writing is
// not "no alerts"), and an HTTP 200 whose body the parser refused whole is down with the parser's reason
// (a feed answering an error page with 200 is not "no alerts" either). Pure: no I/O, clock passed in.
#pragma once

#include <cstdint>
#include <string>

#include "adapters/common/output.h"

namespace alertbus::adapter {

// An input that delivers on its own schedule (watched directory, stdin): remembers when something last
// arrived. Not thread-safe; the adapter's one thread.
class QuietInput {
 public:
  // staleAfterMs 0: never stale. startedMs: the adapter's start; a quiet input is measured from it.
  QuietInput(int64_t staleAfterMs, int64_t startedMs) : staleAfterMs_(staleAfterMs), startedMs_(startedMs) {}
  void received(int64_t nowMs) { lastInputMs_ = nowMs; }
  int64_t lastInputMs() const { return lastInputMs_; }  // 0 = nothing since start
  // Nothing arrived for more than staleAfterMs (since the last input, or since start).
  bool stale(int64_t nowMs) const;
  // Why stale, for the heartbeat: "no input since 2026-12-07T02:00:00Z (stale_after_s = 3600)", or
  // "no input since start 2026-... (stale_after_s = 3600)".
  std::string staleDetail() const;

 private:
  int64_t staleAfterMs_, startedMs_, lastInputMs_ = 0;
};

// For an HTTP 200 body parsed into `out` (the document itself, not the documents it links to): when the
// parser refused it whole (nothing accepted, something rejected) the reason the feed is down,
// "HTTP 200 body unreadable: <position>: <field>=<value>: <reason>" from its first error (plus "(and N
// more problems)"); "" when the body was read (also when it held no records: that is "no alerts").
std::string unreadableBody(const Output& out);

}  // namespace alertbus::adapter
