// The publisher's outbox: serialised Messages waiting for the broker's PublishAck, in token order.
// Invariants: tokens are assigned by the outbox, strictly increasing, never reused within one outbox
// (SqliteOutbox persists the counter, so a restarted process continues the numbering); an entry stays
// until remove() (ack or final reject); size() never exceeds the limit given at construction.
#pragma once

#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_set>

struct sqlite3;
struct sqlite3_stmt;

namespace alertbus {

// Interface. Not thread-safe: used by the one thread that owns the Client.
class Outbox {
 public:
  // Called once per entry, in token order; returns false to stop the walk. `bytes` is valid only during
  // the call; the callback must not modify the outbox.
  using Visitor = std::function<bool(uint64_t token, kj::ArrayPtr<const kj::byte> bytes)>;

  virtual ~Outbox() = default;

  // Stores a copy of `bytes` and returns its token. Throws OutboxFull (client.h) at the limit and
  // std::runtime_error when the store fails (disk full, I/O); on a throw nothing was stored.
  // Durability: see commit().
  virtual uint64_t append(kj::ArrayPtr<const kj::byte> bytes) = 0;

  // Forgets `token` (acknowledged or finally rejected). Returns false if it was not there.
  virtual bool remove(uint64_t token) = 0;

  // Visits up to `maxEntries` entries with token > afterToken, in token order, until the visitor
  // returns false; returns how many were visited (including the one that returned false).
  // Cost: O(log n + visited) for memory, one indexed SQLite range scan for SQLite.
  virtual size_t forEachAfter(uint64_t afterToken, size_t maxEntries, const Visitor& visit) = 0;

  virtual size_t size() const = 0;          // entries stored (including not yet committed ones)
  virtual size_t uncommitted() const = 0;   // appends + removes not yet durable (0 for memory)

  // Makes every earlier append/remove durable (one transaction + fsync for SQLite, nothing for memory).
  // Throws std::runtime_error on failure; the uncommitted changes are then kept in memory and the next
  // commit() tries again, so a failed commit loses nothing while the process lives.
  virtual void commit() = 0;
};

// Process memory only: everything is lost when the process dies. O(1) amortised append and in-order
// remove (acks arrive in token order), O(log n) out-of-order remove.
class MemoryOutbox final : public Outbox {
 public:
  explicit MemoryOutbox(size_t limit, uint64_t firstToken = 1);

  uint64_t append(kj::ArrayPtr<const kj::byte> bytes) override;
  bool remove(uint64_t token) override;
  size_t forEachAfter(uint64_t afterToken, size_t maxEntries, const Visitor& visit) override;
  size_t size() const override { return live_; }
  size_t uncommitted() const override { return 0; }
  void commit() override {}

  uint64_t nextToken() const { return nextToken_; }
  // Drops every entry, keeping the token counter (SqliteOutbox, once a batch is in its table).
  void clear();

 private:
  struct Entry {
    uint64_t token;
    std::string bytes;
    bool live;
  };
  void compact();

  std::deque<Entry> entries_;  // ascending tokens; removed entries stay as tombstones until compacted
  size_t live_ = 0;
  size_t limit_;
  uint64_t nextToken_;
};

// A SQLite file in WAL mode (synchronous=FULL by default), for adapters whose outbox is the promise
// that nothing is lost while the broker is down. Appends and removes are batched in memory and written
// in one transaction per commit(); append() commits by itself once `batchLimit` changes are waiting.
// The file is held with an exclusive lock: a second process (or outbox) on the same file is refused.
// Pending entries of an earlier run are visible through forEachAfter() right after construction.
class SqliteOutbox final : public Outbox {
 public:
  // Opens or creates `path`. Throws std::runtime_error "path: reason" if the file cannot be opened, is
  // not an outbox, or is in use by another process.
  SqliteOutbox(const std::string& path, size_t limit, bool synchronousFull = true, size_t batchLimit = 1024);
  // Commits what is waiting; a failure is written to stderr (a destructor cannot report otherwise).
  ~SqliteOutbox() override;
  SqliteOutbox(const SqliteOutbox&) = delete;
  SqliteOutbox& operator=(const SqliteOutbox&) = delete;

  uint64_t append(kj::ArrayPtr<const kj::byte> bytes) override;
  bool remove(uint64_t token) override;
  size_t forEachAfter(uint64_t afterToken, size_t maxEntries, const Visitor& visit) override;
  size_t size() const override;
  size_t uncommitted() const override { return pendingInserts_.size() + pendingDeletes_.size(); }
  void commit() override;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);

  std::string path_;
  size_t limit_;
  size_t batchLimit_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  sqlite3_stmt* exists_ = nullptr;
  sqlite3_stmt* scan_ = nullptr;
  sqlite3_stmt* setNext_ = nullptr;
  size_t dbCount_ = 0;                      // rows in the table as of the last commit
  MemoryOutbox pendingInserts_;             // appended since the last commit; tokens above every row
  std::unordered_set<uint64_t> pendingDeletes_;  // rows removed since the last commit
};

}  // namespace alertbus
