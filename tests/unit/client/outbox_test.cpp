// Outbox implementations: order, removal, limits, and for SqliteOutbox persistence of entries and of the
// token counter, batching, exclusive ownership and refusal of files that are not outboxes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "client/client.h"
#include "client/outbox.h"

using namespace alertbus;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/alertbus-outbox-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

kj::ArrayPtr<const kj::byte> bytes(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::vector<std::pair<uint64_t, std::string>> all(Outbox& o, uint64_t after = 0, size_t max = 1000) {
  std::vector<std::pair<uint64_t, std::string>> v;
  o.forEachAfter(after, max, [&](uint64_t t, kj::ArrayPtr<const kj::byte> b) {
    v.emplace_back(t, std::string(reinterpret_cast<const char*>(b.begin()), b.size()));
    return true;
  });
  return v;
}

using Entries = std::vector<std::pair<uint64_t, std::string>>;

}  // namespace

TEST_CASE("outbox: both implementations keep entries in token order", "[outbox]") {
  TempDir dir;
  std::unique_ptr<Outbox> o;
  SECTION("memory") { o = std::make_unique<MemoryOutbox>(100); }
  SECTION("sqlite") { o = std::make_unique<SqliteOutbox>(dir.path + "/o.db", 100); }
  SECTION("sqlite, batch of 2 (commits inside append)") {
    o = std::make_unique<SqliteOutbox>(dir.path + "/o.db", 100, true, 2);
  }

  CHECK(o->append(bytes("a")) == 1);
  CHECK(o->append(bytes("b")) == 2);
  CHECK(o->append(bytes("c")) == 3);
  o->commit();
  CHECK(o->append(bytes("d")) == 4);
  CHECK(o->size() == 4);
  CHECK(all(*o) == Entries{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}});
  CHECK(all(*o, 2) == Entries{{3, "c"}, {4, "d"}});
  CHECK(all(*o, 0, 2) == Entries{{1, "a"}, {2, "b"}});

  CHECK(o->remove(1));
  CHECK(o->remove(3));  // out of order (a final reject in the middle)
  CHECK_FALSE(o->remove(3));
  CHECK_FALSE(o->remove(99));
  CHECK(o->size() == 2);
  CHECK(all(*o) == Entries{{2, "b"}, {4, "d"}});
  o->commit();
  CHECK(o->uncommitted() == 0);
  CHECK(all(*o) == Entries{{2, "b"}, {4, "d"}});

  // The visitor can stop the walk.
  size_t visited = o->forEachAfter(0, 10, [](uint64_t, kj::ArrayPtr<const kj::byte>) { return false; });
  CHECK(visited == 1);
}

TEST_CASE("outbox: the limit is enforced with OutboxFull", "[outbox]") {
  TempDir dir;
  std::unique_ptr<Outbox> o;
  SECTION("memory") { o = std::make_unique<MemoryOutbox>(2); }
  SECTION("sqlite") { o = std::make_unique<SqliteOutbox>(dir.path + "/o.db", 2); }
  o->append(bytes("a"));
  o->append(bytes("b"));
  CHECK_THROWS_AS(o->append(bytes("c")), OutboxFull);
  o->remove(1);
  CHECK(o->append(bytes("c")) == 3);
}

TEST_CASE("outbox: MemoryOutbox stays bounded when the front entry lives long", "[outbox]") {
  MemoryOutbox o(1000000);
  uint64_t stuck = o.append(bytes("stuck"));
  for (int i = 0; i < 10000; ++i) o.remove(o.append(bytes("x")));
  CHECK(o.size() == 1);
  CHECK(all(o) == Entries{{stuck, "stuck"}});
}

TEST_CASE("outbox: SqliteOutbox reopens with pending entries and continues the numbering", "[outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/o.db";
  {
    SqliteOutbox o(path, 100);
    o.append(bytes("one"));
    o.append(bytes("two"));
    o.append(bytes("three"));
    o.commit();
    o.remove(2);
    o.append(bytes("four"));
  }  // destructor commits the rest
  {
    SqliteOutbox o(path, 100);
    CHECK(o.size() == 3);
    CHECK(all(o) == Entries{{1, "one"}, {3, "three"}, {4, "four"}});
    o.remove(1);
    o.remove(3);
    o.remove(4);
    o.commit();
    CHECK(o.size() == 0);
  }
  {
    SqliteOutbox o(path, 100);
    CHECK(o.size() == 0);
    CHECK(o.append(bytes("five")) == 5);  // not 1: the counter is persisted, not derived from rows
  }
}

TEST_CASE("outbox: SqliteOutbox refuses a second owner and files that are not outboxes", "[outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/o.db";
  SECTION("second owner") {
    SqliteOutbox first(path, 100);
    first.append(bytes("x"));
    first.commit();
    try {
      SqliteOutbox second(path, 100);
      FAIL("second owner was accepted");
    } catch (const std::runtime_error& e) {
      CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("in use"));
    }
  }
  SECTION("not a database") {
    std::ofstream(path) << "this is not a database, it is a text file with enough bytes to look like a header"
                        << std::string(200, 'x');
    try {
      SqliteOutbox o(path, 100);
      FAIL("text file accepted");
    } catch (const std::runtime_error& e) {
      CHECK_THAT(e.what(), Catch::Contains(path));
    }
  }
  SECTION("directory that does not exist") {
    CHECK_THROWS_WITH(SqliteOutbox(dir.path + "/missing/o.db", 100), Catch::Contains("missing/o.db"));
  }
}
