// Connection flags shared by the CLI's subcommands (and reusable by adapters): where the broker is, its
// public key, and this client's key pair.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "client/client.h"
#include "common/toml_reader.h"

namespace alertbus {

struct ConnectFlags {
  std::string brokerFile = "var/broker.endpoint";  // written by alertbusd --endpoint-file
  std::string endpoint;                            // overrides the broker file's endpoint
  std::string serverKey;                           // Z85 or a key file; overrides the broker file's key
  std::string keyFile = "var/keys/admin.key";      // this client's key pair
  std::string agency;                              // insecure mode only
  bool insecure = false;                           // CURVE off
  int timeoutMs = 10000;                           // give up after this long without an answer
};

void addConnectFlags(CLI::App& app, ConnectFlags& f);
// Reads a [broker] table of an adapter's or outlet's config file (config/met.toml documents the keys:
// broker_file, endpoint, server_key, key_file, insecure, agency, client_name, heartbeat_ms) into `f`,
// `clientName` and `heartbeatMs`; paths relative to the config file. Errors go to `r`.
void readBrokerTable(TomlReader& r, const toml::table& t, ConnectFlags& f, std::string& clientName,
                     int64_t& heartbeatMs);

// Resolves the flags into ClientOptions; throws std::runtime_error with a clear message.
ClientOptions clientOptionsFrom(const ConnectFlags& f, const std::string& clientName);

}  // namespace alertbus
