// Parsing and merging of connection settings; see connect_settings.h.
#include "client/connect_settings.h"

#include <toml++/toml.h>

namespace alertbus {

void readBrokerTable(TomlReader& r, const toml::table& t, ConnectSettings& s) {
  r.checkKeys(t, "broker", {"broker_file", "endpoint", "server_key", "key_file", "insecure", "agency", "client_name",
                            "heartbeat_ms"});
  r.getPath(t, "broker_file", s.brokerFile, "broker");
  r.getString(t, "endpoint", s.endpoint, "broker");
  std::string serverKey;
  r.getString(t, "server_key", serverKey, "broker");
  // A Z85 key is 40 characters; anything else is a key file, relative to the config file.
  if (!serverKey.empty()) s.serverKey = serverKey.size() == 40 ? serverKey : r.resolve(serverKey);
  r.getPath(t, "key_file", s.keyFile, "broker");
  r.getBool(t, "insecure", s.insecure, "broker");
  r.getString(t, "agency", s.agency, "broker");
  r.getString(t, "client_name", s.clientName, "broker");
  r.getInt(t, "heartbeat_ms", s.heartbeatMs, 100, 60000, "broker");
  if (s.insecure && s.agency.empty())
    r.err(t.get("insecure"), "broker.insecure = true needs broker.agency (the agency this client speaks for)");
}

void applyOverrides(ConnectSettings& s, const ConnectSettings& flags) {
  auto take = [](std::string& to, const std::string& from) {
    if (!from.empty()) to = from;
  };
  take(s.brokerFile, flags.brokerFile);
  take(s.endpoint, flags.endpoint);
  take(s.serverKey, flags.serverKey);
  take(s.keyFile, flags.keyFile);
  take(s.agency, flags.agency);
  take(s.clientName, flags.clientName);
  take(s.outboxPath, flags.outboxPath);
  if (flags.insecure) s.insecure = true;
}

bool needsBrokerFile(const ConnectSettings& s) {
  return s.endpoint.empty() || (s.serverKey.empty() && !s.insecure);
}

bool parseBrokerFile(std::string_view text, const std::string& source, BrokerFileContents& out, std::string& error) {
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    error = source + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return false;
  }
  for (auto [key, field] : {std::pair<const char*, std::string*>{"endpoint", &out.endpoint}, {"public", &out.publicKey}}) {
    const toml::node* n = t.get(key);
    if (!n) continue;
    if (!n->is_string()) {
      error = source + ":" + std::to_string(n->source().begin.line) + ": " + key + ": expected a string";
      return false;
    }
    *field = **n->as_string();
  }
  return true;
}

}  // namespace alertbus
