// Connection flags shared by the CLI's subcommands (and reusable by adapters): where the broker is, its
// public key, and this client's key pair.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "client/client.h"

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
// Resolves the flags into ClientOptions; throws std::runtime_error with a clear message.
ClientOptions clientOptionsFrom(const ConnectFlags& f, const std::string& clientName);

}  // namespace alertbus
