// alertbusd.toml parsing: every error names file:line and the key, all errors at once, unknown keys
// are errors, relative paths resolve against the file's directory.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "broker/config.h"

using namespace alertbus;

namespace {

struct ConfigFile {
  std::string dir, path;
  explicit ConfigFile(const std::string& text) {
    char tmpl[] = "/tmp/alertbus-config-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/alertbusd.toml";
    std::ofstream(path) << text;
  }
  ~ConfigFile() { std::filesystem::remove_all(dir); }
};

std::string joined(const std::vector<RuleError>& errors) {
  std::string s;
  for (auto& e : errors) s += e.str() + "\n";
  return s;
}

const char* kGood = R"([broker]
endpoint = "tcp://127.0.0.1:7750"
secret_key_file = "keys/broker.key"
[journal]
path = "../var/journal.db"
[files]
agencies = "agencies.toml"
rules = "rules.toml"
)";

}  // namespace

TEST_CASE("config: a valid file resolves relative paths against its directory", "[config]") {
  ConfigFile f(kGood);
  BrokerConfig c;
  std::vector<RuleError> errors;
  REQUIRE(loadBrokerConfig(f.path, c, errors));
  CHECK(errors.empty());
  CHECK(c.secretKeyFile == f.dir + "/keys/broker.key");
  CHECK(c.agenciesFile == f.dir + "/agencies.toml");
  CHECK(c.journalPath == std::filesystem::path(f.dir).parent_path().string() + "/var/journal.db");
  CHECK(c.journalSync == "full");
  CHECK(c.curve);
}

TEST_CASE("config: unknown keys, wrong types and out-of-range values are all reported with their lines", "[config]") {
  ConfigFile f(std::string(kGood) + R"(
[limits]
max_frame_bytes = 10
nesting_limt = 32
frames_per_turn = "many"
[broker2]
x = 1
)");
  BrokerConfig c;
  std::vector<RuleError> errors;
  CHECK_FALSE(loadBrokerConfig(f.path, c, errors));
  auto text = joined(errors);
  INFO(text);
  CHECK(text.find(f.path + ":11: limits.max_frame_bytes = 10: must be in 1024..") != std::string::npos);
  CHECK(text.find(f.path + ":12: unknown key 'limits.nesting_limt'") != std::string::npos);
  CHECK(text.find(f.path + ":13: limits.frames_per_turn: expected an integer") != std::string::npos);
  CHECK(text.find(f.path + ":14: unknown key 'broker2'") != std::string::npos);
  CHECK(errors.size() == 4);
}

TEST_CASE("config: bad enum values name the value and the choices", "[config]") {
  ConfigFile f(std::string(kGood) + "\n");
  std::string text = kGood;
  text.replace(text.find("[journal]\n"), 10, "[journal]\nsync = \"sometimes\"\n");
  text.replace(text.find("[broker]\n"), 9, "[broker]\nlog_level = \"loud\"\nendpoint2 = 1\n");
  std::ofstream(f.path) << text;
  BrokerConfig c;
  std::vector<RuleError> errors;
  CHECK_FALSE(loadBrokerConfig(f.path, c, errors));
  auto all = joined(errors);
  INFO(all);
  CHECK(all.find("journal.sync = 'sometimes': expected full or normal") != std::string::npos);
  CHECK(all.find("broker.log_level = 'loud': expected debug, info, warn or error") != std::string::npos);
  CHECK(all.find("unknown key 'broker.endpoint2'") != std::string::npos);
}

TEST_CASE("config: cross-field checks: required files and a key file when CURVE is on", "[config]") {
  ConfigFile f("[broker]\ncurve = true\n");
  BrokerConfig c;
  std::vector<RuleError> errors;
  CHECK_FALSE(loadBrokerConfig(f.path, c, errors));
  auto text = joined(errors);
  INFO(text);
  CHECK(text.find("journal.path is required") != std::string::npos);
  CHECK(text.find("files.agencies is required") != std::string::npos);
  CHECK(text.find("files.rules is required") != std::string::npos);
  CHECK(text.find("broker.secret_key_file is required when broker.curve = true") != std::string::npos);
}

TEST_CASE("config: a TOML syntax error is reported with its line", "[config]") {
  ConfigFile f("[broker]\nendpoint = \"tcp://x\n");
  BrokerConfig c;
  std::vector<RuleError> errors;
  CHECK_FALSE(loadBrokerConfig(f.path, c, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].file == f.path);
  CHECK(errors[0].line == 2);
}
