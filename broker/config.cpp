// Parsing and validation of alertbusd.toml; see config.h.
#include "broker/config.h"

#include <toml++/toml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

namespace alertbus {
namespace {

namespace fs = std::filesystem;

struct Ctx {
  const std::string& file;
  std::vector<RuleError>& errors;
  void err(const toml::node* n, const std::string& reason) {
    errors.push_back({file, n ? static_cast<int>(n->source().begin.line) : 0, reason});
  }
};

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_absolute()) return p;
  return (fs::path(base) / path).lexically_normal().string();
}

template <typename T>
void getInt(Ctx& c, const toml::table& t, const char* key, T& out, int64_t min, int64_t max, const std::string& sect) {
  auto* n = t.get(key);
  if (!n) return;
  auto v = n->value<int64_t>();
  if (!n->is_integer() || !v) return c.err(n, sect + "." + key + ": expected an integer");
  if (*v < min || *v > max)
    return c.err(n, sect + "." + key + " = " + std::to_string(*v) + ": must be in " + std::to_string(min) + ".." +
                        std::to_string(max));
  out = static_cast<T>(*v);
}

void getString(Ctx& c, const toml::table& t, const char* key, std::string& out, const std::string& sect) {
  auto* n = t.get(key);
  if (!n) return;
  if (!n->is_string()) return c.err(n, sect + "." + key + ": expected a string");
  out = **n->as_string();
}

void getBool(Ctx& c, const toml::table& t, const char* key, bool& out, const std::string& sect) {
  auto* n = t.get(key);
  if (!n) return;
  if (!n->is_boolean()) return c.err(n, sect + "." + key + ": expected true or false");
  out = **n->as_boolean();
}

void checkKeys(Ctx& c, const toml::table& t, const std::string& sect, const std::set<std::string>& known) {
  for (auto& [k, v] : t) {
    std::string key(k.str());
    if (!known.count(key)) {
      std::string list;
      for (auto& s : known) list += (list.empty() ? "" : ", ") + s;
      c.err(&v, "unknown key '" + (sect.empty() ? key : sect + "." + key) + "' (known: " + list + ")");
    }
  }
}

}  // namespace

bool loadBrokerConfig(const std::string& path, BrokerConfig& out, std::vector<RuleError>& errors) {
  size_t before = errors.size();
  out.file = path;
  Ctx c{path, errors};
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    errors.push_back({path, static_cast<int>(e.source().begin.line), std::string(e.description())});
    return false;
  }
  std::string base = fs::path(path).parent_path().string();
  checkKeys(c, root, "", {"broker", "journal", "files", "limits"});
  auto section = [&](const char* name) -> const toml::table* {
    auto* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      c.err(n, std::string(name) + ": expected a table [" + name + "]");
      return nullptr;
    }
    return n->as_table();
  };
  if (auto* t = section("broker")) {
    checkKeys(c, *t, "broker", {"id", "endpoint", "curve", "secret_key_file", "log_level", "heartbeat_ms"});
    getString(c, *t, "id", out.id, "broker");
    getString(c, *t, "endpoint", out.endpoint, "broker");
    getBool(c, *t, "curve", out.curve, "broker");
    getString(c, *t, "secret_key_file", out.secretKeyFile, "broker");
    getString(c, *t, "log_level", out.logLevel, "broker");
    getInt(c, *t, "heartbeat_ms", out.heartbeatMs, 50, 60000, "broker");
    if (auto* n = t->get("log_level"); n && out.logLevel != "debug" && out.logLevel != "info" &&
                                       out.logLevel != "warn" && out.logLevel != "error")
      c.err(n, "broker.log_level = '" + out.logLevel + "': expected debug, info, warn or error");
    if (auto* n = t->get("endpoint"); n && out.endpoint.rfind("tcp://", 0) != 0 && out.endpoint.rfind("ipc://", 0) != 0)
      c.err(n, "broker.endpoint = '" + out.endpoint + "': expected tcp://host:port or ipc://path");
  }
  if (auto* t = section("journal")) {
    checkKeys(c, *t, "journal", {"path", "sync", "checkpoint_interval_ms"});
    getString(c, *t, "path", out.journalPath, "journal");
    getString(c, *t, "sync", out.journalSync, "journal");
    getInt(c, *t, "checkpoint_interval_ms", out.checkpointIntervalMs, 10, 60000, "journal");
    if (auto* n = t->get("sync"); n && out.journalSync != "full" && out.journalSync != "normal")
      c.err(n, "journal.sync = '" + out.journalSync + "': expected full or normal");
  }
  if (auto* t = section("files")) {
    checkKeys(c, *t, "files", {"agencies", "rules"});
    getString(c, *t, "agencies", out.agenciesFile, "files");
    getString(c, *t, "rules", out.rulesFile, "files");
  }
  if (auto* t = section("limits")) {
    checkKeys(c, *t, "limits",
              {"max_frame_bytes", "traversal_limit_words", "nesting_limit", "frames_per_turn", "outlet_memory_window",
               "max_credit", "max_pending_acks"});
    getInt(c, *t, "max_frame_bytes", out.maxFrameBytes, 1024, 64 << 20, "limits");
    getInt(c, *t, "traversal_limit_words", out.traversalLimitWords, 128, int64_t(1) << 30, "limits");
    getInt(c, *t, "nesting_limit", out.nestingLimit, 8, 128, "limits");
    getInt(c, *t, "frames_per_turn", out.framesPerTurn, 1, 100000, "limits");
    getInt(c, *t, "outlet_memory_window", out.outletMemoryWindow, 16, 10000000, "limits");
    getInt(c, *t, "max_credit", out.maxCredit, 1, 100000, "limits");
    getInt(c, *t, "max_pending_acks", out.maxPendingAcks, 100, 10000000, "limits");
  }
  // Cross-field pass.
  if (out.journalPath.empty()) c.err(nullptr, "journal.path is required");
  if (out.agenciesFile.empty()) c.err(nullptr, "files.agencies is required");
  if (out.rulesFile.empty()) c.err(nullptr, "files.rules is required");
  if (out.curve && out.secretKeyFile.empty())
    c.err(nullptr, "broker.secret_key_file is required when broker.curve = true");
  out.secretKeyFile = resolve(base, out.secretKeyFile);
  out.journalPath = resolve(base, out.journalPath);
  out.agenciesFile = resolve(base, out.agenciesFile);
  out.rulesFile = resolve(base, out.rulesFile);
  return errors.size() == before;
}

}  // namespace alertbus
