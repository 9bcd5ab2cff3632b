// Routing rules: parsed from TOML, validated (every error as file:line: reason, all at once; unknown keys
// are errors), compiled into an index once, evaluated per message. Pure: no ZeroMQ, no SQLite.
// A RuleSet is immutable after parse; share it across threads through shared_ptr<const RuleSet>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/facts.h"

namespace alertbus {

struct RuleError {
  std::string file;
  int line = 0;            // 1-based; 0 if the error concerns the whole file
  std::string reason;
  std::string str() const;  // "file:line: reason"
};

struct Destination {
  std::string outlet;      // e.g. "sms"
  std::string target;      // e.g. "flood-duty-officers"
  std::string str() const { return outlet + ":" + target; }
  bool operator==(const Destination& o) const { return outlet == o.outlet && target == o.target; }
};

struct RuleVerdict {       // why one rule did or did not match (for `alertbus rules test`)
  std::string name;
  int line = 0;
  bool matched = false;
  bool evaluated = true;   // false when an earlier matching rule without `continue` stopped evaluation
  std::vector<std::string> reasons;  // one per condition: "event typhoon in [typhoon, 11B01]: yes"
  std::vector<std::string> refused;  // destinations dropped because they do not accept the status
};

class RuleSet {
 public:
  // Parses and validates. On any error returns nullptr and appends every error found to `errors`.
  static std::shared_ptr<const RuleSet> parse(std::string_view tomlText, std::string_view fileName,
                                              std::vector<RuleError>& errors);
  static std::shared_ptr<const RuleSet> parseFile(const std::string& path, std::vector<RuleError>& errors);

  // Appends the destinations of `facts` to `out` (cleared first), de-duplicated, in order of first match.
  // `nowMs` (UTC) decides time-of-day conditions in the rule file's timezone. Cost: O(candidate rules).
  void route(const MessageFacts& facts, int64_t nowMs, std::vector<Destination>& out) const;

  // Same result as route(), plus a verdict for every rule in file order.
  std::vector<RuleVerdict> explain(const MessageFacts& facts, int64_t nowMs, std::vector<Destination>& out) const;

  size_t size() const;
  // Advisory findings that do not stop the rules from loading (`alertbus rules check` prints them): a
  // rule that lets alerts through to a destination to which no rule ever lets their cancels. The broker
  // still sends a cancel wherever its original went (it follows references in the journal), but only
  // for originals journaled here: a cancel of an alert issued before a restore or on another broker
  // would reach nobody there. One entry per such rule, at its line.
  std::vector<RuleError> warnings() const;
  // Every outlet named by a destination (e.g. {"dashboard", "sms"}), sorted.
  std::vector<std::string> outlets() const;

  struct Impl;
  explicit RuleSet(std::unique_ptr<Impl> impl);
  ~RuleSet();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace alertbus
