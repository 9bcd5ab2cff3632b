// SeenStore (adapters/common/seen_store.h) on real SQLite files: verdicts, persistence across reopen,
// the adapter state blob, pruning; and the runtime's expiry rule.
#include "adapters/common/seen_store.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "adapters/common/runtime.h"

using namespace alertbus;
using namespace alertbus::adapter;
namespace fs = std::filesystem;

namespace {
struct Tmp {
  fs::path path;
  Tmp() {
    char tmpl[] = "/tmp/alertbus-seen-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Tmp() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("seen store: fresh, duplicate and changed content, remembered across reopen", "[seen]") {
  Tmp t;
  std::string file = (t.path / "seen.sqlite").string();
  {
    SeenStore s(file);
    CHECK(s.check("a", 1) == SeenStore::Verdict::fresh);
    s.remember("a", 1, 1000);
    CHECK(s.check("a", 1) == SeenStore::Verdict::duplicate);
    CHECK(s.check("a", 2) == SeenStore::Verdict::changed);
    s.saveState("{\"x\":1}");
    s.commit();
  }
  SeenStore s(file);
  CHECK(s.check("a", 1) == SeenStore::Verdict::duplicate);
  CHECK(s.loadState() == "{\"x\":1}");
  s.remember("b", 3, 5000);
  CHECK(s.prune(2000) == 1);  // "a" was first seen at 1000
  CHECK(s.check("a", 1) == SeenStore::Verdict::fresh);
  CHECK(s.size() == 1);
}

TEST_CASE("seen store: uncommitted records are not durable", "[seen]") {
  Tmp t;
  std::string file = (t.path / "seen.sqlite").string();
  {
    SeenStore s(file);
    s.remember("a", 1, 1000);
    s.commit();
    s.remember("b", 1, 1000);  // the destructor commits what a clean shutdown leaves open ...
  }
  SeenStore s(file);
  CHECK(s.check("b", 1) == SeenStore::Verdict::duplicate);
}

TEST_CASE("seen store: a file that is not an adapter state file is refused with its name", "[seen]") {
  Tmp t;
  std::string file = (t.path / "junk").string();
  std::ofstream(file) << std::string(4096, 'j');
  CHECK_THROWS_WITH(SeenStore(file), Catch::Contains(file));
}

TEST_CASE("content hash is stable FNV-1a", "[seen]") {
  CHECK(contentHash("") == 14695981039346656037ULL);
  CHECK(contentHash("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(contentHash("a") != contentHash("b"));
}

TEST_CASE("expiry: a warning is expired only when every info has expired", "[expiry]") {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  auto infos = m.getPayload().initWarning(2);
  infos[0].setExpiresMs(1000);
  infos[1].setExpiresMs(3000);
  CHECK_FALSE(isExpired(m, 2000));
  CHECK(isExpired(m, 3000));
  infos[1].setExpiresMs(0);  // no expiry: never expired
  CHECK_FALSE(isExpired(m, 99999));
  m.getPayload().initObservation();
  CHECK_FALSE(isExpired(m, 99999));
  m.getPayload().initWarning(0);  // a cancel without info
  CHECK_FALSE(isExpired(m, 99999));
}
