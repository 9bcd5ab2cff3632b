// Turns connection settings (connect_settings.h) into a Client: reads the broker file and the key files
// they name. The one way every agency process (adapters, outlets, the CLI) connects. Reads files; call it
// on the thread that will own the Client.
#pragma once

#include <memory>

#include "client/client.h"
#include "client/connect_settings.h"

namespace alertbus {

// Resolves `s` into ClientOptions: the endpoint and server key from the settings, else from the broker
// file; this client's keys from the key file (CURVE on) or the agency name (insecure). Throws
// std::runtime_error with a message naming the file and what is missing or wrong.
ClientOptions clientOptionsFrom(const ConnectSettings& s);

// clientOptionsFrom(s), then a Client over them (it connects on its first poll()). Throws as above.
std::unique_ptr<Client> connectClient(const ConnectSettings& s);

}  // namespace alertbus
