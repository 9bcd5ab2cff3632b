// Outbox implementations: MemoryOutbox (a deque with tombstones) and SqliteOutbox (a WAL-mode table
// written in batches). See outbox.h for the contract; the only file of the client that includes sqlite3.h.
#include "client/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "client/client.h"

namespace alertbus {

// ---------------------------------------------------------------------------------------------------
// MemoryOutbox

MemoryOutbox::MemoryOutbox(size_t limit, uint64_t firstToken) : limit_(limit), nextToken_(firstToken) {}

uint64_t MemoryOutbox::append(kj::ArrayPtr<const kj::byte> bytes) {
  if (live_ >= limit_) {
    throw OutboxFull("outbox full: " + std::to_string(live_) + " messages waiting (outbox limit " +
                     std::to_string(limit_) + ")");
  }
  uint64_t token = nextToken_++;
  entries_.push_back(Entry{token, std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size()), true});
  ++live_;
  return token;
}

bool MemoryOutbox::remove(uint64_t token) {
  if (entries_.empty()) return false;
  // Acks arrive in token order, so the entry is almost always at the front.
  auto it = entries_.begin();
  if (it->token != token) {
    it = std::lower_bound(entries_.begin(), entries_.end(), token,
                          [](const Entry& e, uint64_t t) { return e.token < t; });
    if (it == entries_.end() || it->token != token) return false;
  }
  if (!it->live) return false;
  it->live = false;
  std::string().swap(it->bytes);  // free now; the tombstone keeps only its token
  --live_;
  compact();
  return true;
}

void MemoryOutbox::compact() {
  while (!entries_.empty() && !entries_.front().live) entries_.pop_front();
  // Tombstones behind a long-lived front entry (one waiting for a retry) are bounded: sweep them once
  // they outnumber the live entries.
  size_t dead = entries_.size() - live_;
  if (dead > 1024 && dead > live_) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [](const Entry& e) { return !e.live; }),
                   entries_.end());
  }
}

size_t MemoryOutbox::forEachAfter(uint64_t afterToken, size_t maxEntries, const Visitor& visit) {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), afterToken,
                             [](uint64_t t, const Entry& e) { return t < e.token; });
  size_t n = 0;
  for (; it != entries_.end() && n < maxEntries; ++it) {
    if (!it->live) continue;
    ++n;
    if (!visit(it->token, kj::arrayPtr(reinterpret_cast<const kj::byte*>(it->bytes.data()), it->bytes.size()))) break;
  }
  return n;
}

void MemoryOutbox::clear() {
  entries_.clear();
  live_ = 0;
}

// ---------------------------------------------------------------------------------------------------
// SqliteOutbox

namespace {

// Resets a statement on scope exit so a throw never leaves it mid-step (which would hold a read lock).
struct StmtReset {
  sqlite3_stmt* stmt;
  ~StmtReset() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

constexpr int kSchemaVersion = 1;

}  // namespace

void SqliteOutbox::fail(const std::string& what) const {
  std::string msg = path_ + ": " + what;
  if (db_ != nullptr) msg += ": " + std::string(sqlite3_errmsg(db_));
  int code = db_ != nullptr ? sqlite3_extended_errcode(db_) : 0;
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    msg += " (the outbox is in use by another process or outbox object)";
  }
  throw std::runtime_error(msg);
}

void SqliteOutbox::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    fail(std::string("\"") + sql + "\" failed");
  }
}

sqlite3_stmt* SqliteOutbox::prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    fail(std::string("cannot prepare \"") + sql + "\"");
  }
  return stmt;
}

SqliteOutbox::SqliteOutbox(const std::string& path, size_t limit, bool synchronousFull, size_t batchLimit)
    : path_(path),
      limit_(limit),
      batchLimit_(std::max<size_t>(batchLimit, 1)),
      pendingInserts_(std::numeric_limits<size_t>::max()) {
  try {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      fail("cannot open outbox");
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 1000);  // ms; a lock held longer than this means another owner
    // Exclusive: two clients sending from one outbox would both resend everything (harmless thanks to
    // the broker's de-duplication, but a misconfiguration worth refusing). Also avoids the -shm file.
    exec("PRAGMA locking_mode=EXCLUSIVE");
    exec("PRAGMA journal_mode=WAL");
    exec(synchronousFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("BEGIN IMMEDIATE");  // takes the lock now, so a second owner fails here, not later
    {
      sqlite3_stmt* v = prepare("PRAGMA user_version");
      int version = sqlite3_step(v) == SQLITE_ROW ? sqlite3_column_int(v, 0) : 0;
      sqlite3_finalize(v);
      if (version > kSchemaVersion) {
        throw std::runtime_error(path + ": outbox format " + std::to_string(version) +
                                 " is newer than this client supports (" + std::to_string(kSchemaVersion) + ")");
      }
    }
    exec("CREATE TABLE IF NOT EXISTS outbox(token INTEGER PRIMARY KEY, bytes BLOB NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS outbox_meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID");
    exec("PRAGMA user_version=1");
    exec("COMMIT");

    uint64_t next = 1;
    {
      sqlite3_stmt* q = prepare(
          "SELECT (SELECT count(*) FROM outbox), (SELECT coalesce(max(token), 0) FROM outbox),"
          " (SELECT coalesce(max(value), 0) FROM outbox_meta WHERE name = 'next_token')");
      if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        fail("cannot read outbox state");
      }
      dbCount_ = static_cast<size_t>(sqlite3_column_int64(q, 0));
      next = std::max<uint64_t>({next, static_cast<uint64_t>(sqlite3_column_int64(q, 1)) + 1,
                                 static_cast<uint64_t>(sqlite3_column_int64(q, 2))});
      sqlite3_finalize(q);
    }
    pendingInserts_ = MemoryOutbox(std::numeric_limits<size_t>::max(), next);

    insert_ = prepare("INSERT INTO outbox(token, bytes) VALUES (?1, ?2)");
    delete_ = prepare("DELETE FROM outbox WHERE token = ?1");
    exists_ = prepare("SELECT 1 FROM outbox WHERE token = ?1");
    scan_ = prepare("SELECT token, bytes FROM outbox WHERE token > ?1 ORDER BY token");
    setNext_ = prepare("INSERT OR REPLACE INTO outbox_meta(name, value) VALUES ('next_token', ?1)");
  } catch (...) {
    for (sqlite3_stmt* s : {insert_, delete_, exists_, scan_, setNext_}) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteOutbox::~SqliteOutbox() {
  try {
    commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alertbus: outbox not saved at exit: %s\n", e.what());
  }
  for (sqlite3_stmt* s : {insert_, delete_, exists_, scan_, setNext_}) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

size_t SqliteOutbox::size() const { return dbCount_ - pendingDeletes_.size() + pendingInserts_.size(); }

uint64_t SqliteOutbox::append(kj::ArrayPtr<const kj::byte> bytes) {
  if (size() >= limit_) {
    throw OutboxFull("outbox " + path_ + " full: " + std::to_string(size()) + " messages waiting (outbox limit " +
                     std::to_string(limit_) + ")");
  }
  if (uncommitted() >= batchLimit_) commit();  // throws before anything of this message is stored
  return pendingInserts_.append(bytes);
}

bool SqliteOutbox::remove(uint64_t token) {
  if (pendingInserts_.remove(token)) return true;
  if (pendingDeletes_.count(token) != 0) return false;
  StmtReset r{exists_};
  sqlite3_bind_int64(exists_, 1, static_cast<sqlite3_int64>(token));
  int rc = sqlite3_step(exists_);
  if (rc == SQLITE_DONE) return false;
  if (rc != SQLITE_ROW) fail("cannot look up token " + std::to_string(token));
  pendingDeletes_.insert(token);
  return true;
}

size_t SqliteOutbox::forEachAfter(uint64_t afterToken, size_t maxEntries, const Visitor& visit) {
  size_t n = 0;
  bool stopped = false;
  if (maxEntries == 0) return 0;
  {
    StmtReset r{scan_};
    sqlite3_bind_int64(scan_, 1, static_cast<sqlite3_int64>(std::min<uint64_t>(
                                     afterToken, static_cast<uint64_t>(std::numeric_limits<sqlite3_int64>::max()))));
    while (n < maxEntries) {
      int rc = sqlite3_step(scan_);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail("cannot read outbox");
      uint64_t token = static_cast<uint64_t>(sqlite3_column_int64(scan_, 0));
      if (pendingDeletes_.count(token) != 0) continue;
      const void* blob = sqlite3_column_blob(scan_, 1);
      int size = sqlite3_column_bytes(scan_, 1);
      ++n;
      if (!visit(token, kj::arrayPtr(static_cast<const kj::byte*>(blob), static_cast<size_t>(size)))) {
        stopped = true;
        break;
      }
    }
  }
  if (!stopped && n < maxEntries) n += pendingInserts_.forEachAfter(afterToken, maxEntries - n, visit);
  return n;
}

void SqliteOutbox::commit() {
  if (uncommitted() == 0) return;
  try {
    exec("BEGIN IMMEDIATE");
    size_t inserted = 0;
    size_t deleted = 0;
    pendingInserts_.forEachAfter(0, std::numeric_limits<size_t>::max(),
                                 [&](uint64_t token, kj::ArrayPtr<const kj::byte> bytes) {
                                   StmtReset r{insert_};
                                   sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(token));
                                   sqlite3_bind_blob(insert_, 2, bytes.begin(), static_cast<int>(bytes.size()),
                                                     SQLITE_STATIC);
                                   if (sqlite3_step(insert_) != SQLITE_DONE) fail("cannot store a message");
                                   ++inserted;
                                   return true;
                                 });
    for (uint64_t token : pendingDeletes_) {
      StmtReset r{delete_};
      sqlite3_bind_int64(delete_, 1, static_cast<sqlite3_int64>(token));
      if (sqlite3_step(delete_) != SQLITE_DONE) fail("cannot remove a message");
      deleted += static_cast<size_t>(sqlite3_changes(db_));
    }
    {
      StmtReset r{setNext_};
      sqlite3_bind_int64(setNext_, 1, static_cast<sqlite3_int64>(pendingInserts_.nextToken()));
      if (sqlite3_step(setNext_) != SQLITE_DONE) fail("cannot store the token counter");
    }
    exec("COMMIT");
    dbCount_ = dbCount_ + inserted - deleted;
    pendingInserts_.clear();
    pendingDeletes_.clear();
  } catch (...) {
    // Keep the batch in memory for the next attempt; the database is as of the last good commit.
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace alertbus
