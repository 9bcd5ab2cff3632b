// Resolution of connection settings into a Client; see connect.h.
#include "client/connect.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "client/keys.h"

namespace alertbus {

ClientOptions clientOptionsFrom(const ConnectSettings& s) {
  ClientOptions o;
  o.clientName = s.clientName;
  o.outboxPath = s.outboxPath;
  o.heartbeatMs = static_cast<uint32_t>(s.heartbeatMs);
  o.endpoint = s.endpoint;
  std::string serverKey = s.serverKey;
  if (needsBrokerFile(s) && !s.brokerFile.empty()) {
    if (!std::filesystem::exists(s.brokerFile))
      throw std::runtime_error(s.brokerFile + ": no broker file (is alertbusd running? or pass --endpoint and --server-key)");
    std::ifstream in(s.brokerFile, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error(s.brokerFile + ": cannot read the broker file");
    BrokerFileContents bf;
    std::string error;
    if (!parseBrokerFile(text.str(), s.brokerFile, bf, error)) throw std::runtime_error(error);
    if (o.endpoint.empty()) o.endpoint = bf.endpoint;
    if (serverKey.empty()) serverKey = bf.publicKey;
  }
  if (o.endpoint.empty()) throw std::runtime_error("no broker endpoint: pass --endpoint or --broker-file");
  if (s.insecure) {
    if (s.agency.empty()) throw std::runtime_error("--insecure needs --agency");
    o.agency = s.agency;
    return o;
  }
  if (serverKey.empty())
    throw std::runtime_error("no broker public key: pass --server-key, or a broker file (" + s.brokerFile +
                             ") with public = \"...\"");
  if (!isZ85Key(serverKey)) serverKey = readKeyFile(serverKey, false).publicKey;
  o.serverPublicKey = serverKey;
  KeyPair mine = readKeyFile(s.keyFile, true);
  o.publicKey = mine.publicKey;
  o.secretKey = mine.secretKey;
  return o;
}

std::unique_ptr<Client> connectClient(const ConnectSettings& s) { return std::make_unique<Client>(clientOptionsFrom(s)); }

}  // namespace alertbus
