// Field rules for a published Message. Pure. The broker runs this on every Publish; adapters run it
// before publishing so an operator sees the same reason locally (--dry-run) as the broker would give.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/message.capnp.h"

namespace alertbus {

struct Problem {
  std::string code;    // "invalid" | "expired"
  std::string field;   // path, e.g. "payload.warning[0].areas[1].polygons[0]"
  std::string value;   // offending value, at most 200 bytes
  std::string reason;  // one line
};

// Returns the first problem found, or nullopt. `nowMs` decides expiry: an alert/update whose every info
// has expiresMs in the past is "expired"; cancels and acks never expire.
std::optional<Problem> validateMessage(schema::Message::Reader m, int64_t nowMs);

// An offending value as echoed in error messages and logs: at most 200 bytes, control characters and
// DEL replaced by '?', so a hostile value cannot break a log line.
std::string clipValue(std::string_view v);

// True if `s` is well-formed UTF-8 without NUL or other C0 control characters except \t \n \r.
bool isCleanUtf8(const char* s, size_t n);

}  // namespace alertbus
