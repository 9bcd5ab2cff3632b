// Resolution of connection flags; see connect.h.
#include "cli/connect.h"

#include <toml++/toml.h>

#include <filesystem>

#include "client/keys.h"

namespace alertbus {

void addConnectFlags(CLI::App& app, ConnectFlags& f) {
  app.add_option("--broker-file", f.brokerFile, "file with endpoint and server public key (alertbusd --endpoint-file)")
      ->capture_default_str();
  app.add_option("--endpoint", f.endpoint, "broker endpoint, e.g. tcp://127.0.0.1:7750");
  app.add_option("--server-key", f.serverKey, "broker public key (Z85) or a key file holding it");
  app.add_option("--key", f.keyFile, "this client's key pair file")->capture_default_str();
  app.add_option("--agency", f.agency, "agency name (only with --insecure)");
  app.add_flag("--insecure", f.insecure, "CURVE off (only against a broker started with --insecure-no-curve)");
  app.add_option("--timeout-ms", f.timeoutMs, "give up after this many milliseconds")->capture_default_str();
}

void readBrokerTable(TomlReader& r, const toml::table& t, ConnectFlags& f, std::string& clientName,
                     int64_t& heartbeatMs) {
  r.checkKeys(t, "broker", {"broker_file", "endpoint", "server_key", "key_file", "insecure", "agency", "client_name",
                            "heartbeat_ms"});
  r.getPath(t, "broker_file", f.brokerFile, "broker");
  r.getString(t, "endpoint", f.endpoint, "broker");
  r.getString(t, "server_key", f.serverKey, "broker");
  // A Z85 key is 40 characters; anything else is a key file, relative to the config file.
  if (!f.serverKey.empty() && f.serverKey.size() != 40) f.serverKey = r.resolve(f.serverKey);
  r.getPath(t, "key_file", f.keyFile, "broker");
  r.getBool(t, "insecure", f.insecure, "broker");
  r.getString(t, "agency", f.agency, "broker");
  r.getString(t, "client_name", clientName, "broker");
  r.getInt(t, "heartbeat_ms", heartbeatMs, 100, 60000, "broker");
  if (f.insecure && f.agency.empty())
    r.err(t.get("insecure"), "broker.insecure = true needs broker.agency (the agency this client speaks for)");
}

ClientOptions clientOptionsFrom(const ConnectFlags& f, const std::string& clientName) {
  ClientOptions o;
  o.clientName = clientName;
  std::string serverKey = f.serverKey;
  o.endpoint = f.endpoint;
  if ((o.endpoint.empty() || (serverKey.empty() && !f.insecure)) && !f.brokerFile.empty()) {
    if (!std::filesystem::exists(f.brokerFile))
      throw std::runtime_error(f.brokerFile + ": no broker file (is alertbusd running? or pass --endpoint and --server-key)");
    try {
      auto t = toml::parse_file(f.brokerFile);
      if (o.endpoint.empty()) o.endpoint = t["endpoint"].value_or(std::string());
      if (serverKey.empty()) serverKey = t["public"].value_or(std::string());
    } catch (const toml::parse_error& e) {
      throw std::runtime_error(f.brokerFile + ":" + std::to_string(e.source().begin.line) + ": " +
                               std::string(e.description()));
    }
  }
  if (o.endpoint.empty()) throw std::runtime_error("no broker endpoint: pass --endpoint or --broker-file");
  if (f.insecure) {
    if (f.agency.empty()) throw std::runtime_error("--insecure needs --agency");
    o.agency = f.agency;
    return o;
  }
  if (!isZ85Key(serverKey)) serverKey = readKeyFile(serverKey, false).publicKey;
  o.serverPublicKey = serverKey;
  KeyPair mine = readKeyFile(f.keyFile, true);
  o.publicKey = mine.publicKey;
  o.secretKey = mine.secretKey;
  return o;
}

}  // namespace alertbus
