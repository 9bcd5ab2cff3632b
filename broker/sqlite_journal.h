// SqliteJournal: the Journal (journal.h) on one SQLite file in WAL mode. Commits are cheap and unsynced;
// durability comes from flush() (fdatasync of the WAL), and a background thread checkpoints the WAL
// into the database. Dedup by (sender, id) uses an in-memory hash index (23..46 bytes of RAM per
// journaled message) persisted as append-only chunks, because a SQL index on ids that are not
// monotonic costs a random page write per message (see sqlite_journal.cpp). Invariant: seqs are
// contiguous (lastSeq()+1 on each new append, reverted on rollback). Only this file pair includes
// <sqlite3.h>.
#pragma once

#include "broker/journal.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace alertbus {

struct SqliteJournalOptions {
  enum class Sync {
    Full,    // flush() = fdatasync of the WAL: a flushed commit survives kill -9 and power loss
    Normal,  // flush() is a no-op: a commit survives kill -9, not power loss (tests, demos)
  };
  std::string path;                  // database file; "<path>-wal" and "<path>-shm" live beside it
  Sync sync = Sync::Full;
  int checkpointIntervalMs = 200;    // period of the background PASSIVE checkpoint (> 0)
  int walCheckpointPages = 8192;     // WAL frames (pages, 4 KiB by default) above which the checkpointer
                                     // also runs a RESTART checkpoint, pausing the writer (~1 ms: the
                                     // passes before it have synced the database); the WAL file keeps
                                     // twice this size after a restart (journal_size_limit).
                                     // Larger: fewer pauses, slower crash recovery (~150 ms at 32 MiB)
  int busyTimeoutMs = 5000;          // how long a call waits for a lock held by another process
  std::string vfsName;               // SQLite VFS to use ("" = default); for fault-injection tests
};

// Counters of the background checkpointer, for status pages and benchmarks.
struct SqliteJournalStats {
  uint64_t passiveCheckpoints = 0;   // PASSIVE checkpoints that succeeded
  uint64_t restartCheckpoints = 0;   // RESTART checkpoints that succeeded (each paused the writer)
  uint64_t checkpointErrors = 0;     // failed checkpoints (retried at the next interval, except after a
                                     // failed database sync: then checkpoints stop and flush() fails)
  std::string lastCheckpointError;   // "" if none yet
};

class SqliteJournal final : public Journal {
 public:
  // Opens (creating if absent) the journal at options.path, starts the checkpointer thread. Throws
  // JournalError naming the path and SQLite's message if the file cannot be opened, is not a database,
  // is another application's database, or has a newer schema version than this build knows. Cost:
  // O(log n) in the number of messages plus WAL recovery after a crash (bounded by the WAL size), plus
  // loading the dedup index (8 bytes read per message: ~30 ms per million); no table scan and no
  // integrity check.
  explicit SqliteJournal(const SqliteJournalOptions& options);
  // Stops the checkpointer (bounded: it interrupts a running checkpoint), rolls back an open batch and
  // closes the file; the last connection's close checkpoints and removes the WAL. Call on the writer
  // thread after the flusher thread has stopped calling flush().
  ~SqliteJournal() override;
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;

  // Journal. Writer thread: everything but flush(). Flusher thread: flush(). See journal.h.
  // begin() may wait while the checkpointer restarts the WAL (milliseconds, rare). Calling
  // append/saveOutletState/commit outside a batch, or begin/putConfig inside one, is a bug
  // (std::logic_error). A JournalError from append/saveOutletState/commit rolls the batch back.
  void begin() override;
  // ~2 us. The dedup check is an in-memory probe; only a hash match reads the candidate row.
  // Entry's bytes are not kept.
  AppendResult append(const JournalEntry& entry) override;
  void saveOutletState(const OutletState& state) override;
  void commit() override;
  void rollback() override;
  // Sync::Full: fdatasync of the WAL file. A failure is never transient: the kernel may have dropped
  // the unwritten pages, so what is on disk is unknown until the journal is reopened. Also fails, in
  // both modes, once the checkpointer's sync of the database has failed (stats().lastCheckpointError).
  void flush() override;
  uint64_t lastSeq() const override { return lastSeq_; }
  // The StoredMessage passed to fn is reused between rows (its body buffer is only reallocated when a
  // row needs more room); fn may move parts out of it.
  size_t scan(uint64_t afterSeq, size_t limit, const std::function<bool(StoredMessage&)>& fn) override;
  bool find(std::string_view sender, std::string_view id, StoredMessage& out) override;  // O(1) + one row
  // find() plus one probe of the origins index: O(log n) + one row per match.
  void findReferenced(std::string_view sender, std::string_view id, size_t limit,
                      const std::function<void(StoredMessage&)>& fn) override;
  std::vector<OutletState> loadOutletStates() override;
  // lastSeq() - min(seq) + 1: O(log n), exact because seqs are contiguous (messages are only appended,
  // and any future retention may only delete from the head).
  uint64_t count() override;
  // Durable on return in Sync::Full (it syncs the WAL itself: config changes are rare).
  int64_t putConfig(std::string_view name, std::string_view text, int64_t nowMs) override;
  std::string getConfig(std::string_view name, int64_t* version = nullptr) override;

  // Writer thread: RAM held by the dedup index, bytes.
  size_t dedupIndexBytes() const;
  // Any thread.
  SqliteJournalStats stats() const;
  const std::string& path() const { return options_.path; }

 private:
  struct Statements;
  class KeyIndex;

  void openWriter();
  void loadDedupIndex();
  uint64_t keyHash(std::string_view sender, std::string_view id);
  // Reads row `seq`; match = it has this (sender, id); fills *out if given and matching. Returns rc.
  int readKeyRow(uint64_t seq, std::string_view sender, std::string_view id, StoredMessage* out, bool& match);
  void openCheckpointer();
  void openWalFd();
  void ensureSchema();
  void closeAll() noexcept;
  std::string describe(sqlite3* db, int rc, const std::string& context) const;  // before any reset
  [[noreturn]] void fail(sqlite3* db, int rc, const std::string& context) const;
  [[noreturn]] void failBatch(int rc, std::string what);  // rolls the batch back, then throws
  [[noreturn]] void failRead(int rc, const std::string& context);  // notes a batch SQLite ended
  void rollbackNoThrow() noexcept;
  void enterWriter();
  void leaveWriter();
  void checkpointerLoop();
  void checkpointOnce();
  bool syncDatabase();  // checkpointer thread; false (and checkpoints stop) if the sync failed
  void syncWal(const char* context);
  static int checkpointBusyHandler(void* self, int attempts);

  const SqliteJournalOptions options_;
  sqlite3* db_ = nullptr;            // writer connection: writer thread only
  sqlite3* ckptDb_ = nullptr;        // checkpointer connection: checkpointer thread only (after start)
  std::unique_ptr<Statements> stmts_;  // prepared on db_
  std::unique_ptr<KeyIndex> keys_;     // (sender, id) hash -> seq for every message: writer thread only
  uint64_t hashKey_[2] = {0, 0};       // SipHash key, random per journal (stored in the meta table)
  std::vector<uint64_t> pending_;      // key hashes of seqs chunkedUpTo_+1 .. lastSeq_, not yet in a chunk
  uint64_t chunkedUpTo_ = 0;           // every seq <= this has its key hash in message_keys
  int walFd_ = -1;                   // "<path>-wal", for flush(); read-only after construction
  bool inBatch_ = false;             // writer thread only
  uint64_t lastSeq_ = 0;             // writer thread only
  uint64_t batchStartSeq_ = 0;       // lastSeq_ at begin(), restored on rollback
  int64_t pageSizeBytes_ = 4096;     // the database's page size (= WAL frame payload)

  // Writer/checkpointer gate. Lock order: gateMutex_ and ckptMutex_ are never held together, and
  // neither is held across a SQLite call.
  std::mutex gateMutex_;
  std::condition_variable gateCv_;
  bool writerActive_ = false;        // guarded by gateMutex_: a batch or putConfig is open
  bool restartWanted_ = false;       // guarded by gateMutex_: the checkpointer waits to run RESTART

  mutable std::mutex ckptMutex_;
  std::condition_variable ckptCv_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> databaseSyncFailed_{false};  // set once by the checkpointer; flush() then fails
  int syncedBackfill_ = 0;           // checkpointer thread only: WAL frames backfilled at the last sync
  SqliteJournalStats stats_;         // guarded by ckptMutex_
  std::thread checkpointer_;
};

}  // namespace alertbus
