// The CLI's connection flags; see connect.h.
#include "cli/connect.h"

#include "client/connect.h"

namespace alertbus {

void addConnectFlags(CLI::App& app, ConnectFlags& f) {
  ConnectSettings& s = f.settings;
  app.add_option("--broker-file", s.brokerFile, "file with endpoint and server public key (alertbusd --endpoint-file)")
      ->capture_default_str();
  app.add_option("--endpoint", s.endpoint, "broker endpoint, e.g. tcp://127.0.0.1:7750");
  app.add_option("--server-key", s.serverKey, "broker public key (Z85) or a key file holding it");
  app.add_option("--key", s.keyFile, "this client's key pair file")->capture_default_str();
  app.add_option("--agency", s.agency, "agency name (only with --insecure)");
  app.add_flag("--insecure", s.insecure, "CURVE off (only against a broker started with --insecure-no-curve)");
  app.add_option("--timeout-ms", f.timeoutMs, "give up after this many milliseconds")->capture_default_str();
}

ClientOptions clientOptionsFrom(const ConnectFlags& f, const std::string& clientName) {
  ConnectSettings s = f.settings;
  s.clientName = clientName;
  return alertbus::clientOptionsFrom(s);
}

}  // namespace alertbus
