// The agency registry: which CURVE public key speaks for which agency, in which role, with which
// permissions. Parsed from TOML (config/agencies.toml documents every key), validated like the rules
// (file:line: reason, all errors at once, unknown keys are errors). Pure: no ZeroMQ, no SQLite.
// Immutable after parse; share through shared_ptr<const Registry>.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/rules.h"  // RuleError
#include "model/facts.h"
#include "model/validate.h"  // Problem

namespace alertbus {

// The reserved sender of the broker's own system messages (health.h): no agency may be named so, so no
// agency can publish as the broker (the broker stamps the sender from the authenticated agency).
inline constexpr const char kBrokerSender[] = "broker";

enum class AgencyRole : uint8_t { adapter, outlet, admin };
std::string_view roleName(AgencyRole r);

struct Agency {
  std::string name;                        // e.g. "met"; [a-z0-9_-]{1,32}
  AgencyRole role = AgencyRole::adapter;
  std::string publicKey;                   // Z85, 40 chars
  std::vector<std::string> publishKinds;   // kind names ("warning", ...) or "*"; empty = may not publish
  std::vector<std::string> publishEvents;  // event codes, "prefix*" globs, or "*"; empty = any event
  std::vector<std::string> serveOutlets;   // outlet names this agency may subscribe as; "*" = any
  int line = 0;                            // where it is defined
};

class Registry {
 public:
  // Parses and validates `tomlText`. `baseDir` resolves relative `public_key_file` paths (the
  // directory of the registry file). On any error returns nullptr and appends every error to `errors`.
  static std::shared_ptr<const Registry> parse(std::string_view tomlText, std::string_view fileName,
                                               const std::string& baseDir, std::vector<RuleError>& errors);
  static std::shared_ptr<const Registry> parseFile(const std::string& path, std::vector<RuleError>& errors);

  const Agency* byKey(std::string_view z85PublicKey) const;  // nullptr if unknown
  const Agency* byName(std::string_view name) const;         // nullptr if unknown
  const std::vector<Agency>& agencies() const;

  // nullopt if `agency` may publish this message; otherwise a Problem with code "notPermitted",
  // field "permission.publish_kinds" or "permission.publish_events", the offending value, and a reason
  // naming the agency, e.g. "agency water may not publish event typhoon (publish_events = [flood*])".
  static std::optional<Problem> mayPublish(const Agency& agency, const MessageFacts& facts);
  static bool mayServe(const Agency& agency, std::string_view outlet);

  explicit Registry(std::vector<Agency> agencies);

 private:
  std::vector<Agency> agencies_;
};

}  // namespace alertbus
