// What every adapter parsing library hands to the adapter runtime: the messages one input produced and
// one line per part of it that could not be taken. Pure data; no I/O.
#pragma once

#include <capnp/message.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace alertbus::adapter {

// One rejected (error) or partly taken (warning) piece of input. Shown to the operator as one line, and
// written to the reason file of an input moved to failed/.
struct InputProblem {
  enum class Level { warning, error };
  Level level = Level::error;  // error: that record/document was not published; warning: published, a part dropped
  std::string source;          // file path, URL or "stdin"
  std::string position;        // where in the input: "line 12", "alert/info[2]/area[1]", "sentence 7", "record 3"
  std::string field;           // the input's own field name: "Z", "TM", "STCD", "polygon", "checksum"
  std::string value;           // the offending value as received, clipped with clipValue (model/validate.h)
  std::string reason;          // one line, no trailing period
  // "source: position: field=value: reason", with "warning: " in front for warnings.
  std::string str() const {
    std::string s = level == Level::warning ? "warning: " : "";
    s += source + ": " + position + ": " + field + "=" + value + ": " + reason;
    return s;
  }
};

// Each message's root is a complete schema::Message (id, sentMs, status, msgType, payload, provenance),
// ready for validateMessage and Client::publish. Message.sender is left empty: the broker stamps it.
using MessagePtr = std::unique_ptr<capnp::MallocMessageBuilder>;

struct Output {
  std::vector<MessagePtr> messages;     // in publish order
  std::vector<InputProblem> problems;   // in input order
  size_t accepted = 0;                  // input records/documents taken (a record may yield 0..n messages)
  size_t rejected = 0;                  // input records/documents refused (each has at least one error problem)
  std::vector<std::string> fetchUrls;   // documents this input links to (e.g. CAP linked from an Atom feed);
                                        // the runtime fetches each (bounded) and parses it as another input
  void append(Output&& other) {
    for (auto& u : other.fetchUrls) fetchUrls.push_back(std::move(u));
    for (auto& m : other.messages) messages.push_back(std::move(m));
    for (auto& p : other.problems) problems.push_back(std::move(p));
    accepted += other.accepted;
    rejected += other.rejected;
  }
};

}  // namespace alertbus::adapter
