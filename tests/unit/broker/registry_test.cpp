// Agency registry: validation (every error path, with its line), key files relative to the registry
// file, the sample config/agencies.toml, and the publish/serve permission checks.
#include "broker/registry.h"
#include "client/keys.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace alertbus;
namespace fs = std::filesystem;

namespace {

// Z85-encodes 32 bytes derived from `seed`: a valid CURVE public key for tests.
std::string testKey(int seed) {
  static const char* kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  std::string out;
  uint32_t x = 2166136261u ^ static_cast<uint32_t>(seed);
  for (int g = 0; g < 8; ++g) {
    x = x * 16777619u + 12345u;
    uint32_t v = x;
    char buf[5];
    for (int i = 4; i >= 0; --i) {
      buf[i] = kAlphabet[v % 85];
      v /= 85;
    }
    out.append(buf, 5);
  }
  return out;
}

// A fresh directory per test case, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "alertbus-registry-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& rel, const std::string& text) const {
    fs::path p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};

std::shared_ptr<const Registry> parseOk(const std::string& text, const std::string& baseDir = ".") {
  std::vector<RuleError> errors;
  auto reg = Registry::parse(text, "agencies.toml", baseDir, errors);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  REQUIRE(errors.empty());
  REQUIRE(reg);
  return reg;
}

std::vector<RuleError> parseBad(const std::string& text, const std::string& baseDir = ".") {
  std::vector<RuleError> errors;
  auto reg = Registry::parse(text, "agencies.toml", baseDir, errors);
  CHECK_FALSE(reg);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  return errors;
}

bool hasError(const std::vector<RuleError>& errors, int line, const std::string& needle) {
  for (auto& e : errors)
    if (e.line == line && e.reason.find(needle) != std::string::npos) return true;
  return false;
}

// One agency table; `extra` lines are appended.
std::string agency(const std::string& name, const std::string& role, const std::string& key,
                   const std::string& extra = "") {
  return "[[agency]]\nname = \"" + name + "\"\nrole = \"" + role + "\"\npublic_key = \"" + key + "\"\n" + extra;
}

MessageFacts facts(Kind kind, std::vector<std::string> events) {
  MessageFacts f;
  f.kind = kind;
  f.status = schema::Status::ACTUAL;
  f.events = std::move(events);
  return f;
}

}  // namespace

TEST_CASE("registry: the test key helper makes valid distinct keys", "[registry]") {
  auto reg = parseOk(agency("a", "adapter", testKey(1)) + agency("b", "adapter", testKey(2)));
  CHECK(testKey(1) != testKey(2));
  CHECK(testKey(1).size() == 40);
  CHECK(reg->agencies().size() == 2);
}

TEST_CASE("registry: a valid registry with inline keys and key files", "[registry]") {
  TempDir dir;
  dir.write("keys/water.pub", "public = \"" + testKey(2) + "\"\n");
  KeyPair sms = generateKeyPair();  // a .key file must hold a matching pair
  dir.write("keys/sms.key", "public = \"" + sms.publicKey + "\"\nsecret = \"" + sms.secretKey + "\"\n");
  std::string path = dir.write("conf/agencies.toml",
                               agency("met", "adapter", testKey(1),
                                      "publish_kinds = [\"warning\", \"forecast\"]\npublish_events = [\"typhoon\", "
                                      "\"11B*\"]\n") +
                                   "[[agency]]\nname = \"water\"\nrole = \"adapter\"\n"
                                   "public_key_file = \"../keys/water.pub\"\npublish_kinds = [\"observation\"]\n"
                                   "[[agency]]\nname = \"sms\"\nrole = \"outlet\"\npublic_key_file = \"" +
                                   (dir.path / "keys/sms.key").string() + "\"\nserve_outlets = [\"sms\"]\n");
  std::vector<RuleError> errors;
  auto reg = Registry::parseFile(path, errors);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  REQUIRE(reg);
  REQUIRE(reg->agencies().size() == 3);
  const Agency* water = reg->byKey(testKey(2));
  REQUIRE(water);
  CHECK(water->name == "water");
  CHECK(water->line == 7);
  CHECK(reg->byName("sms")->publicKey == sms.publicKey);
  CHECK(reg->byName("sms")->role == AgencyRole::outlet);
  CHECK(reg->byName("met")->publishEvents == std::vector<std::string>{"typhoon", "11B*"});
  CHECK(reg->byKey(testKey(9)) == nullptr);
  CHECK(reg->byName("fire") == nullptr);
  CHECK(roleName(AgencyRole::adapter) == "adapter");
  CHECK(roleName(AgencyRole::outlet) == "outlet");
  CHECK(roleName(AgencyRole::admin) == "admin");
}

TEST_CASE("registry: config/agencies.toml parses with generated key files", "[registry]") {
  TempDir dir;
  std::ifstream in(std::string(ALERTBUS_SOURCE_DIR) + "/config/agencies.toml");
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string path = dir.write("config/agencies.toml", text);
  int seed = 100;
  for (auto name : {"met", "water", "fire", "maritime", "sms", "dashboard", "admin"})
    dir.write(std::string("var/keys/") + name + ".pub", "public = \"" + testKey(seed++) + "\"\n");
  std::vector<RuleError> errors;
  auto reg = Registry::parseFile(path, errors);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  REQUIRE(reg);
  CHECK(reg->agencies().size() == 7);
  for (auto name : {"met", "water", "fire", "maritime"}) CHECK(reg->byName(name)->role == AgencyRole::adapter);
  CHECK(reg->byName("sms")->role == AgencyRole::outlet);
  CHECK(reg->byName("dashboard")->role == AgencyRole::outlet);
  CHECK(reg->byName("admin")->role == AgencyRole::admin);
  CHECK(Registry::mayServe(*reg->byName("sms"), "sms"));
  CHECK_FALSE(Registry::mayServe(*reg->byName("sms"), "dashboard"));
  CHECK_FALSE(Registry::mayPublish(*reg->byName("met"), facts(Kind::warning, {"typhoon"})));
  CHECK(Registry::mayPublish(*reg->byName("water"), facts(Kind::warning, {"typhoon"})));
}

// ---------------------------------------------------------------- validation

TEST_CASE("registry: unknown key 'pubkey' is reported with its line", "[registry]") {
  auto errors = parseBad(agency("met", "adapter", testKey(1), "pubkey = \"x\"\n"));
  CHECK(hasError(errors, 5, "agency 'met': unknown key 'pubkey'"));
}

TEST_CASE("registry: unknown top-level key 'agencies' is reported", "[registry]") {
  auto errors = parseBad("agencies = 1\n" + agency("met", "adapter", testKey(1)));
  CHECK(hasError(errors, 1, "unknown key 'agencies'"));
}

TEST_CASE("registry: a TOML syntax error is one error with its line", "[registry]") {
  auto errors = parseBad("[[agency]]\nname = \"met\nrole = \"adapter\"\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 2);
  CHECK(errors[0].str().rfind("agencies.toml:2: TOML syntax error", 0) == 0);
}

TEST_CASE("registry: no agencies, or [agency] as a single table, is reported", "[registry]") {
  CHECK(hasError(parseBad(""), 0, "no [[agency]] defined"));
  CHECK(hasError(parseBad("[agency]\nname = \"met\"\n"), 1, "agency must be an array of tables"));
}

TEST_CASE("registry: duplicate agency name 'met' is reported", "[registry]") {
  auto errors = parseBad(agency("met", "adapter", testKey(1)) + agency("met", "adapter", testKey(2)));
  REQUIRE(errors.size() == 1);
  CHECK(hasError(errors, 5, "agency 'met': duplicate name (first defined at line 1)"));
}

TEST_CASE("registry: the name 'broker' is reserved for the broker's own system messages", "[registry]") {
  auto errors = parseBad(agency("met", "adapter", testKey(1)) + agency("broker", "admin", testKey(2)));
  REQUIRE(errors.size() == 1);
  CHECK(hasError(errors, 6, "name 'broker' is reserved for the broker's own system messages"));
}

TEST_CASE("registry: the same public key for two agencies is reported", "[registry]") {
  auto errors = parseBad(agency("met", "adapter", testKey(1)) + agency("water", "adapter", testKey(1)));
  REQUIRE(errors.size() == 1);
  CHECK(hasError(errors, 5, "agency 'water': public key already used by agency 'met' (line 1)"));
}

TEST_CASE("registry: bad Z85 public keys are reported", "[registry]") {
  SECTION("39 characters") {
    auto errors = parseBad(agency("met", "adapter", testKey(1).substr(1)));
    CHECK(hasError(errors, 4, "public_key is 39 characters, expected 40 Z85 characters"));
  }
  SECTION("a character outside the alphabet") {
    std::string k = testKey(1);
    k[7] = '~';
    auto errors = parseBad(agency("met", "adapter", k));
    CHECK(hasError(errors, 4, "outside the Z85 alphabet at position 8"));
  }
  SECTION("a group that overflows 32 bits") {
    std::string k = testKey(1);
    k.replace(10, 5, "#####");
    auto errors = parseBad(agency("met", "adapter", k));
    CHECK(hasError(errors, 4, "group 3 overflows 32 bits"));
  }
  SECTION("a number") {
    auto errors = parseBad("[[agency]]\nname = \"met\"\nrole = \"adapter\"\npublic_key = 5\n");
    CHECK(hasError(errors, 4, "public_key must be a string, got an integer"));
  }
}

TEST_CASE("registry: public_key and public_key_file: exactly one", "[registry]") {
  SECTION("both") {
    auto errors = parseBad(agency("met", "adapter", testKey(1), "public_key_file = \"met.pub\"\n"));
    CHECK(hasError(errors, 5, "has both public_key and public_key_file"));
  }
  SECTION("neither") {
    auto errors = parseBad("[[agency]]\nname = \"met\"\nrole = \"adapter\"\n");
    CHECK(hasError(errors, 1, "missing public_key or public_key_file"));
  }
}

TEST_CASE("registry: key file problems name the path", "[registry]") {
  TempDir dir;
  auto reg = [](const std::string& file) {
    return "[[agency]]\nname = \"met\"\nrole = \"adapter\"\npublic_key_file = \"" + file + "\"\n";
  };
  SECTION("a missing key file") {
    auto errors = parseBad(reg("keys/missing.pub"), dir.path.string());
    CHECK(hasError(errors, 4, "public_key_file " + (dir.path / "keys/missing.pub").string() + ": cannot open key file: "));
  }
  SECTION("a key file with a bad key") {
    dir.write("keys/met.pub", "# comment\npublic = \"short\"\n");
    auto errors = parseBad(reg("keys/met.pub"), dir.path.string());
    CHECK(hasError(errors, 4, "keys/met.pub:2: public key is 5 characters"));
  }
  SECTION("a key file without 'public'") {
    dir.write("keys/met.pub", "secret = \"" + testKey(1) + "\"\n");
    auto errors = parseBad(reg("keys/met.pub"), dir.path.string());
    CHECK(hasError(errors, 4, "keys/met.pub: missing key 'public'"));
  }
  SECTION("a key file with an unknown key") {
    dir.write("keys/met.pub", "public = \"" + testKey(1) + "\"\nowner = \"met\"\n");
    auto errors = parseBad(reg("keys/met.pub"), dir.path.string());
    CHECK(hasError(errors, 4, "keys/met.pub:2: unknown key 'owner'"));
  }
  SECTION("a key file that is not TOML") {
    dir.write("keys/met.pub", "public = \n");
    auto errors = parseBad(reg("keys/met.pub"), dir.path.string());
    CHECK(hasError(errors, 4, "keys/met.pub:1: TOML syntax error"));
  }
  SECTION("an empty path") {
    auto errors = parseBad(reg(""), dir.path.string());
    CHECK(hasError(errors, 4, "public_key_file must be a non-empty string"));
  }
}

TEST_CASE("registry: bad names and roles are reported", "[registry]") {
  SECTION("name 'Met Bureau'") {
    auto errors = parseBad(agency("Met Bureau", "adapter", testKey(1)));
    CHECK(hasError(errors, 2, "name 'Met Bureau' must match [a-z0-9_-]{1,32}"));
  }
  SECTION("a 33-character name") {
    auto errors = parseBad(agency(std::string(33, 'a'), "adapter", testKey(1)));
    CHECK(hasError(errors, 2, "must match [a-z0-9_-]{1,32}"));
  }
  SECTION("role 'publisher'") {
    auto errors = parseBad(agency("met", "publisher", testKey(1)));
    CHECK(hasError(errors, 3, "unknown role 'publisher' (allowed: adapter, outlet, admin)"));
  }
  SECTION("missing name and role") {
    auto errors = parseBad("[[agency]]\npublic_key = \"" + testKey(1) + "\"\n");
    CHECK(hasError(errors, 1, "agency[0]: missing required key 'name'"));
    CHECK(hasError(errors, 1, "agency[0]: missing required key 'role'"));
  }
}

TEST_CASE("registry: bad permissions are reported", "[registry]") {
  SECTION("publish_kinds 'alert'") {
    auto errors = parseBad(agency("met", "adapter", testKey(1), "publish_kinds = [\"warning\", \"alert\"]\n"));
    CHECK(hasError(errors, 5, "publish_kinds: unknown kind 'alert' (allowed: warning"));
  }
  SECTION("publish_kinds = \"warning\"") {
    auto errors = parseBad(agency("met", "adapter", testKey(1), "publish_kinds = \"warning\"\n"));
    CHECK(hasError(errors, 5, "publish_kinds must be an array of strings, got a string"));
  }
  SECTION("publish_events 'ty*'phoon'") {
    auto errors = parseBad(agency("met", "adapter", testKey(1), "publish_events = [\"ty*phoon\"]\n"));
    CHECK(hasError(errors, 5, "publish_events: 'ty*phoon' is not an event code"));
  }
  SECTION("publish_events = []") {
    auto errors = parseBad(agency("met", "adapter", testKey(1), "publish_events = []\n"));
    CHECK(hasError(errors, 5, "publish_events must not be empty"));
  }
  SECTION("serve_outlets 'SMS'") {
    auto errors = parseBad(agency("sms", "outlet", testKey(1), "serve_outlets = [\"SMS\"]\n"));
    CHECK(hasError(errors, 5, "serve_outlets: 'SMS' is not an outlet name"));
  }
  SECTION("serve_outlets = [1]") {
    auto errors = parseBad(agency("sms", "outlet", testKey(1), "serve_outlets = [1]\n"));
    CHECK(hasError(errors, 5, "serve_outlets: element must be a string, got an integer"));
  }
  SECTION("serve_outlets * on an adapter") {
    auto errors = parseBad(agency("met", "adapter", testKey(1), "serve_outlets = [\"*\"]\n"));
    CHECK(hasError(errors, 1, "serve_outlets = \"*\" on an adapter"));
  }
}

TEST_CASE("registry: all errors are collected in one pass, in line order", "[registry]") {
  auto errors = parseBad("colour = 1\n" + agency("met", "adapter", "short", "publish_kinds = [\"alert\"]\n") +
                         agency("met", "boss", testKey(1)));
  CHECK(hasError(errors, 1, "unknown key 'colour'"));
  CHECK(hasError(errors, 5, "public_key is 5 characters"));
  CHECK(hasError(errors, 6, "unknown kind 'alert'"));
  CHECK(hasError(errors, 7, "duplicate name"));
  CHECK(hasError(errors, 9, "unknown role 'boss'"));
  CHECK(errors.size() == 5);
  for (size_t i = 1; i < errors.size(); ++i) CHECK(errors[i - 1].line <= errors[i].line);
}

TEST_CASE("registry: a missing registry file is one error naming the path", "[registry]") {
  std::vector<RuleError> errors;
  CHECK_FALSE(Registry::parseFile("/nonexistent/agencies.toml", errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].str().rfind("/nonexistent/agencies.toml: cannot read", 0) == 0);
}

// ---------------------------------------------------------------- permissions

TEST_CASE("registry: mayPublish checks kinds, then events", "[registry]") {
  auto reg = parseOk(
      agency("water", "adapter", testKey(1),
             "publish_kinds = [\"observation\"]\npublish_events = [\"flood*\", \"river-level\"]\n") +
      agency("met", "adapter", testKey(2), "publish_kinds = [\"*\"]\n") + agency("mute", "adapter", testKey(3)) +
      agency("admin", "admin", testKey(4), "publish_kinds = [\"instruction\"]\npublish_events = [\"none\"]\n"));
  const Agency& water = *reg->byName("water");
  SECTION("a kind not in publish_kinds") {
    auto p = Registry::mayPublish(water, facts(Kind::warning, {"flood"}));
    REQUIRE(p);
    CHECK(p->code == "notPermitted");
    CHECK(p->field == "permission.publish_kinds");
    CHECK(p->value == "warning");
    CHECK(p->reason == "agency water may not publish kind warning (publish_kinds = [observation])");
  }
  SECTION("an event not in publish_events") {
    auto p = Registry::mayPublish(water, facts(Kind::observation, {"river-level", "typhoon"}));
    REQUIRE(p);
    CHECK(p->code == "notPermitted");
    CHECK(p->field == "permission.publish_events");
    CHECK(p->value == "typhoon");
    CHECK(p->reason == "agency water may not publish event typhoon (publish_events = [flood*, river-level])");
  }
  SECTION("allowed exact, prefix, and no event at all") {
    CHECK_FALSE(Registry::mayPublish(water, facts(Kind::observation, {"river-level"})));
    CHECK_FALSE(Registry::mayPublish(water, facts(Kind::observation, {"flood-plain", "flood"})));
    CHECK_FALSE(Registry::mayPublish(water, facts(Kind::observation, {})));
  }
  SECTION("publish_kinds = [\"*\"] and no publish_events: anything") {
    CHECK_FALSE(Registry::mayPublish(*reg->byName("met"), facts(Kind::warning, {"typhoon"})));
    CHECK_FALSE(Registry::mayPublish(*reg->byName("met"), facts(Kind::sitrep, {"anything"})));
  }
  SECTION("no publish_kinds: nothing") {
    auto p = Registry::mayPublish(*reg->byName("mute"), facts(Kind::observation, {}));
    REQUIRE(p);
    CHECK(p->reason == "agency mute may not publish kind observation (publish_kinds = [])");
  }
  SECTION("admin: any event its kinds allow, but only those kinds") {
    const Agency& admin = *reg->byName("admin");
    CHECK_FALSE(Registry::mayPublish(admin, facts(Kind::instruction, {"typhoon"})));
    auto p = Registry::mayPublish(admin, facts(Kind::warning, {"typhoon"}));
    REQUIRE(p);
    CHECK(p->field == "permission.publish_kinds");
  }
}

TEST_CASE("registry: mayServe", "[registry]") {
  auto reg = parseOk(agency("sms", "outlet", testKey(1), "serve_outlets = [\"sms\"]\n") +
                     agency("admin", "admin", testKey(2), "serve_outlets = [\"*\"]\n") +
                     agency("met", "adapter", testKey(3)) + agency("dash", "outlet", testKey(4)) +
                     agency("sea", "adapter", testKey(5), "serve_outlets = [\"maritime-watch\"]\n"));
  CHECK(Registry::mayServe(*reg->byName("sms"), "sms"));
  CHECK_FALSE(Registry::mayServe(*reg->byName("sms"), "dashboard"));
  CHECK(Registry::mayServe(*reg->byName("admin"), "dashboard"));
  CHECK_FALSE(Registry::mayServe(*reg->byName("met"), "sms"));
  CHECK_FALSE(Registry::mayServe(*reg->byName("dash"), "dashboard"));  // no serve_outlets: none
  CHECK(Registry::mayServe(*reg->byName("sea"), "maritime-watch"));     // an adapter reading warnings
  CHECK_FALSE(Registry::mayServe(*reg->byName("sea"), "sms"));
}
