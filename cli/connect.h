// The CLI's connection flags (--broker-file, --endpoint, --server-key, --key, --agency, --insecure,
// --timeout-ms) over the client library's ConnectSettings (client/connect_settings.h). CLI only: nothing
// outside cli/ includes this.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "client/client.h"
#include "client/connect_settings.h"

namespace alertbus {

struct ConnectFlags {
  ConnectSettings settings;  // defaults: var/broker.endpoint, var/keys/admin.key
  int timeoutMs = 10000;     // give up after this long without an answer
};

void addConnectFlags(CLI::App& app, ConnectFlags& f);

// The flags' settings with `clientName`, resolved (client/connect.h); throws std::runtime_error.
ClientOptions clientOptionsFrom(const ConnectFlags& f, const std::string& clientName);

}  // namespace alertbus
