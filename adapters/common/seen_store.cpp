// See seen_store.h.
#include "adapters/common/seen_store.h"

#include <sqlite3.h>

#include <stdexcept>

namespace alertbus::adapter {

namespace {

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql, const std::string& path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(path + ": " + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

uint64_t contentHash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

SeenStore::SeenStore(const std::string& path) : path_(path.empty() ? ":memory:" : path) {
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error(path_ + ": cannot open: " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  char* err = nullptr;
  const char* schema =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS seen(id TEXT PRIMARY KEY, hash INTEGER NOT NULL, first_ms INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS seen_first ON seen(first_ms);"
      "CREATE TABLE IF NOT EXISTS adapter_state(k INTEGER PRIMARY KEY CHECK(k = 1), state TEXT NOT NULL);";
  if (sqlite3_exec(db_, schema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path_ + ": not an alertbus adapter state file: " + msg);
  }
}

SeenStore::~SeenStore() {
  if (!db_) return;
  try {
    commit();
  } catch (...) {
  }
  sqlite3_close(db_);
}

void SeenStore::begin() {
  if (inTxn_) return;
  if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
  inTxn_ = true;
}

void SeenStore::commit() {
  if (!inTxn_) return;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": commit: " + sqlite3_errmsg(db_));
  inTxn_ = false;
}

SeenStore::Verdict SeenStore::check(std::string_view id, uint64_t hash) {
  Stmt q(db_, "SELECT hash FROM seen WHERE id = ?", path_);
  sqlite3_bind_text(q.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(q.s) != SQLITE_ROW) return Verdict::fresh;
  return static_cast<uint64_t>(sqlite3_column_int64(q.s, 0)) == hash ? Verdict::duplicate : Verdict::changed;
}

void SeenStore::remember(std::string_view id, uint64_t hash, int64_t nowMs) {
  begin();
  Stmt q(db_, "INSERT OR IGNORE INTO seen(id, hash, first_ms) VALUES(?, ?, ?)", path_);
  sqlite3_bind_text(q.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(q.s, 2, static_cast<sqlite3_int64>(hash));
  sqlite3_bind_int64(q.s, 3, nowMs);
  if (sqlite3_step(q.s) != SQLITE_DONE) throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
}

std::string SeenStore::loadState() {
  Stmt q(db_, "SELECT state FROM adapter_state WHERE k = 1", path_);
  if (sqlite3_step(q.s) != SQLITE_ROW) return {};
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(q.s, 0))) : std::string();
}

void SeenStore::saveState(std::string_view state) {
  begin();
  Stmt q(db_, "INSERT OR REPLACE INTO adapter_state(k, state) VALUES(1, ?)", path_);
  sqlite3_bind_text(q.s, 1, state.data(), static_cast<int>(state.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(q.s) != SQLITE_DONE) throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
}

uint64_t SeenStore::prune(int64_t cutoffMs) {
  begin();
  Stmt q(db_, "DELETE FROM seen WHERE first_ms < ?", path_);
  sqlite3_bind_int64(q.s, 1, cutoffMs);
  if (sqlite3_step(q.s) != SQLITE_DONE) throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
  return static_cast<uint64_t>(sqlite3_changes(db_));
}

uint64_t SeenStore::size() {
  Stmt q(db_, "SELECT count(*) FROM seen", path_);
  sqlite3_step(q.s);
  return static_cast<uint64_t>(sqlite3_column_int64(q.s, 0));
}

}  // namespace alertbus::adapter
