// Key pairs and key files: generation, write/read round trip, file modes, overwrite refusal, and the
// "path:line: reason" errors for missing files, unknown keys and bad key text.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client/keys.h"

using namespace alertbus;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/alertbus-keys-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

unsigned modeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("keys: generated pairs are Z85 and distinct", "[keys]") {
  KeyPair a = generateKeyPair();
  KeyPair b = generateKeyPair();
  CHECK(isZ85Key(a.publicKey));
  CHECK(isZ85Key(a.secretKey));
  CHECK(a.publicKey != b.publicKey);
  CHECK(a.secretKey != a.publicKey);
}

TEST_CASE("keys: isZ85Key", "[keys]") {
  CHECK(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
  CHECK_FALSE(isZ85Key(""));
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));    // 39
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf77"));  // 41
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""));  // '"' is not Z85
  CHECK_FALSE(isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y f"));   // space
  CHECK_FALSE(isZ85Key("#####################################;##"));  // ';' is not Z85
  CHECK_FALSE(isZ85Key("########################################"));  // in the alphabet, but > 2^32 per group
}

TEST_CASE("keys: write then read round-trips, 0600 secret file, public-only .pub", "[keys]") {
  TempDir dir;
  KeyPair pair = generateKeyPair();
  ::umask(0);  // the secret file must be 0600 whatever the umask
  writeKeyFiles(dir.path, "met", pair, false);
  ::umask(022);

  CHECK(modeOf(dir.path + "/met.key") == 0600);
  CHECK(modeOf(dir.path + "/met.pub") == 0644);
  CHECK_FALSE(std::filesystem::exists(dir.path + "/met.key.new"));

  KeyPair both = readKeyFile(dir.path + "/met.key", true);
  CHECK(both.publicKey == pair.publicKey);
  CHECK(both.secretKey == pair.secretKey);

  KeyPair pub = readKeyFile(dir.path + "/met.pub", false);
  CHECK(pub.publicKey == pair.publicKey);
  CHECK(pub.secretKey.empty());
  CHECK_THAT(errorOf([&] { readKeyFile(dir.path + "/met.pub", true); }), Catch::Contains("missing key 'secret'"));
}

TEST_CASE("keys: existing files are not overwritten unless asked", "[keys]") {
  TempDir dir;
  KeyPair first = generateKeyPair();
  KeyPair second = generateKeyPair();
  writeKeyFiles(dir.path, "fire", first, false);

  std::string err = errorOf([&] { writeKeyFiles(dir.path, "fire", second, false); });
  CHECK_THAT(err, Catch::Contains(dir.path + "/fire.key") && Catch::Contains("already exists"));
  CHECK(readKeyFile(dir.path + "/fire.key", true).secretKey == first.secretKey);

  // Only the .pub left behind still blocks: a half-present pair is not silently completed.
  std::filesystem::remove(dir.path + "/fire.key");
  CHECK_THAT(errorOf([&] { writeKeyFiles(dir.path, "fire", second, false); }), Catch::Contains("fire.pub"));

  writeKeyFiles(dir.path, "fire", second, true);
  CHECK(readKeyFile(dir.path + "/fire.key", true).secretKey == second.secretKey);
  CHECK(modeOf(dir.path + "/fire.key") == 0600);
}

TEST_CASE("keys: writeKeyFiles refuses bad names and keys, and a missing directory", "[keys]") {
  TempDir dir;
  KeyPair pair = generateKeyPair();
  CHECK_THAT(errorOf([&] { writeKeyFiles(dir.path, "../evil", pair, false); }), Catch::Contains("plain file name"));
  CHECK_THAT(errorOf([&] { writeKeyFiles(dir.path, "", pair, false); }), Catch::Contains("plain file name"));
  KeyPair bad = pair;
  bad.secretKey = "nope";
  CHECK_THAT(errorOf([&] { writeKeyFiles(dir.path, "x", bad, false); }), Catch::Contains("secret key"));
  CHECK_THAT(errorOf([&] { writeKeyFiles(dir.path + "/no/such/dir", "x", pair, false); }),
             Catch::Contains("no/such/dir/x.key"));
}

TEST_CASE("keys: readKeyFile errors name the file and the line", "[keys]") {
  TempDir dir;
  KeyPair pair = generateKeyPair();

  SECTION("missing file") {
    CHECK_THAT(errorOf([&] { readKeyFile(dir.path + "/absent.key", true); }),
               Catch::StartsWith(dir.path + "/absent.key: ") && Catch::Contains("No such file"));
  }
  SECTION("unknown key") {
    auto p = dir.write("u.key", "public = \"" + pair.publicKey + "\"\nsecret = \"" + pair.secretKey +
                                    "\"\npassword = \"hunter2\"\n");
    CHECK_THAT(errorOf([&] { readKeyFile(p, true); }), Catch::StartsWith(p + ":3: unknown key 'password'"));
  }
  SECTION("bad key text") {
    auto p = dir.write("b.key", "# comment\npublic = \"" + pair.publicKey + "\"\nsecret = \"too short\"\n");
    CHECK_THAT(errorOf([&] { readKeyFile(p, true); }), Catch::StartsWith(p + ":3: secret key is 9 characters"));
  }
  SECTION("not a string") {
    auto p = dir.write("n.key", "public = 42\n");
    CHECK_THAT(errorOf([&] { readKeyFile(p, false); }), Catch::StartsWith(p + ":1: public: expected a string"));
  }
  SECTION("TOML syntax error") {
    auto p = dir.write("s.key", "public = \"" + pair.publicKey + "\"\nsecret = \n");
    CHECK_THAT(errorOf([&] { readKeyFile(p, true); }), Catch::StartsWith(p + ":2: "));
  }
  SECTION("missing public key") {
    auto p = dir.write("m.key", "secret = \"" + pair.secretKey + "\"\n");
    CHECK_THAT(errorOf([&] { readKeyFile(p, true); }), Catch::Contains("missing key 'public'"));
  }
  SECTION("secret that does not belong to the public key") {
    KeyPair other = generateKeyPair();
    auto p = dir.write("x.key", "public = \"" + pair.publicKey + "\"\nsecret = \"" + other.secretKey + "\"\n");
    CHECK_THAT(errorOf([&] { readKeyFile(p, true); }), Catch::Contains("does not belong"));
  }
}
