// The agency registry: TOML -> validated Agency list (all errors at once, file:line: reason), and the
// publish/serve permission checks. Invariant: a Registry holds only agencies that passed validation:
// names and public keys are unique, every key is 40 valid Z85 characters.
#include "broker/registry.h"
#include "client/keys.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace alertbus {
namespace {


const char* typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

int lineOf(const toml::node& n) { return static_cast<int>(n.source().begin.line); }
int lineOf(const toml::key& k) { return static_cast<int>(k.source().begin.line); }

bool isName(std::string_view s, size_t maxLen) {
  if (s.empty() || s.size() > maxLen) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

bool isEventPattern(std::string_view s) {
  if (s == "*") return true;
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '*' && i + 1 == s.size() && i > 0) break;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-'))
      return false;
  }
  return true;
}

bool eventAllowed(const std::vector<std::string>& patterns, std::string_view e) {
  for (auto& p : patterns) {
    if (p == "*") return true;
    if (!p.empty() && p.back() == '*') {
      std::string_view prefix(p.data(), p.size() - 1);
      if (e.substr(0, prefix.size()) == prefix) return true;
    } else if (p == e) {
      return true;
    }
  }
  return false;
}

std::string joinList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}

bool readText(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    why = "read error";
    return false;
  }
  out = ss.str();
  return true;
}

struct Ctx {
  std::string file;
  std::string baseDir;
  std::vector<RuleError> errs;
  void add(int line, std::string reason) { errs.push_back({file, line, std::move(reason)}); }
};

bool readStrings(Ctx& c, const toml::node& n, const std::string& what, std::vector<std::pair<std::string, int>>& out) {
  auto* arr = n.as_array();
  if (!arr) {
    c.add(lineOf(n), what + " must be an array of strings, got " + typeName(n));
    return false;
  }
  bool ok = true;
  for (auto& e : *arr) {
    if (auto* s = e.as_string()) {
      out.emplace_back(s->get(), lineOf(e));
    } else {
      c.add(lineOf(e), what + ": element must be a string, got " + typeName(e));
      ok = false;
    }
  }
  return ok;
}

// Reads the public key of a key file (client/keys.h format). Reports at `line` of the registry file,
// naming the key file's path and its own line.
bool readPublicKeyFile(Ctx& c, int line, const std::string& label, const std::string& path, std::string& key) {
  try {
    key = readKeyFile(path, false).publicKey;
    return true;
  } catch (const std::exception& e) {
    c.add(line, label + ": public_key_file " + e.what());
    return false;
  }
}

void parseAgency(Ctx& c, const toml::table& t, size_t index, Agency& a) {
  a.line = lineOf(t);
  std::string label = "agency[" + std::to_string(index) + "]";
  if (auto* n = t.get("name"); n && n->is_string()) label = "agency '" + n->as_string()->get() + "'";
  auto fail = [&](int line, std::string reason) { c.add(line, label + ": " + std::move(reason)); };
  bool hasName = false, hasRole = false, hasKey = false, hasKeyFile = false, hasServe = false;
  int keyLine = 0;
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    if (key == "name") {
      hasName = true;
      auto* s = v.as_string();
      if (!s)
        fail(lineOf(v), std::string("name must be a string, got ") + typeName(v));
      else if (!isName(s->get(), 32))
        fail(lineOf(v), "name '" + s->get() + "' must match [a-z0-9_-]{1,32}");
      else if (s->get() == kBrokerSender)
        fail(lineOf(v), "name '" + s->get() + "' is reserved for the broker's own system messages");
      else
        a.name = s->get();
    } else if (key == "role") {
      hasRole = true;
      auto* s = v.as_string();
      std::string r = s ? s->get() : "";
      if (r == "adapter")
        a.role = AgencyRole::adapter;
      else if (r == "outlet")
        a.role = AgencyRole::outlet;
      else if (r == "admin")
        a.role = AgencyRole::admin;
      else
        fail(lineOf(v), (s ? "unknown role '" + r + "'" : std::string("role must be a string, got ") + typeName(v)) +
                            " (allowed: adapter, outlet, admin)");
    } else if (key == "public_key") {
      hasKey = true;
      keyLine = lineOf(v);
      auto* s = v.as_string();
      std::string why;
      if (!s)
        fail(lineOf(v), std::string("public_key must be a string, got ") + typeName(v));
      else if (!checkZ85Key(s->get(), why))
        fail(lineOf(v), "public_key " + why);
      else
        a.publicKey = s->get();
    } else if (key == "public_key_file") {
      hasKeyFile = true;
      keyLine = lineOf(v);
      auto* s = v.as_string();
      if (!s || s->get().empty()) {
        fail(lineOf(v),
             std::string("public_key_file must be a non-empty string, got ") + (s ? "an empty string" : typeName(v)));
        continue;
      }
      std::string path = s->get();
      if (path[0] != '/' && !c.baseDir.empty()) path = c.baseDir + "/" + path;
      readPublicKeyFile(c, lineOf(v), label, path, a.publicKey);
    } else if (key == "publish_kinds") {
      std::vector<std::pair<std::string, int>> list;
      if (!readStrings(c, v, label + ": publish_kinds", list)) continue;
      for (auto& [s, line] : list) {
        Kind kind;
        if (s != "*" && !parseKind(s, kind))
          fail(line, "publish_kinds: unknown kind '" + s +
                         "' (allowed: warning, forecast, observation, sitrep, instruction, fused_alert, ack, *)");
        else
          a.publishKinds.push_back(s);
      }
    } else if (key == "publish_events") {
      std::vector<std::pair<std::string, int>> list;
      if (!readStrings(c, v, label + ": publish_events", list)) continue;
      if (list.empty()) fail(lineOf(v), "publish_events must not be empty (omit it to allow any event)");
      for (auto& [s, line] : list) {
        if (!isEventPattern(s))
          fail(line, "publish_events: '" + s + "' is not an event code, \"prefix*\" or \"*\"");
        else
          a.publishEvents.push_back(s);
      }
    } else if (key == "serve_outlets") {
      hasServe = true;
      std::vector<std::pair<std::string, int>> list;
      if (!readStrings(c, v, label + ": serve_outlets", list)) continue;
      for (auto& [s, line] : list) {
        if (s != "*" && !isName(s, 64))
          fail(line, "serve_outlets: '" + s + "' is not an outlet name [a-z0-9_-]+ or \"*\"");
        else
          a.serveOutlets.push_back(s);
      }
    } else {
      fail(lineOf(k), "unknown key '" + key +
                          "' (allowed: name, role, public_key, public_key_file, publish_kinds, publish_events, "
                          "serve_outlets)");
    }
  }
  // Cross-field checks within one agency.
  if (!hasName) fail(a.line, "missing required key 'name'");
  if (!hasRole) fail(a.line, "missing required key 'role' (adapter, outlet or admin)");
  if (hasKey && hasKeyFile) fail(keyLine, "has both public_key and public_key_file; give exactly one");
  if (!hasKey && !hasKeyFile) fail(a.line, "missing public_key or public_key_file; give exactly one");
  // An adapter may read named outlets (the maritime adapter watches warnings) but never every outlet.
  if (hasRole && hasServe && a.role == AgencyRole::adapter &&
      std::find(a.serveOutlets.begin(), a.serveOutlets.end(), "*") != a.serveOutlets.end())
    fail(a.line, "serve_outlets = \"*\" on an adapter; an adapter may only name the outlets it reads");
}

}  // namespace

std::string_view roleName(AgencyRole r) {
  switch (r) {
    case AgencyRole::adapter: return "adapter";
    case AgencyRole::outlet: return "outlet";
    case AgencyRole::admin: return "admin";
  }
  return "unspecified";
}

Registry::Registry(std::vector<Agency> agencies) : agencies_(std::move(agencies)) {}

// Linear scans: a registry holds tens of agencies and is consulted per connection handshake (ZAP) and
// per publish, not per delivered recipient.
const Agency* Registry::byKey(std::string_view z85PublicKey) const {
  for (auto& a : agencies_)
    if (a.publicKey == z85PublicKey) return &a;
  return nullptr;
}

const Agency* Registry::byName(std::string_view name) const {
  for (auto& a : agencies_)
    if (a.name == name) return &a;
  return nullptr;
}

const std::vector<Agency>& Registry::agencies() const { return agencies_; }

std::optional<Problem> Registry::mayPublish(const Agency& agency, const MessageFacts& facts) {
  std::string kind(kindName(facts.kind));
  const auto& kinds = agency.publishKinds;
  if (std::find(kinds.begin(), kinds.end(), "*") == kinds.end() &&
      std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
    return Problem{
        "notPermitted", "permission.publish_kinds", kind,
        "agency " + agency.name + " may not publish kind " + kind + " (publish_kinds = " + joinList(kinds) + ")"};
  // Admins publish any event their kinds allow (e.g. instructions for any hazard).
  if (agency.role == AgencyRole::admin || agency.publishEvents.empty()) return std::nullopt;
  for (auto& e : facts.events)
    if (!eventAllowed(agency.publishEvents, e))
      return Problem{"notPermitted", "permission.publish_events", e.substr(0, 200),
                     "agency " + agency.name + " may not publish event " + e.substr(0, 200) +
                         " (publish_events = " + joinList(agency.publishEvents) + ")"};
  return std::nullopt;
}

bool Registry::mayServe(const Agency& agency, std::string_view outlet) {
  for (auto& o : agency.serveOutlets)
    if (o == "*" || o == outlet) return true;
  return false;
}

std::shared_ptr<const Registry> Registry::parse(std::string_view tomlText, std::string_view fileName,
                                                const std::string& baseDir, std::vector<RuleError>& errors) {
  Ctx c{std::string(fileName), baseDir, {}};
  toml::table root;
  try {
    root = toml::parse(tomlText, fileName);
  } catch (const toml::parse_error& e) {
    errors.push_back(
        {c.file, static_cast<int>(e.source().begin.line), "TOML syntax error: " + std::string(e.description())});
    return nullptr;
  }
  for (auto&& [k, v] : root)
    if (k.str() != "agency")
      c.add(lineOf(k), "unknown key '" + std::string(k.str()) + "' (allowed at top level: agency)");

  std::vector<Agency> agencies;
  auto* node = root.get("agency");
  auto* arr = node ? node->as_array() : nullptr;
  if (node && (!arr || (!arr->empty() && !arr->is_array_of_tables()))) {
    c.add(lineOf(*node), "agency must be an array of tables: write each agency as [[agency]]");
  } else if (!arr || arr->empty()) {
    c.add(0, "no [[agency]] defined: no client could connect");
  } else {
    std::map<std::string, const Agency*> names, keys;
    for (size_t i = 0; i < arr->size(); ++i) {
      Agency a;
      parseAgency(c, *arr->get(i)->as_table(), i, a);
      agencies.push_back(std::move(a));
    }
    // Cross-agency pass: unique names and keys (a key names exactly one agency at authentication).
    for (auto& a : agencies) {
      if (!a.name.empty()) {
        auto [it, fresh] = names.emplace(a.name, &a);
        if (!fresh)
          c.add(a.line, "agency '" + a.name + "': duplicate name (first defined at line " +
                            std::to_string(it->second->line) + ")");
      }
      if (!a.publicKey.empty()) {
        auto [it, fresh] = keys.emplace(a.publicKey, &a);
        if (!fresh)
          c.add(a.line, "agency '" + a.name + "': public key already used by agency '" + it->second->name + "' (line " +
                            std::to_string(it->second->line) + ")");
      }
    }
  }
  if (!c.errs.empty()) {
    std::stable_sort(c.errs.begin(), c.errs.end(),
                     [](const RuleError& a, const RuleError& b) { return a.line < b.line; });
    errors.insert(errors.end(), c.errs.begin(), c.errs.end());
    return nullptr;
  }
  return std::make_shared<const Registry>(std::move(agencies));
}

std::shared_ptr<const Registry> Registry::parseFile(const std::string& path, std::vector<RuleError>& errors) {
  std::string text, why;
  if (!readText(path, text, why)) {
    errors.push_back({path, 0, "cannot read (" + why + ")"});
    return nullptr;
  }
  auto slash = path.rfind('/');
  std::string baseDir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return parse(text, path, baseDir, errors);
}

}  // namespace alertbus
