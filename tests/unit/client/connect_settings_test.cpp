// Connection settings: the [broker] table every adapter and outlet reads (keys, relative paths, errors as
// file:line), flags over the config, the broker file alertbusd writes, and resolution into ClientOptions.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "client/connect.h"
#include "client/connect_settings.h"
#include "client/keys.h"

using namespace alertbus;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "alertbus-connect-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

// Reads `text` as the config file `file` and returns the errors, one "file:line: reason" per entry.
std::vector<std::string> readTable(const std::string& file, const std::string& text, ConnectSettings& s) {
  std::vector<ConfigError> errors;
  TomlReader r(file, errors);
  toml::table root;
  if (r.parseText(text, root))
    if (auto* t = r.table(root, "broker", "")) readBrokerTable(r, *t, s);
  std::vector<std::string> out;
  for (auto& e : errors) out.push_back(e.str());
  return out;
}

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("connect settings: a [broker] table sets every key, paths relative to the config file", "[connect]") {
  ConnectSettings s;
  auto errors = readTable("/etc/alertbus/met.toml", R"(
[broker]
broker_file = "../run/broker.endpoint"
endpoint = "tcp://10.0.0.5:7750"
key_file = "keys/met.key"
client_name = "met-feed-1"
heartbeat_ms = 2500
)", s);
  CHECK(errors.empty());
  CHECK(fs::path(s.brokerFile).lexically_normal() == fs::path("/etc/run/broker.endpoint"));
  CHECK(s.endpoint == "tcp://10.0.0.5:7750");
  CHECK(fs::path(s.keyFile).lexically_normal() == fs::path("/etc/alertbus/keys/met.key"));
  CHECK(s.clientName == "met-feed-1");
  CHECK(s.heartbeatMs == 2500);
  CHECK_FALSE(s.insecure);

  SECTION("server_key: 40 characters are a Z85 key, anything else a key file beside the config") {
    ConnectSettings k;
    std::string z85(40, 'a');
    CHECK(readTable("/etc/alertbus/met.toml", "[broker]\nserver_key = \"" + z85 + "\"\n", k).empty());
    CHECK(k.serverKey == z85);
    CHECK(readTable("/etc/alertbus/met.toml", "[broker]\nserver_key = \"broker.pub\"\n", k).empty());
    CHECK(fs::path(k.serverKey).lexically_normal() == fs::path("/etc/alertbus/broker.pub"));
  }
  SECTION("absent keys keep the defaults") {
    ConnectSettings d;
    CHECK(readTable("/etc/alertbus/met.toml", "[broker]\n", d).empty());
    CHECK(d.brokerFile == "var/broker.endpoint");
    CHECK(d.keyFile == "var/keys/admin.key");
    CHECK(d.heartbeatMs == 1000);
  }
}

TEST_CASE("connect settings: bad [broker] tables are named by file, line and key", "[connect]") {
  ConnectSettings s;
  SECTION("unknown key") {
    auto e = readTable("met.toml", "[broker]\nendpoint = \"tcp://x:1\"\noutbox = \"o.sqlite\"\n", s);
    REQUIRE(e.size() == 1);
    CHECK_THAT(e[0], Catch::StartsWith("met.toml:3: ") && Catch::Contains("outbox"));
  }
  SECTION("heartbeat_ms out of range") {
    auto e = readTable("met.toml", "[broker]\n\nheartbeat_ms = 5\n", s);
    REQUIRE(e.size() == 1);
    CHECK_THAT(e[0], Catch::StartsWith("met.toml:3: ") && Catch::Contains("heartbeat_ms"));
  }
  SECTION("wrong type") {
    auto e = readTable("met.toml", "[broker]\ninsecure = \"yes\"\n", s);
    REQUIRE(e.size() == 1);
    CHECK_THAT(e[0], Catch::StartsWith("met.toml:2: ") && Catch::Contains("insecure"));
  }
  SECTION("insecure without the agency it speaks for") {
    auto e = readTable("met.toml", "[broker]\nendpoint = \"tcp://x:1\"\ninsecure = true\n", s);
    REQUIRE(e.size() == 1);
    CHECK_THAT(e[0], Catch::StartsWith("met.toml:3: ") && Catch::Contains("broker.agency"));
  }
}

TEST_CASE("connect settings: flags replace only what they give", "[connect]") {
  ConnectSettings s;
  s.brokerFile = "/cfg/broker.endpoint";
  s.keyFile = "/cfg/met.key";
  s.endpoint = "tcp://a:1";
  s.clientName = "met";
  s.heartbeatMs = 3000;
  ConnectSettings flags;
  flags.brokerFile.clear();
  flags.keyFile.clear();
  flags.endpoint = "tcp://b:2";
  applyOverrides(s, flags);
  CHECK(s.endpoint == "tcp://b:2");
  CHECK(s.brokerFile == "/cfg/broker.endpoint");
  CHECK(s.keyFile == "/cfg/met.key");
  CHECK(s.clientName == "met");
  CHECK(s.heartbeatMs == 3000);
  CHECK_FALSE(s.insecure);
  flags.keyFile = "/other.key";
  flags.insecure = true;
  applyOverrides(s, flags);
  CHECK(s.keyFile == "/other.key");
  CHECK(s.insecure);
}

TEST_CASE("connect settings: the broker file is needed for what the settings lack", "[connect]") {
  ConnectSettings s;
  CHECK(needsBrokerFile(s));
  s.endpoint = "tcp://a:1";
  CHECK(needsBrokerFile(s));  // CURVE on: the server key is missing
  s.serverKey = std::string(40, 'a');
  CHECK_FALSE(needsBrokerFile(s));
  s.serverKey.clear();
  s.insecure = true;
  CHECK_FALSE(needsBrokerFile(s));
}

TEST_CASE("connect settings: the broker file alertbusd writes", "[connect]") {
  BrokerFileContents bf;
  std::string err;
  SECTION("endpoint and public key") {
    REQUIRE(parseBrokerFile("endpoint = \"tcp://127.0.0.1:40001\"\npublic = \"" + std::string(40, 'k') + "\"\n",
                            "var/broker.endpoint", bf, err));
    CHECK(bf.endpoint == "tcp://127.0.0.1:40001");
    CHECK(bf.publicKey == std::string(40, 'k'));
  }
  SECTION("not TOML: file and line") {
    CHECK_FALSE(parseBrokerFile("endpoint = \"tcp://x\"\npublic = \n", "var/broker.endpoint", bf, err));
    CHECK_THAT(err, Catch::StartsWith("var/broker.endpoint:2: "));
  }
  SECTION("a value that is not a string: file, line and key") {
    CHECK_FALSE(parseBrokerFile("endpoint = 7750\n", "var/broker.endpoint", bf, err));
    CHECK(err == "var/broker.endpoint:1: endpoint: expected a string");
  }
}

TEST_CASE("connect: settings resolve into client options through the broker file and key files", "[connect]") {
  TempDir dir;
  KeyPair broker = generateKeyPair(), met = generateKeyPair();
  writeKeyFiles(dir.path, "met", met, false);
  writeKeyFiles(dir.path, "broker", broker, false);
  ConnectSettings s;
  s.brokerFile = dir.write("broker.endpoint", "endpoint = \"tcp://127.0.0.1:40001\"\npublic = \"" + broker.publicKey + "\"\n");
  s.keyFile = dir.path + "/met.key";
  s.clientName = "alertbus-met";
  s.heartbeatMs = 700;
  s.outboxPath = dir.path + "/outbox.sqlite";

  SECTION("everything from the files") {
    ClientOptions o = clientOptionsFrom(s);
    CHECK(o.endpoint == "tcp://127.0.0.1:40001");
    CHECK(o.serverPublicKey == broker.publicKey);
    CHECK(o.publicKey == met.publicKey);
    CHECK(o.secretKey == met.secretKey);
    CHECK(o.clientName == "alertbus-met");
    CHECK(o.heartbeatMs == 700);
    CHECK(o.outboxPath == dir.path + "/outbox.sqlite");
  }
  SECTION("settings win over the broker file; server_key may be a key file") {
    s.endpoint = "tcp://127.0.0.1:40002";
    s.serverKey = dir.path + "/broker.pub";
    s.brokerFile = dir.path + "/absent.endpoint";  // not needed, so not read
    ClientOptions o = clientOptionsFrom(s);
    CHECK(o.endpoint == "tcp://127.0.0.1:40002");
    CHECK(o.serverPublicKey == broker.publicKey);
  }
  SECTION("insecure: the agency instead of keys") {
    s.insecure = true;
    s.agency = "met";
    s.keyFile = dir.path + "/absent.key";
    ClientOptions o = clientOptionsFrom(s);
    CHECK(o.agency == "met");
    CHECK(o.serverPublicKey.empty());
    CHECK(o.secretKey.empty());
  }
  SECTION("a missing broker file is named") {
    s.brokerFile = dir.path + "/absent.endpoint";
    CHECK_THAT(errorOf([&] { clientOptionsFrom(s); }),
               Catch::StartsWith(dir.path + "/absent.endpoint: no broker file"));
  }
  SECTION("a broker file without a public key is named") {
    s.brokerFile = dir.write("nokey.endpoint", "endpoint = \"tcp://127.0.0.1:40001\"\n");
    CHECK_THAT(errorOf([&] { clientOptionsFrom(s); }),
               Catch::Contains("no broker public key") && Catch::Contains("nokey.endpoint"));
  }
  SECTION("a missing key file is named") {
    s.keyFile = dir.path + "/absent.key";
    CHECK_THAT(errorOf([&] { clientOptionsFrom(s); }), Catch::Contains("absent.key"));
  }
  SECTION("connectClient builds a Client over them") {
    auto c = connectClient(s);
    REQUIRE(c);
    CHECK_FALSE(c->connected());
  }
}
