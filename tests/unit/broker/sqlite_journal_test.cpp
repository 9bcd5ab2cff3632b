// SqliteJournal against real SQLite files, one fresh temp directory per test: the Journal contract
// (seqs, dedup, batches, scan, outlet state, config versions, reopen) and its failure paths (kill -9
// mid-stream, disk full injected through a wrapping VFS, newer schema, garbage file).
#include "broker/sqlite_journal.h"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using alertbus::AppendResult;
using alertbus::JournalEntry;
using alertbus::JournalError;
using alertbus::OutletState;
using alertbus::SqliteJournal;
using alertbus::SqliteJournalOptions;
using alertbus::StoredMessage;

namespace {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/alertbus-journal-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) FAIL("mkdtemp: " << strerror(errno));
    path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

SqliteJournalOptions optionsFor(const std::string& path) {
  SqliteJournalOptions o;
  o.path = path;
  o.sync = SqliteJournalOptions::Sync::Full;
  return o;
}

// Owns the bytes a JournalEntry points to.
struct Msg {
  std::string sender, id, dests, body, origin;
  int64_t receivedMs = 1000;
  uint8_t kind = 2;
  bool urgent = false;
  JournalEntry entry() const {
    JournalEntry e;
    e.sender = sender;
    e.id = id;
    e.receivedMs = receivedMs;
    e.kind = kind;
    e.urgent = urgent;
    e.destinations = dests;
    e.origin = origin;
    e.body = kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(body.data()), body.size());
    return e;
  }
};

// Deterministic body of `size` bytes for message `n`, so a reader can check it byte for byte.
std::string bodyFor(uint64_t n, size_t size) {
  std::string b(size, '\0');
  uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = char(x & 0xff);
  }
  return b;
}

Msg msg(const std::string& sender, const std::string& id, std::string body = "") {
  Msg m;
  m.sender = sender;
  m.id = id;
  m.body = body.empty() ? bodyFor(std::hash<std::string>()(sender + "/" + id), 300) : std::move(body);
  m.dests = "dashboard:city-desk\nsms:flood-duty";
  return m;
}

AppendResult appendOne(SqliteJournal& j, const Msg& m) {
  j.begin();
  AppendResult r = j.append(m.entry());
  j.commit();
  j.flush();
  return r;
}

std::string bytesOf(const StoredMessage& m) {
  auto b = m.bodyBytes();
  return std::string(reinterpret_cast<const char*>(b.begin()), b.size());
}

std::vector<StoredMessage> scanAll(SqliteJournal& j, uint64_t afterSeq = 0, size_t limit = SIZE_MAX) {
  std::vector<StoredMessage> out;
  j.scan(afterSeq, limit, [&](StoredMessage& m) {
    StoredMessage copy;
    copy.seq = m.seq;
    copy.sender = m.sender;
    copy.id = m.id;
    copy.receivedMs = m.receivedMs;
    copy.kind = m.kind;
    copy.urgent = m.urgent;
    copy.destinations = m.destinations;
    copy.body = kj::heapArray<capnp::word>(m.body.asPtr());
    copy.bodySizeBytes = m.bodySizeBytes;
    out.push_back(std::move(copy));
    return true;
  });
  return out;
}

// A VFS that delegates to the default one, counts syncs, and fails writes with SQLITE_FULL while
// `failWrites` is set: disk full on demand; syncs of a main database file (not its WAL) are counted
// apart and fail with SQLITE_IOERR_FSYNC while `failDbSyncs` is set. Registered once per process
// (SQLite's VFS list is global).
struct FaultVfs {
  static std::atomic<bool> failWrites;
  static std::atomic<bool> failDbSyncs;
  static std::atomic<int> syncs;
  static std::atomic<int> dbSyncs;
  static sqlite3_vfs* base;
  static sqlite3_vfs vfs;
  static sqlite3_io_methods methods;
  static constexpr const char* kName = "alertbus-fault";

  struct File {
    sqlite3_file base;
    sqlite3_file* real;  // allocated right after this struct (szOsFile covers both)
    bool mainDb;         // opened as SQLITE_OPEN_MAIN_DB
  };
  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static void registerOnce() {
    static bool done = [] {
      base = sqlite3_vfs_find(nullptr);
      vfs = *base;
      vfs.zName = kName;
      vfs.szOsFile = int(sizeof(File)) + base->szOsFile;
      vfs.pNext = nullptr;
      vfs.xOpen = &xOpen;
      methods.iVersion = 3;
      methods.xClose = [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); };
      methods.xRead = [](sqlite3_file* f, void* p, int n, sqlite3_int64 o) {
        return real(f)->pMethods->xRead(real(f), p, n, o);
      };
      methods.xWrite = [](sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
        if (failWrites) return SQLITE_FULL;
        return real(f)->pMethods->xWrite(real(f), p, n, o);
      };
      methods.xTruncate = [](sqlite3_file* f, sqlite3_int64 n) { return real(f)->pMethods->xTruncate(real(f), n); };
      methods.xSync = [](sqlite3_file* f, int flags) {
        ++syncs;
        if (reinterpret_cast<File*>(f)->mainDb) {
          ++dbSyncs;
          if (failDbSyncs) return SQLITE_IOERR_FSYNC;
        }
        return real(f)->pMethods->xSync(real(f), flags);
      };
      methods.xFileSize = [](sqlite3_file* f, sqlite3_int64* n) { return real(f)->pMethods->xFileSize(real(f), n); };
      methods.xLock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); };
      methods.xUnlock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); };
      methods.xCheckReservedLock = [](sqlite3_file* f, int* r) {
        return real(f)->pMethods->xCheckReservedLock(real(f), r);
      };
      methods.xFileControl = [](sqlite3_file* f, int op, void* a) {
        return real(f)->pMethods->xFileControl(real(f), op, a);
      };
      methods.xSectorSize = [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); };
      methods.xDeviceCharacteristics = [](sqlite3_file* f) {
        return real(f)->pMethods->xDeviceCharacteristics(real(f));
      };
      methods.xShmMap = [](sqlite3_file* f, int i, int sz, int ext, void volatile** pp) {
        return real(f)->pMethods->xShmMap(real(f), i, sz, ext, pp);
      };
      methods.xShmLock = [](sqlite3_file* f, int o, int n, int fl) {
        return real(f)->pMethods->xShmLock(real(f), o, n, fl);
      };
      methods.xShmBarrier = [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); };
      methods.xShmUnmap = [](sqlite3_file* f, int d) { return real(f)->pMethods->xShmUnmap(real(f), d); };
      methods.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** pp) {
        return real(f)->pMethods->xFetch(real(f), o, n, pp);
      };
      methods.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
        return real(f)->pMethods->xUnfetch(real(f), o, p);
      };
      return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
    }();
    REQUIRE(done);
  }

  static int xOpen(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* outFlags) {
    auto* file = reinterpret_cast<File*>(f);
    file->real = reinterpret_cast<sqlite3_file*>(file + 1);
    file->mainDb = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    int rc = base->xOpen(base, name, file->real, flags, outFlags);
    f->pMethods = file->real->pMethods != nullptr ? &methods : nullptr;
    return rc;
  }
};
std::atomic<bool> FaultVfs::failWrites{false};
std::atomic<bool> FaultVfs::failDbSyncs{false};
std::atomic<int> FaultVfs::syncs{0};
std::atomic<int> FaultVfs::dbSyncs{0};
sqlite3_vfs* FaultVfs::base = nullptr;
sqlite3_vfs FaultVfs::vfs;
sqlite3_io_methods FaultVfs::methods;

// Clears the fault flag however a test ends, so one failure cannot poison the next test.
struct FaultGuard {
  ~FaultGuard() {
    FaultVfs::failWrites = false;
    FaultVfs::failDbSyncs = false;
  }
};

}  // namespace

TEST_CASE("sqlite journal: appends get contiguous ascending seqs and round-trip every field", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  CHECK(j.lastSeq() == 0);
  CHECK(j.count() == 0);

  Msg a = msg("met", "urn:met:1");
  a.urgent = true;
  a.kind = 7;
  a.receivedMs = 1700000000123;
  Msg b = msg("water", "gauge-42", bodyFor(9, 301));  // not a multiple of 8: padding must be zero
  Msg c = msg("fire", "f-1", "");
  c.dests = "";
  j.begin();
  CHECK(j.append(a.entry()).seq == 1);
  CHECK(j.append(b.entry()).seq == 2);
  AppendResult rc = j.append(c.entry());
  CHECK(rc.seq == 3);
  CHECK_FALSE(rc.duplicate);
  j.commit();
  j.flush();
  CHECK(j.lastSeq() == 3);
  CHECK(j.count() == 3);

  auto all = scanAll(j);
  REQUIRE(all.size() == 3);
  CHECK(all[0].seq == 1);
  CHECK(all[0].sender == "met");
  CHECK(all[0].id == "urn:met:1");
  CHECK(all[0].urgent);
  CHECK(all[0].kind == 7);
  CHECK(all[0].receivedMs == 1700000000123);
  CHECK(all[0].destinations == "dashboard:city-desk\nsms:flood-duty");
  CHECK(bytesOf(all[0]) == a.body);
  CHECK(all[1].seq == 2);
  CHECK(bytesOf(all[1]) == b.body);
  CHECK(all[1].bodySizeBytes == 301);
  CHECK(all[2].destinations.empty());
  CHECK(all[2].bodySizeBytes == c.body.size());

  StoredMessage found;
  REQUIRE(j.find("water", "gauge-42", found));
  CHECK(found.seq == 2);
  CHECK(bytesOf(found) == b.body);
  CHECK(reinterpret_cast<uintptr_t>(found.body.begin()) % 8 == 0);
  auto padding = found.body.asBytes().slice(found.bodySizeBytes, found.body.size() * 8);
  for (auto byte : padding) CHECK(byte == 0);
  CHECK_FALSE(j.find("water", "no-such-id", found));
}

TEST_CASE("sqlite journal: a duplicate (sender, id) returns the original seq and writes nothing", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  Msg original = msg("met", "urn:met:1", "original body");
  REQUIRE(appendOne(j, original).seq == 1);

  SECTION("in a later batch") {
    Msg retry = msg("met", "urn:met:1", "retried body, different bytes");
    AppendResult r = appendOne(j, retry);
    CHECK(r.duplicate);
    CHECK(r.seq == 1);
  }
  SECTION("twice in the same batch, between other appends") {
    j.begin();
    CHECK(j.append(msg("met", "urn:met:2").entry()).seq == 2);
    AppendResult r = j.append(msg("met", "urn:met:1", "again").entry());
    CHECK(r.duplicate);
    CHECK(r.seq == 1);
    AppendResult r2 = j.append(msg("met", "urn:met:2", "again").entry());
    CHECK(r2.duplicate);
    CHECK(r2.seq == 2);
    j.commit();
  }
  uint64_t last = j.lastSeq();
  uint64_t count = j.count();
  StoredMessage m;
  REQUIRE(j.find("met", "urn:met:1", m));
  CHECK(bytesOf(m) == "original body");
  // No gap: the next new message gets lastSeq + 1.
  CHECK(appendOne(j, msg("met", "urn:met:new")).seq == last + 1);
  CHECK(j.count() == count + 1);
  CHECK(scanAll(j).size() == count + 1);
}

TEST_CASE("sqlite journal: the same id from two senders is two messages", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  j.begin();
  AppendResult a = j.append(msg("met", "2024-001").entry());
  AppendResult b = j.append(msg("water", "2024-001").entry());
  j.commit();
  CHECK_FALSE(a.duplicate);
  CHECK_FALSE(b.duplicate);
  CHECK(a.seq == 1);
  CHECK(b.seq == 2);
  StoredMessage m;
  REQUIRE(j.find("water", "2024-001", m));
  CHECK(m.seq == 2);
  CHECK(j.count() == 2);
}

TEST_CASE("sqlite journal: rollback discards the batch and its seqs", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  appendOne(j, msg("met", "kept"));
  j.begin();
  CHECK(j.append(msg("met", "gone-1").entry()).seq == 2);
  CHECK(j.append(msg("met", "gone-2").entry()).seq == 3);
  j.saveOutletState(OutletState{"sms", 3, {}});
  CHECK(j.lastSeq() == 3);
  j.rollback();
  CHECK(j.lastSeq() == 1);
  CHECK(j.count() == 1);
  StoredMessage m;
  CHECK_FALSE(j.find("met", "gone-1", m));
  CHECK(j.loadOutletStates().empty());
  j.rollback();  // no batch open: no-op
  // The rolled-back seqs are handed out again: they were never acknowledged to anyone.
  CHECK(appendOne(j, msg("met", "gone-1")).seq == 2);
  CHECK(scanAll(j).size() == 2);
}

TEST_CASE("sqlite journal: misuse of the batch protocol is a logic error", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  CHECK_THROWS_AS(j.append(msg("met", "x").entry()), std::logic_error);
  CHECK_THROWS_AS(j.commit(), std::logic_error);
  CHECK_THROWS_AS(j.saveOutletState(OutletState{"sms", 1, {}}), std::logic_error);
  j.begin();
  CHECK_THROWS_AS(j.begin(), std::logic_error);
  CHECK_THROWS_AS(j.putConfig("rules", "x", 1), std::logic_error);
  j.commit();
  CHECK(appendOne(j, msg("met", "x")).seq == 1);
}

TEST_CASE("sqlite journal: scan orders by seq, honours afterSeq and limit, stops early", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  // Sizes vary, large before small, so a reused body buffer must not leak an earlier row's bytes.
  std::vector<Msg> msgs;
  for (int i = 1; i <= 10; ++i) msgs.push_back(msg("met", "m" + std::to_string(i), bodyFor(i, i % 2 ? 5000 : 17)));
  j.begin();
  for (auto& m : msgs) j.append(m.entry());
  j.commit();

  SECTION("all, in order, bodies intact, one reused StoredMessage") {
    std::vector<uint64_t> seqs;
    const StoredMessage* first = nullptr;
    bool sameObject = true;
    size_t n = j.scan(0, 100, [&](StoredMessage& m) {
      if (first == nullptr) first = &m;
      sameObject = sameObject && first == &m;
      seqs.push_back(m.seq);
      CHECK(bytesOf(m) == msgs[m.seq - 1].body);
      CHECK(reinterpret_cast<uintptr_t>(m.body.begin()) % 8 == 0);
      auto slack = m.body.asBytes().slice(m.bodySizeBytes, m.body.size() * 8);
      for (auto byte : slack) REQUIRE(byte == 0);
      return true;
    });
    CHECK(n == 10);
    CHECK(sameObject);
    CHECK(seqs == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  }
  SECTION("limit") {
    auto got = scanAll(j, 0, 3);
    REQUIRE(got.size() == 3);
    CHECK(got.back().seq == 3);
    CHECK(j.scan(0, 0, [](StoredMessage&) { return true; }) == 0);
  }
  SECTION("afterSeq") {
    auto got = scanAll(j, 7);
    REQUIRE(got.size() == 3);
    CHECK(got.front().seq == 8);
    CHECK(scanAll(j, 10).empty());
    CHECK(scanAll(j, UINT64_MAX).empty());
  }
  SECTION("early stop counts the row that stopped it") {
    std::vector<uint64_t> seqs;
    size_t n = j.scan(2, 100, [&](StoredMessage& m) {
      seqs.push_back(m.seq);
      return m.seq < 5;
    });
    CHECK(n == 3);
    CHECK(seqs == std::vector<uint64_t>{3, 4, 5});
  }
  SECTION("appends of an open batch are visible; a nested scan works") {
    j.begin();
    Msg extra = msg("met", "m11");
    j.append(extra.entry());
    size_t inner = 0;
    j.scan(0, 2, [&](StoredMessage&) {
      inner += j.scan(9, 100, [](StoredMessage&) { return true; });
      return true;
    });
    CHECK(inner == 4);
    j.commit();
  }
}

TEST_CASE("sqlite journal: outlet state round-trips, including ackedAbove", "[journal]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  {
    SqliteJournal j(optionsFor(path));
    j.begin();
    j.saveOutletState(OutletState{"sms", 10, {12, 15, (uint64_t(1) << 40) + 3}});
    j.saveOutletState(OutletState{"dashboard", 4, {}});
    j.commit();
    j.begin();
    j.saveOutletState(OutletState{"dashboard", 9, {11}});  // overwrites
    j.commit();
    j.flush();
    auto states = j.loadOutletStates();
    REQUIRE(states.size() == 2);
    CHECK(states[0].outlet == "dashboard");
    CHECK(states[0].cursor == 9);
    CHECK(states[0].ackedAbove == std::vector<uint64_t>{11});
  }
  SqliteJournal j(optionsFor(path));
  auto states = j.loadOutletStates();
  REQUIRE(states.size() == 2);
  CHECK(states[1].outlet == "sms");
  CHECK(states[1].cursor == 10);
  CHECK(states[1].ackedAbove == std::vector<uint64_t>{12, 15, (uint64_t(1) << 40) + 3});
}

TEST_CASE("sqlite journal: config versions bump only when the text changes", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  int64_t v = -1;
  CHECK(j.getConfig("rules", &v).empty());
  CHECK(v == 0);
  CHECK(j.putConfig("rules", "[[rule]]\nname = \"a\"\n", 1000) == 1);
  CHECK(j.putConfig("rules", "[[rule]]\nname = \"a\"\n", 2000) == 1);
  CHECK(j.putConfig("rules", "[[rule]]\nname = \"b\"\n", 3000) == 2);
  CHECK(j.putConfig("agencies", "[met]\n", 3000) == 1);
  CHECK(j.putConfig("rules", "[[rule]]\nname = \"a\"\n", 4000) == 3);  // going back is a new version
  CHECK(j.getConfig("rules", &v) == "[[rule]]\nname = \"a\"\n");
  CHECK(v == 3);
  CHECK(j.getConfig("agencies") == "[met]\n");
  // Config and message batches interleave without disturbing seqs.
  CHECK(appendOne(j, msg("met", "x")).seq == 1);
  CHECK(j.putConfig("rules", "", 5000) == 4);
  CHECK(j.getConfig("rules", &v).empty());
  CHECK(v == 4);
}

TEST_CASE("sqlite journal: reopening keeps messages, lastSeq, count, outlets and config", "[journal]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  {
    SqliteJournal j(optionsFor(path));
    for (int b = 0; b < 10; ++b) {
      j.begin();
      for (int i = 0; i < 10; ++i) j.append(msg("met", "m" + std::to_string(b * 10 + i)).entry());
      j.commit();
      j.flush();
    }
    j.begin();
    j.saveOutletState(OutletState{"sms", 50, {52}});
    j.commit();
    j.putConfig("rules", "r1", 1);
    j.begin();
    j.append(msg("met", "open-at-close").entry());  // destroyed with the batch open: rolled back
  }
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));  // a clean close checkpoints and removes the WAL
  SqliteJournal j(optionsFor(path));
  CHECK(j.lastSeq() == 100);
  CHECK(j.count() == 100);
  auto all = scanAll(j);
  REQUIRE(all.size() == 100);
  CHECK(all[41].id == "m41");
  CHECK(bytesOf(all[41]) == msg("met", "m41").body);
  StoredMessage m;
  CHECK_FALSE(j.find("met", "open-at-close", m));
  CHECK(j.loadOutletStates().at(0).ackedAbove == std::vector<uint64_t>{52});
  CHECK(j.getConfig("rules") == "r1");
  CHECK(appendOne(j, msg("met", "after-reopen")).seq == 101);
  CHECK(appendOne(j, msg("met", "m7")).duplicate);
}

namespace {

int64_t queryInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

void execSql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

// Appends ids "k0".."k<n-1>" from alternating senders in batches of 500.
void appendKeys(SqliteJournal& j, int from, int to) {
  for (int i = from; i < to;) {
    j.begin();
    for (int k = 0; k < 500 && i < to; ++k, ++i) j.append(msg(i % 2 ? "met" : "water", "k" + std::to_string(i)).entry());
    j.commit();
  }
  j.flush();
}

// Every id "k<i>" for i < n is a duplicate of seq i + 1, and find() returns its row.
void checkAllDuplicates(SqliteJournal& j, int n) {
  j.begin();
  int wrong = 0;
  for (int i = 0; i < n; ++i) {
    AppendResult r = j.append(msg(i % 2 ? "met" : "water", "k" + std::to_string(i)).entry());
    if (!r.duplicate || r.seq != uint64_t(i) + 1) ++wrong;
  }
  j.rollback();
  CHECK(wrong == 0);
  StoredMessage m;
  for (int i : {0, 4095, 4096, 8191, 8192, n - 1}) {
    if (i >= n) continue;
    INFO("k" << i);
    REQUIRE(j.find(i % 2 ? "met" : "water", "k" + std::to_string(i), m));
    CHECK(m.seq == uint64_t(i) + 1);
    CHECK(bytesOf(m) == msg(i % 2 ? "met" : "water", "k" + std::to_string(i)).body);
  }
  CHECK_FALSE(j.find("met", "k0", m));  // k0 came from water
}

}  // namespace

TEST_CASE("sqlite journal: dedup survives reopen, from persisted key chunks and the newest rows", "[journal]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  const int n = 10000;  // two full chunks of 4096 keys and 1808 re-derived from rows at open
  {
    SqliteJournal j(optionsFor(path));
    appendKeys(j, 0, n);
    checkAllDuplicates(j, n);
  }
  CHECK(queryInt(path, "SELECT count(*) FROM message_keys") == 2);
  SqliteJournal j(optionsFor(path));
  CHECK(j.lastSeq() == uint64_t(n));
  checkAllDuplicates(j, n);
  CHECK(j.dedupIndexBytes() < 64 * uint64_t(n));
  CHECK(appendOne(j, msg("met", "new")).seq == uint64_t(n) + 1);
}

TEST_CASE("sqlite journal: rolling back a large batch forgets exactly its keys", "[journal]") {
  TempDir dir;
  SqliteJournal j(optionsFor(dir.file("j.db")));
  appendKeys(j, 0, 3000);
  j.begin();
  for (int i = 3000; i < 9000; ++i) j.append(msg(i % 2 ? "met" : "water", "k" + std::to_string(i)).entry());
  j.rollback();  // 6000 keys, crossing a chunk boundary that was never committed
  CHECK(j.lastSeq() == 3000);
  checkAllDuplicates(j, 3000);
  j.begin();
  CHECK_FALSE(j.append(msg("water", "k3000").entry()).duplicate);
  CHECK_FALSE(j.append(msg("met", "k8999").entry()).duplicate);
  j.commit();
  CHECK(j.lastSeq() == 3002);
}

TEST_CASE("sqlite journal: key chunks that do not match the messages are rebuilt at open", "[journal]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  const int n = 9000;
  {
    SqliteJournal j(optionsFor(path));
    appendKeys(j, 0, n);
  }
  SECTION("a chunk missing") { execSql(path, "DELETE FROM message_keys WHERE first_seq = 1"); }
  SECTION("a chunk truncated") { execSql(path, "UPDATE message_keys SET hashes = substr(hashes, 1, 100)"); }
  {
    SqliteJournal j(optionsFor(path));
    checkAllDuplicates(j, n);
    appendKeys(j, n, n + 1);  // the next commit persists the rebuilt chunks
  }
  CHECK(queryInt(path, "SELECT count(*) FROM message_keys") == 2);
  SqliteJournal j(optionsFor(path));
  checkAllDuplicates(j, n + 1);
}

TEST_CASE("sqlite journal: kill -9 mid-stream loses no flushed message", "[journal][crash]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: append batches as the broker does and report each seq once it is flushed. Small WAL and a
    // fast checkpointer so RESTART checkpoints happen while it is killed.
    close(fds[0]);
    try {
      SqliteJournalOptions o = optionsFor(path);
      o.checkpointIntervalMs = 5;
      o.walCheckpointPages = 64;
      SqliteJournal j(o);
      for (uint64_t n = 1;; ) {
        j.begin();
        for (int i = 0; i < 16; ++i, ++n) {
          Msg m = msg("met", "m" + std::to_string(n), bodyFor(n, 100 + n % 700));
          if (j.append(m.entry()).seq != n) _exit(3);
        }
        j.commit();
        j.flush();
        uint64_t acked = j.lastSeq();
        if (write(fds[1], &acked, sizeof acked) != sizeof acked) _exit(4);
      }
    } catch (...) {
      _exit(2);
    }
  }
  close(fds[1]);
  auto readAck = [&](int timeoutMs, uint64_t& acked) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, timeoutMs) <= 0) return false;
    return read(fds[0], &acked, sizeof acked) == sizeof acked;
  };
  uint64_t acked = 0;
  int reports = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reports < 400 && std::chrono::steady_clock::now() < deadline && readAck(10000, acked)) ++reports;
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  // Whatever is still in the pipe was flushed before the kill, too.
  uint64_t more = 0;
  while (readAck(0, more)) acked = more;
  close(fds[0]);
  REQUIRE(reports == 400);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  SqliteJournal j(optionsFor(path));
  INFO("acked " << acked << ", journal lastSeq " << j.lastSeq());
  CHECK(j.lastSeq() >= acked);
  uint64_t expect = 1;
  bool intact = true;
  j.scan(0, SIZE_MAX, [&](StoredMessage& m) {
    intact = intact && m.seq == expect && m.id == "m" + std::to_string(expect) &&
             bytesOf(m) == bodyFor(expect, 100 + expect % 700);
    ++expect;
    return intact;
  });
  CHECK(intact);
  CHECK(expect - 1 == j.lastSeq());
  uint64_t last = j.lastSeq();
  CHECK(appendOne(j, msg("met", "after-crash")).seq == last + 1);
}

TEST_CASE("sqlite journal: disk full is transient, rolls the batch back, and passes", "[journal][fault]") {
  FaultVfs::registerOnce();
  FaultGuard guard;
  TempDir dir;
  std::string path = dir.file("j.db");
  SqliteJournalOptions o = optionsFor(path);
  o.vfsName = FaultVfs::kName;
  o.checkpointIntervalMs = 3600 * 1000;  // keep the checkpointer out of this test's writes
  {
    SqliteJournal j(o);
    for (int i = 1; i <= 5; ++i) appendOne(j, msg("met", "ok" + std::to_string(i)));

    SECTION("at commit") {
      FaultVfs::failWrites = true;
      j.begin();
      CHECK(j.append(msg("met", "lost-1").entry()).seq == 6);
      j.append(msg("met", "lost-2").entry());
      j.saveOutletState(OutletState{"sms", 6, {}});
      try {
        j.commit();
        FAIL("commit succeeded on a full disk");
      } catch (const JournalError& e) {
        CHECK(e.transient());
        CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("commit") &&
                                 Catch::Contains("rolled back"));
      }
    }
    SECTION("at commit, when the batch completes a dedup key chunk") {
      FaultVfs::failWrites = true;
      j.begin();
      for (int i = 0; i < 5000; ++i) j.append(msg("water", "c" + std::to_string(i)).entry());
      CHECK_THROWS_AS(j.commit(), JournalError);
    }
    SECTION("at append, when a big batch spills to the WAL") {
      FaultVfs::failWrites = true;
      j.begin();
      std::string big(1 << 20, 'x');
      bool threw = false;
      for (int i = 0; i < 64 && !threw; ++i) {
        try {
          j.append(msg("met", "big" + std::to_string(i), big).entry());
        } catch (const JournalError& e) {
          threw = true;
          CHECK(e.transient());
          CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("append (met, big"));
        }
      }
      REQUIRE(threw);
      CHECK_THROWS_AS(j.commit(), std::logic_error);  // the batch is already gone
    }
    FaultVfs::failWrites = false;
    CHECK(j.lastSeq() == 5);
    CHECK(j.count() == 5);
    CHECK(scanAll(j).size() == 5);
    CHECK(j.loadOutletStates().empty());
    CHECK(appendOne(j, msg("met", "after")).seq == 6);
    CHECK(appendOne(j, msg("met", "lost-1")).seq == 7);
  }
  CHECK(queryInt(path, "SELECT count(*) FROM message_keys") == 0);
  SqliteJournal j(optionsFor(path));
  auto all = scanAll(j);
  REQUIRE(all.size() == 7);
  CHECK(appendOne(j, msg("met", "lost-1")).duplicate);
  CHECK_FALSE(appendOne(j, msg("water", "c1")).duplicate);
  CHECK(all[5].id == "after");
  CHECK(bytesOf(all[6]) == msg("met", "lost-1").body);
  CHECK(j.loadOutletStates().empty());
}

TEST_CASE("sqlite journal: commit never syncs, durability is flush()'s job", "[journal][fault]") {
  FaultVfs::registerOnce();
  TempDir dir;
  SqliteJournalOptions o = optionsFor(dir.file("j.db"));
  o.vfsName = FaultVfs::kName;
  o.checkpointIntervalMs = 3600 * 1000;
  SqliteJournal j(o);
  appendOne(j, msg("met", "first"));  // the first frame of a new WAL syncs its header (by design)
  int before = FaultVfs::syncs;
  for (int i = 0; i < 50; ++i) appendOne(j, msg("met", "m" + std::to_string(i)));
  CHECK(FaultVfs::syncs == before);
}

TEST_CASE("sqlite journal: the checkpointer keeps the WAL bounded under sustained writes", "[journal]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  SqliteJournalOptions o = optionsFor(path);
  o.checkpointIntervalMs = 10;
  o.walCheckpointPages = 256;  // 1 MiB
  SqliteJournal j(o);
  std::string body = bodyFor(1, 300);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  uint64_t maxWalBytes = 0;
  int n = 0;
  while (std::chrono::steady_clock::now() < until) {
    j.begin();
    for (int i = 0; i < 64; ++i, ++n) j.append(msg("met", "m" + std::to_string(n), body).entry());
    j.commit();
    j.flush();
    if (n % 6400 == 0) maxWalBytes = std::max<uint64_t>(maxWalBytes, std::filesystem::file_size(path + "-wal"));
  }
  auto st = j.stats();
  INFO("messages " << n << ", max WAL " << maxWalBytes << " bytes, restarts " << st.restartCheckpoints
                   << ", passive " << st.passiveCheckpoints << ", errors " << st.lastCheckpointError);
  CHECK(st.checkpointErrors == 0);
  CHECK(st.passiveCheckpoints > 0);
  CHECK(st.restartCheckpoints > 0);
  CHECK(maxWalBytes < 64u << 20);
  CHECK(j.count() == uint64_t(n));
}

// A journal file whose WAL a PASSIVE checkpoint can copy only in part, the way it finds the WAL under
// load: `reader` holds a snapshot taken after batch A, and batch B lies beyond it. SQLite syncs the
// database only after a checkpoint that reaches the end of the WAL, so after such a pass it does not.
struct PartlyCheckpointableWal {
  TempDir dir;
  std::string path = dir.file("j.db");
  sqlite3* reader = nullptr;
  PartlyCheckpointableWal() {
    SqliteJournalOptions o = optionsFor(path);
    o.checkpointIntervalMs = 3600 * 1000;
    SqliteJournal j(o);
    append(j, "a");
    REQUIRE(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages;", nullptr, nullptr, nullptr) == SQLITE_OK);
    append(j, "b");
  }  // not the last connection (reader): no checkpoint on close, the WAL keeps A and B
  ~PartlyCheckpointableWal() { releaseReader(); }
  void releaseReader() {
    if (reader == nullptr) return;
    sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(reader);
    reader = nullptr;
  }
  static void append(SqliteJournal& j, const std::string& prefix) {
    j.begin();
    for (int i = 0; i < 20; ++i) j.append(msg("met", prefix + std::to_string(i)).entry());
    j.commit();
    j.flush();
  }
  // Options for the journal under test: checkpoints every few ms, through the counting VFS.
  SqliteJournalOptions options() const {
    SqliteJournalOptions o = optionsFor(path);
    o.vfsName = FaultVfs::kName;
    o.checkpointIntervalMs = 5;
    return o;
  }
};

bool waitUntil(const std::function<bool()>& cond, int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST_CASE("sqlite journal: the checkpointer syncs the database after a pass that stops short of the WAL's end",
          "[journal][fault]") {
  // Otherwise every page such passes copy waits for the sync at the end of the next RESTART, inside the
  // writer's pause (bench_broker (c) measured 4-14 ms pauses at 10,000 msg/s).
  FaultVfs::registerOnce();
  FaultGuard guard;
  PartlyCheckpointableWal wal;
  FaultVfs::dbSyncs = 0;
  SqliteJournal j(wal.options());
  REQUIRE(waitUntil([&] { return j.stats().passiveCheckpoints >= 3; }, 10000));
  CHECK(FaultVfs::dbSyncs > 0);
  auto st = j.stats();
  CHECK(st.checkpointErrors == 0);
  CHECK_NOTHROW(j.flush());
}

TEST_CASE("sqlite journal: a failed database sync stops checkpoints, fails flush(), and keeps the WAL",
          "[journal][fault]") {
  FaultVfs::registerOnce();
  FaultGuard guard;
  PartlyCheckpointableWal wal;
  {
    FaultVfs::failDbSyncs = true;
    SqliteJournal j(wal.options());
    bool failed = waitUntil([&] {
      try {
        j.flush();
        return false;
      } catch (const JournalError& e) {
        CHECK_FALSE(e.transient());
        CHECK_THAT(e.what(), Catch::Contains(wal.path) && Catch::Contains("database") &&
                                 Catch::Contains("reopen"));
        return true;
      }
    }, 10000);
    REQUIRE(failed);
    CHECK_THROWS_AS(j.flush(), JournalError);  // stays failed
    auto st = j.stats();
    CHECK(st.checkpointErrors == 1);
    CHECK(st.restartCheckpoints == 0);
    CHECK_THAT(st.lastCheckpointError, Catch::Contains("fdatasync of the database"));
    // A later sync would succeed (the kernel forgot the failure), and the journal is now the last
    // connection: closing it must still not checkpoint and delete the WAL.
    FaultVfs::failDbSyncs = false;
    wal.releaseReader();
  }
  CHECK(std::filesystem::exists(wal.path + "-wal"));
  SqliteJournal reopened(optionsFor(wal.path));
  auto all = scanAll(reopened);
  REQUIRE(all.size() == 40);
  CHECK(all[0].id == "a0");
  CHECK(all[39].id == "b19");
  CHECK(appendOne(reopened, msg("met", "b19")).duplicate);
}

TEST_CASE("sqlite journal: a newer schema version is refused with a clear message", "[journal]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  { SqliteJournal j(optionsFor(path)); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version=7", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  try {
    SqliteJournal j(optionsFor(path));
    FAIL("opened a journal with a newer schema");
  } catch (const JournalError& e) {
    CHECK_FALSE(e.transient());
    CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("schema version 7 is newer"));
  }
}

TEST_CASE("sqlite journal: another application's database is refused", "[journal]") {
  TempDir dir;
  std::string path = dir.file("other.db");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA application_id=42; CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_THROWS_WITH(SqliteJournal(optionsFor(path)), Catch::Contains("not an alertbus journal"));
}

TEST_CASE("sqlite journal: a garbage file is refused naming the path", "[journal]") {
  TempDir dir;
  std::string path = dir.file("garbage.db");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 16384; ++i) f.put(char(0xa5 ^ (i * 31)));
  }
  try {
    SqliteJournal j(optionsFor(path));
    FAIL("opened a garbage file");
  } catch (const JournalError& e) {
    CHECK_FALSE(e.transient());
    CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("not a database"));
  }
}

TEST_CASE("sqlite journal: an unopenable path is refused naming the path", "[journal]") {
  TempDir dir;
  std::string path = dir.file("no/such/dir/j.db");
  CHECK_THROWS_WITH(SqliteJournal(optionsFor(path)), Catch::Contains(path));
}

TEST_CASE("sqlite journal: a reference resolves by agency or by origin (the CAP sender), across agencies and reopen",
          "[journal][follow]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  auto seqsOf = [](SqliteJournal& j, const std::string& sender, const std::string& id) {
    std::vector<uint64_t> seqs;
    j.findReferenced(sender, id, 8, [&](StoredMessage& m) { seqs.push_back(m.seq); });
    return seqs;
  };
  {
    SqliteJournal j(optionsFor(path));
    j.begin();
    j.append(Msg{"met", "urn:1", "sms:duty", "a", "nbqx@nbmb.gov.cn"}.entry());          // seq 1
    j.append(Msg{"water", "obs-1", "dashboard:hydro", "b"}.entry());                       // seq 2
    j.append(Msg{"province", "urn:1", "dashboard:city-desk", "c", "nbqx@nbmb.gov.cn"}.entry());  // seq 3: relayed
    // Inside the open batch the appends are already visible.
    CHECK(seqsOf(j, "nbqx@nbmb.gov.cn", "urn:1") == std::vector<uint64_t>{1, 3});
    j.commit();
    j.flush();
    CHECK(seqsOf(j, "met", "urn:1") == std::vector<uint64_t>{1});
    CHECK(seqsOf(j, "water", "obs-1") == std::vector<uint64_t>{2});
    CHECK(seqsOf(j, "nbqx@nbmb.gov.cn", "urn:2").empty());
    CHECK(seqsOf(j, "other@x", "urn:1").empty());
    std::vector<uint64_t> limited;
    j.findReferenced("nbqx@nbmb.gov.cn", "urn:1", 1, [&](StoredMessage& m) { limited.push_back(m.seq); });
    CHECK(limited == std::vector<uint64_t>{1});
  }
  SqliteJournal j(optionsFor(path));
  std::vector<std::string> dests;
  j.findReferenced("nbqx@nbmb.gov.cn", "urn:1", 8, [&](StoredMessage& m) { dests.push_back(m.destinations); });
  CHECK(dests == std::vector<std::string>{"sms:duty", "dashboard:city-desk"});
}

TEST_CASE("sqlite journal: a version 1 journal is upgraded in place and keeps its messages", "[journal][follow]") {
  TempDir dir;
  std::string path = dir.file("j.db");
  {
    SqliteJournal j(optionsFor(path));
    j.begin();
    j.append(Msg{"met", "old-1", "sms:duty", "a"}.entry());
    j.commit();
    j.flush();
  }
  // What a version 1 file looks like: no origins table.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "DROP TABLE origins; PRAGMA user_version=1", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  {
    SqliteJournal j(optionsFor(path));
    CHECK(j.lastSeq() == 1);
    j.begin();
    j.append(Msg{"met", "new-1", "sms:duty", "b", "nbqx@nbmb.gov.cn"}.entry());
    j.commit();
    j.flush();
    std::vector<uint64_t> seqs;
    j.findReferenced("nbqx@nbmb.gov.cn", "new-1", 8, [&](StoredMessage& m) { seqs.push_back(m.seq); });
    CHECK(seqs == std::vector<uint64_t>{2});
    StoredMessage old;
    CHECK(j.find("met", "old-1", old));
  }
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(sqlite3_column_int(s, 0) == 2);
  sqlite3_finalize(s);
  sqlite3_close(db);
}
