// SqliteJournal: the broker's durable journal on SQLite in WAL mode. Invariants: seqs are assigned
// lastSeq+1 and are contiguous; a batch is one transaction; a message is durable once flush() returned
// after the commit() that wrote it returned; every journaled message's key hash is either in a
// message_keys chunk or re-derived from its row at open.
//
// Schema (PRAGMA user_version = 2, PRAGMA application_id = 'albu'):
//   messages(seq INTEGER PRIMARY KEY,   -- rowid alias: appends go to the right edge of the b-tree
//            sender TEXT, msg_id TEXT, received_ms INTEGER, kind INTEGER, urgent INTEGER,
//            dests TEXT,                -- "outlet:target" entries joined by '\n'
//            body BLOB)                 -- last column: reading the others never touches it
//   message_keys(first_seq INTEGER PRIMARY KEY,
//                hashes BLOB)           -- key hashes of seqs first_seq.., 8 bytes little-endian each,
//                                       -- kChunkKeys per chunk, written with the commit that fills it
//   meta(name TEXT PRIMARY KEY, value) WITHOUT ROWID   -- 'dedup_hash_key': 16 random bytes
//   outlet_state(outlet TEXT PRIMARY KEY, cursor INTEGER,
//                acked_above BLOB) WITHOUT ROWID      -- acked seqs > cursor, 8-byte little-endian each
//   config_versions(name TEXT, version INTEGER, text TEXT, applied_ms INTEGER,
//                   PRIMARY KEY(name, version)) WITHOUT ROWID
//   origins(origin TEXT, msg_id TEXT, seq INTEGER,
//           PRIMARY KEY(origin, msg_id, seq)) WITHOUT ROWID   -- version 2: messages with a Message.origin
//                                       -- (CAP sender), so a CAP reference resolves whichever agency
//                                       -- relayed the original. Only CAP-style warnings carry an origin
//                                       -- (a few a minute), so this index costs the high-rate
//                                       -- observations nothing, unlike one on (sender, msg_id) (below).
// A newer user_version is refused; schema changes bump it and migrate in ensureSchema(). Every statement
// of kSchemaSql is CREATE ... IF NOT EXISTS, so running it over an older file is the migration (1 -> 2
// adds the origins table; messages journaled before it carry no origin, so nothing is back-filled).
//
// Dedup without a SQL index on (sender, msg_id): ids are chosen by publishers (station + time, vessel +
// time, UUIDs), so consecutive messages land on unrelated pages of such an index and every message
// dirties one more 4 KiB page in the WAL and again at checkpoint. Measured here with random ids: 16k
// messages/s at 600k rows with UNIQUE(sender, msg_id), 180k without it. Instead, the key hash
// SipHash-2-4(k, le64(len(sender)) || sender || id), keyed per journal so a publisher cannot craft
// collisions, goes into an in-memory open-addressing table (hash -> seq) and is persisted append-only:
// 8 bytes per message in message_keys. Open reads the chunks (8 MB per million messages) and re-derives
// the last < kChunkKeys from their rows. A hash match is confirmed by reading that row, so collisions
// cost a read, never a wrong answer. RAM: 23..46 bytes per message (16-byte slots, load <= 0.7; up to
// 1.5x that while the table is growing).
//
// Durability (why fdatasync of the WAL file is enough, also across WAL restarts):
//  * The writer connection runs synchronous=NORMAL and wal_autocheckpoint=0: a commit only write()s its
//    frames to "<db>-wal" and never fsyncs or checkpoints (measured: that is most of a commit's cost).
//    NORMAL rather than OFF costs nothing per commit but keeps two syncs SQLite needs for consistency on
//    power loss: the WAL header is synced when the writer restarts the WAL (without it a reordered write
//    after a restart can resurrect stale frames over newer database pages, SQLite ticket ff5be73dee),
//    and the checkpoint SQLite runs when the last connection closes syncs like any other.
//  * flush() fdatasync()s our own descriptor on the WAL file. fdatasync writes back every page of the
//    file dirtied before the call, whichever descriptor wrote it, so every commit() that returned before
//    flush() is on disk. The WAL file is never unlinked while our connections are open (only the last
//    connection's close deletes it); RESTART reuses and TRUNCATE/journal_size_limit shrink the same
//    inode, so the descriptor stays valid. SQLite keeps no POSIX locks on the WAL file (its locks are on
//    the db and -shm files), so opening and closing our descriptor cannot drop any of its locks.
//  * The checkpointer connection runs synchronous=FULL: a checkpoint syncs the WAL before copying frames
//    into the database, and a checkpoint that reaches the end of the WAL syncs the database before it
//    records that every frame is backfilled (sqlite3 wal.c walCheckpoint). A writer restarts the WAL,
//    overwriting frames, only when every frame is backfilled. So a commit whose frames were overwritten
//    before any flush() is already durable in the synced database file, and a commit whose frames were
//    not yet overwritten is made durable by the next flush().
//  * The directory is fsynced once at open, so the names of a newly created database and WAL survive.
//  * The checkpointer's extra database syncs after PASSIVE passes only add syncs. If one fails, no
//    checkpoint runs again in this process and flush() fails (see syncDatabase).
//
// WAL growth: the writer restarts the WAL only when it starts a transaction while every frame has been
// checkpointed. Under sustained load a PASSIVE checkpoint never catches up (new commits land while it
// copies), so when the WAL exceeds walCheckpointPages the checkpointer pauses the writer at a batch
// boundary (the gate below, not SQLite's busy handler, so the writer resumes the moment it is done)
// and runs a RESTART checkpoint, which only has the tail left by the preceding PASSIVE one to copy.
// Because such a PASSIVE pass stops short of the WAL's end, SQLite does not sync the database after it;
// the checkpointer does (syncDatabase), while the writer runs, so the sync that ends RESTART, inside
// the pause, writes only RESTART's own tail. Without it that sync wrote every page copied since the
// last RESTART: 4-14 ms of writer pause about once a second at 10,000 msg/s (bench_broker (c)).
// journal_size_limit then trims the file back to twice walCheckpointPages (walKeptBytes).
//
// Errors: every failing SQLite call throws JournalError with the path, the operation and sqlite3_errmsg.
// Transient (retry later, nothing was written): SQLITE_FULL, BUSY, LOCKED, NOMEM, PROTOCOL, INTERRUPT,
// and I/O errors from reads and writes (a write that failed leaves no commit frame, so the batch simply
// did not happen). Not transient: corruption, NOTADB, CANTOPEN, READONLY, constraint/schema errors, and
// failed syncs (IOERR_FSYNC, IOERR_DIR_FSYNC, a failing fdatasync in flush()): after a failed sync the
// kernel may have dropped the dirty pages, so only reopening tells what is really on disk.
#include "broker/sqlite_journal.h"

#include <sodium.h>

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <new>
#include <pthread.h>
#include <stdexcept>
#include <unistd.h>

namespace alertbus {
namespace {

constexpr int kSchemaVersion = 2;
constexpr int kApplicationId = 0x616c6275;  // "albu"
constexpr size_t kChunkKeys = 4096;          // key hashes per message_keys row (32 KiB)
constexpr int kCheckpointBusyMaxMs = 100;    // RESTART's wait for readers, per attempt
constexpr int kExtraPassiveMax = 4;          // PASSIVE passes before a RESTART, to shrink its work
constexpr int kSmallRemainderFrames = 256;   // a remainder RESTART copies quickly (1 MiB)
constexpr auto kRestartGateWait = std::chrono::seconds(1);  // longest wait for the writer to pause

// The WAL file size kept after a restart (journal_size_limit). Under steady load the WAL reaches
// walCheckpointPages plus what arrives while the checkpointer catches up (at 10,000 msg/s: ~11,000
// frames of 4 KiB + 24); keeping twice walCheckpointPages pages lets it be reused in place. A limit at
// walCheckpointPages made the writer's first commit after each restart truncate the file (1-3 ms
// measured, in the event loop) and the WAL regrow into new blocks every cycle.
int64_t walKeptBytes(int walCheckpointPages, int64_t pageSizeBytes) {
  return 2 * int64_t(walCheckpointPages) * pageSizeBytes;
}

const char* const kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS messages(
  seq INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  urgent INTEGER NOT NULL,
  dests TEXT NOT NULL,
  body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS message_keys(
  first_seq INTEGER PRIMARY KEY,
  hashes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta(
  name TEXT PRIMARY KEY,
  value) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES('dedup_hash_key', randomblob(16));
CREATE TABLE IF NOT EXISTS outlet_state(
  outlet TEXT PRIMARY KEY,
  cursor INTEGER NOT NULL,
  acked_above BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS config_versions(
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  text TEXT NOT NULL,
  applied_ms INTEGER NOT NULL,
  PRIMARY KEY(name, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS origins(
  origin TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(origin, msg_id, seq)) WITHOUT ROWID;
)sql";

const char* const kMessageColumns = "seq, sender, msg_id, received_ms, kind, urgent, dests, body";

bool isTransient(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_INTERRUPT:
      return true;
    case SQLITE_IOERR:
      return rc != SQLITE_IOERR_FSYNC && rc != SQLITE_IOERR_DIR_FSYNC && rc != SQLITE_IOERR_CORRUPTFS &&
             rc != SQLITE_IOERR_DATA;
    default:
      return false;
  }
}

uint64_t loadLe64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void storeLe64(uint64_t v, char* p) {
  for (int i = 0; i < 8; ++i) p[i] = char((v >> (8 * i)) & 0xff);
}

// SipHash-2-4 through libsodium's crypto_shorthash (a well-kept implementation; keys and output are
// little-endian words). Persisted in message_keys: never change the function.
uint64_t sipHash24(const unsigned char* in, size_t n, uint64_t k0, uint64_t k1) {
  unsigned char key[crypto_shorthash_KEYBYTES], out[crypto_shorthash_BYTES];
  storeLe64(k0, reinterpret_cast<char*>(key));
  storeLe64(k1, reinterpret_cast<char*>(key) + 8);
  crypto_shorthash(out, in, n, key);
  return loadLe64(out);
}

// Owns one prepared statement.
class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when a step loop ends, however it ends: an unreset statement would keep a read
// transaction open and block the checkpointer's RESTART. sqlite3_reset keeps the connection's error
// message, so errors can still be described after it.
struct ResetOnExit {
  sqlite3_stmt* s;
  ~ResetOnExit() { sqlite3_reset(s); }
};

// SQLITE_STATIC: SQLite reads the bytes only during the following sqlite3_step(), and every caller
// rebinds before stepping again, so no copy is needed. A null data pointer would bind SQL NULL.
int bindText(sqlite3_stmt* s, int i, std::string_view v) {
  return sqlite3_bind_text64(s, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC, SQLITE_UTF8);
}
int bindBlob(sqlite3_stmt* s, int i, const void* p, size_t n) {
  static const char empty = 0;
  return sqlite3_bind_blob64(s, i, p ? p : &empty, n, SQLITE_STATIC);
}
int64_t toInt64(uint64_t v) {
  return v > uint64_t(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max() : int64_t(v);
}
std::string_view columnView(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  return std::string_view(p ? reinterpret_cast<const char*>(p) : "", size_t(sqlite3_column_bytes(s, i)));
}

// Copies one messages row (columns in kMessageColumns order) into `m`, reusing its buffers. The body
// array is reallocated only when too small or far too large, and its slack is zeroed so no bytes of an
// earlier row are ever visible.
void readMessage(sqlite3_stmt* s, StoredMessage& m) {
  m.seq = uint64_t(sqlite3_column_int64(s, 0));
  m.sender.assign(columnView(s, 1));
  m.id.assign(columnView(s, 2));
  m.receivedMs = sqlite3_column_int64(s, 3);
  m.kind = uint8_t(sqlite3_column_int(s, 4));
  m.urgent = sqlite3_column_int(s, 5) != 0;
  m.destinations.assign(columnView(s, 6));
  const void* body = sqlite3_column_blob(s, 7);
  size_t bytes = size_t(sqlite3_column_bytes(s, 7));
  size_t words = (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word);
  if (m.body.size() < words || m.body.size() > 2 * words + 64) {
    m.body = kj::heapArray<capnp::word>(words);
  }
  kj::byte* dst = m.body.asBytes().begin();
  if (bytes > 0) memcpy(dst, body, bytes);
  memset(dst + bytes, 0, m.body.size() * sizeof(capnp::word) - bytes);
  m.bodySizeBytes = bytes;
}

std::string dirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

// Key hash -> seq, open addressing with linear probing over a power-of-two table, load <= 0.7. A hash
// may map to several seqs (collisions); callers confirm against the row. Growth is incremental: a
// doubled table takes new entries while each insert moves kMigrateSlots slots of the old one, so no
// single append pays for rehashing millions of entries (measured: 175 ms at 3M). Slots moved out of
// or erased from the old table become tombstones there, keeping its probe runs intact until it is
// freed. Writer thread only.
class SqliteJournal::KeyIndex {
 public:
  explicit KeyIndex(size_t expected) : cur_(capacityFor(expected)) {}

  // Makes room for one more entry. May throw std::bad_alloc, changing nothing.
  void reserveOne() {
    if ((cur_.size + old_.size + 1) * 10 <= cur_.capacity * 7) return;
    if (old_.capacity != 0) finishMigration();  // not reached: migration outpaces inserts (see insert)
    Table bigger(cur_.capacity * 2);
    old_ = std::move(cur_);
    cur_ = std::move(bigger);
    migrated_ = 0;
  }
  // Call reserveOne() first. The old table (capacity C, <= 0.7 C entries) is drained kMigrateSlots = 8
  // slots per insert, so it is gone after C/8 inserts: the doubled table then holds at most
  // 0.7 C + C/8 = 0.41 of its 2 C slots, under the 0.7 that would trigger the next doubling.
  void insert(uint64_t hash, uint64_t seq) noexcept {
    if (old_.capacity != 0) migrateSome();
    place(cur_, hash, seq);
  }
  // Calls f(seq) for each entry with `hash` until f returns true; returns whether one did.
  template <class F>
  bool anyOf(uint64_t hash, F&& f) const {
    return probe(cur_, hash, f) || (old_.capacity != 0 && probe(old_, hash, f));
  }
  // Removes (hash, seq) if present.
  void erase(uint64_t hash, uint64_t seq) noexcept {
    if (eraseShifting(cur_, hash, seq) || old_.capacity == 0) return;
    for (size_t i = hash & old_.mask;; i = (i + 1) & old_.mask) {
      Slot& s = old_.slots[i];
      if (s.seq == 0) return;
      if (s.hash == hash && s.seq == seq) {
        s.seq = kTombstone;
        --old_.size;
        return;
      }
    }
  }
  size_t bytes() const { return (cur_.capacity + old_.capacity) * sizeof(Slot); }

 private:
  static constexpr uint64_t kEmpty = 0;                 // seqs start at 1
  static constexpr uint64_t kTombstone = UINT64_MAX;    // old table only
  static constexpr size_t kMigrateSlots = 8;
  struct Slot {
    uint64_t hash = 0;
    uint64_t seq = kEmpty;
  };
  // calloc, not std::vector: large blocks come zeroed from mmap, so a doubling costs page faults
  // spread over the following inserts instead of zeroing the whole table at once (measured: 110 ms
  // for 128 MB).
  struct Table {
    struct Free {
      void operator()(Slot* p) const { free(p); }
    };
    std::unique_ptr<Slot[], Free> slots;
    size_t capacity = 0;
    size_t mask = 0;
    size_t size = 0;  // live entries
    Table() = default;
    explicit Table(size_t cap) : slots(static_cast<Slot*>(calloc(cap, sizeof(Slot)))), capacity(cap), mask(cap - 1) {
      if (!slots) throw std::bad_alloc();
    }
  };
  static size_t capacityFor(size_t n) {
    size_t cap = 1024;
    while (cap * 7 < n * 10 + 10) cap *= 2;
    return cap;
  }
  static void place(Table& t, uint64_t hash, uint64_t seq) noexcept {
    size_t i = hash & t.mask;
    while (t.slots[i].seq != kEmpty) i = (i + 1) & t.mask;
    t.slots[i] = Slot{hash, seq};
    ++t.size;
  }
  template <class F>
  static bool probe(const Table& t, uint64_t hash, F& f) {
    for (size_t i = hash & t.mask;; i = (i + 1) & t.mask) {
      const Slot& s = t.slots[i];
      if (s.seq == kEmpty) return false;
      if (s.hash == hash && s.seq != kTombstone && f(s.seq)) return true;
    }
  }
  // Backward-shift deletion (the table has no tombstones): later entries of the probe run move back
  // unless their home slot lies cyclically in (hole, their slot].
  static bool eraseShifting(Table& t, uint64_t hash, uint64_t seq) noexcept {
    size_t i = hash & t.mask;
    for (;; i = (i + 1) & t.mask) {
      if (t.slots[i].seq == kEmpty) return false;
      if (t.slots[i].hash == hash && t.slots[i].seq == seq) break;
    }
    for (size_t j = i;;) {
      j = (j + 1) & t.mask;
      if (t.slots[j].seq == kEmpty) break;
      size_t home = t.slots[j].hash & t.mask;
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      t.slots[i] = t.slots[j];
      i = j;
    }
    t.slots[i] = Slot{};
    --t.size;
    return true;
  }
  void migrateSome() noexcept {
    for (size_t k = 0; k < kMigrateSlots && migrated_ < old_.capacity; ++k, ++migrated_) {
      Slot& s = old_.slots[migrated_];
      if (s.seq == kEmpty || s.seq == kTombstone) continue;
      place(cur_, s.hash, s.seq);
      s.seq = kTombstone;
      --old_.size;
    }
    if (migrated_ == old_.capacity) old_ = Table{};
  }
  void finishMigration() noexcept {
    while (old_.capacity != 0) migrateSome();
  }

  Table cur_;
  Table old_;            // being drained into cur_; no slots when not growing
  size_t migrated_ = 0;  // slots of old_ already visited
};

struct SqliteJournal::Statements {
  Stmt begin, commit, rollback;
  Stmt insert, rowBySeq, scan, minSeq, maxSeq, insertChunk;
  Stmt saveOutlet, loadOutlets;
  Stmt configLatest, configInsert;
  Stmt insertOrigin, seqsByOrigin;
  std::string scratch;  // encoding buffer (acked_above, chunks), reused
  std::string hashBuf;  // keyHash input, reused
};

SqliteJournal::SqliteJournal(const SqliteJournalOptions& options) : options_(options) {
  if (options_.path.empty()) throw JournalError("sqlite journal: empty path", false);
  if (options_.checkpointIntervalMs <= 0 || options_.walCheckpointPages <= 0 || options_.busyTimeoutMs < 0) {
    throw JournalError("journal " + options_.path +
                           ": checkpointIntervalMs and walCheckpointPages must be > 0, busyTimeoutMs >= 0",
                       false);
  }
  try {
    openWriter();
    ensureSchema();
    stmts_ = std::make_unique<Statements>();
    auto prep = [&](Stmt& s, const std::string& sql) {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      if (rc != SQLITE_OK) fail(db_, rc, "prepare \"" + sql + "\"");
      s = Stmt(raw);
    };
    const std::string cols = kMessageColumns;
    prep(stmts_->begin, "BEGIN IMMEDIATE");
    prep(stmts_->commit, "COMMIT");
    prep(stmts_->rollback, "ROLLBACK");
    prep(stmts_->insert, "INSERT INTO messages(" + cols + ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    prep(stmts_->rowBySeq, "SELECT " + cols + " FROM messages WHERE seq = ?1");
    prep(stmts_->scan, "SELECT " + cols + " FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    // Two statements, not min() and max() in one: SQLite's O(log n) min/max shortcut needs a query with
    // a single aggregate; otherwise it scans the table.
    prep(stmts_->minSeq, "SELECT min(seq) FROM messages");
    prep(stmts_->maxSeq, "SELECT max(seq) FROM messages");
    prep(stmts_->insertChunk, "INSERT INTO message_keys(first_seq, hashes) VALUES(?1, ?2)");
    prep(stmts_->saveOutlet,
         "INSERT INTO outlet_state(outlet, cursor, acked_above) VALUES(?1, ?2, ?3)"
         " ON CONFLICT(outlet) DO UPDATE SET cursor = excluded.cursor, acked_above = excluded.acked_above");
    prep(stmts_->loadOutlets, "SELECT outlet, cursor, acked_above FROM outlet_state ORDER BY outlet");
    prep(stmts_->insertOrigin, "INSERT OR IGNORE INTO origins(origin, msg_id, seq) VALUES(?1, ?2, ?3)");
    prep(stmts_->seqsByOrigin, "SELECT seq FROM origins WHERE origin = ?1 AND msg_id = ?2 ORDER BY seq LIMIT ?3");
    prep(stmts_->configLatest,
         "SELECT version, text FROM config_versions WHERE name = ?1 ORDER BY version DESC LIMIT 1");
    prep(stmts_->configInsert,
         "INSERT INTO config_versions(name, version, text, applied_ms) VALUES(?1, ?2, ?3, ?4)");

    {
      sqlite3_stmt* s = stmts_->maxSeq.get();
      ResetOnExit reset{s};
      int rc = sqlite3_step(s);
      if (rc != SQLITE_ROW) fail(db_, rc, "read last seq");
      lastSeq_ = uint64_t(sqlite3_column_int64(s, 0));  // NULL (empty table) reads as 0
    }
    loadDedupIndex();
    if (options_.sync == SqliteJournalOptions::Sync::Full) openWalFd();
    openCheckpointer();
    checkpointer_ = std::thread([this] { checkpointerLoop(); });
  } catch (...) {
    closeAll();
    throw;
  }
}

SqliteJournal::~SqliteJournal() {
  stopping_ = true;
  { std::lock_guard<std::mutex> lk(ckptMutex_); }
  ckptCv_.notify_all();
  { std::lock_guard<std::mutex> lk(gateMutex_); }
  gateCv_.notify_all();
  // Cuts a long running checkpoint short (it is resumed by the next open or the close below). Safe from
  // another thread while the connection is open.
  if (ckptDb_ != nullptr) sqlite3_interrupt(ckptDb_);
  if (checkpointer_.joinable()) checkpointer_.join();
  if (inBatch_) rollbackNoThrow();
  closeAll();
}

void SqliteJournal::closeAll() noexcept {
  stmts_.reset();
  if (databaseSyncFailed_) {
    // No checkpoint on close either (see syncDatabase): the WAL stays, and the next open replays it.
    for (sqlite3* db : {ckptDb_, db_})
      if (db != nullptr) sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
  if (ckptDb_ != nullptr) sqlite3_close_v2(ckptDb_);
  ckptDb_ = nullptr;
  if (walFd_ >= 0) ::close(walFd_);
  walFd_ = -1;
  // Last connection: SQLite checkpoints (syncing, as synchronous=NORMAL) and deletes the WAL.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

std::string SqliteJournal::describe(sqlite3* db, int rc, const std::string& context) const {
  std::string what = "journal " + options_.path + ": " + context + ": ";
  what += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  what += " (sqlite code " + std::to_string(rc) + ")";
  return what;
}

void SqliteJournal::fail(sqlite3* db, int rc, const std::string& context) const {
  throw JournalError(describe(db, rc, context), isTransient(rc));
}

void SqliteJournal::failBatch(int rc, std::string what) {
  rollbackNoThrow();
  throw JournalError(what + "; batch rolled back", isTransient(rc));
}

void SqliteJournal::failRead(int rc, const std::string& context) {
  std::string what = describe(db_, rc, context);
  // SQLite ends the transaction by itself on some errors (FULL, IOERR, NOMEM, BUSY): then the batch
  // is gone, and the journal's state must say so.
  if (inBatch_ && sqlite3_get_autocommit(db_)) {
    rollbackNoThrow();
    what += "; SQLite rolled the open batch back";
  }
  throw JournalError(what, isTransient(rc));
}

void SqliteJournal::rollbackNoThrow() noexcept {
  // SQLite rolls some failures back by itself (FULL, IOERR, NOMEM may end the transaction); only roll
  // back what is still open.
  if (!sqlite3_get_autocommit(db_)) {
    sqlite3_step(stmts_->rollback.get());
    sqlite3_reset(stmts_->rollback.get());
  }
  if (!inBatch_) return;
  for (uint64_t seq = lastSeq_; seq > batchStartSeq_; --seq) {
    keys_->erase(pending_[seq - chunkedUpTo_ - 1], seq);
  }
  pending_.resize(batchStartSeq_ - chunkedUpTo_);  // shrinking: cannot throw
  lastSeq_ = batchStartSeq_;
  inBatch_ = false;
  leaveWriter();
}

void SqliteJournal::openWriter() {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(options_.path.c_str(), &db_, flags,
                           options_.vfsName.empty() ? nullptr : options_.vfsName.c_str());
  if (rc != SQLITE_OK) fail(db_, rc, "open");
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options_.busyTimeoutMs);
}

void SqliteJournal::ensureSchema() {
  auto pragmaInt = [&](const char* sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
    if (rc != SQLITE_OK) fail(db_, rc, sql);
    Stmt s(raw);
    rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) fail(db_, rc, sql);
    return sqlite3_column_int64(raw, 0);
  };
  auto exec = [&](const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) fail(db_, rc, sql);
  };
  // Reads page 1: a file that is not a database fails here, before anything is written to it.
  int64_t appId = pragmaInt("PRAGMA application_id");
  int64_t version = pragmaInt("PRAGMA user_version");
  if (appId != 0 && appId != kApplicationId) {
    throw JournalError("journal " + options_.path + ": not an alertbus journal (application_id " +
                           std::to_string(appId) + ")",
                       false);
  }
  if (version > kSchemaVersion) {
    throw JournalError("journal " + options_.path + ": schema version " + std::to_string(version) +
                           " is newer than this build supports (" + std::to_string(kSchemaVersion) +
                           "); run a newer alertbusd",
                       false);
  }
  {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &raw, nullptr);
    if (rc != SQLITE_OK) fail(db_, rc, "PRAGMA journal_mode=WAL");
    Stmt s(raw);
    rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) fail(db_, rc, "PRAGMA journal_mode=WAL");
    const unsigned char* mode = sqlite3_column_text(raw, 0);
    if (mode == nullptr || strcmp(reinterpret_cast<const char*>(mode), "wal") != 0) {
      throw JournalError("journal " + options_.path + ": cannot switch to WAL mode (got " +
                             (mode ? reinterpret_cast<const char*>(mode) : "null") + ")",
                         false);
    }
  }
  pageSizeBytes_ = pragmaInt("PRAGMA page_size");
  int64_t walLimitBytes = walKeptBytes(options_.walCheckpointPages, pageSizeBytes_);
  exec("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=" +
       std::to_string(walLimitBytes) + "; PRAGMA cache_size=-16384; PRAGMA foreign_keys=OFF");
  if (version < kSchemaVersion) {
    exec("BEGIN IMMEDIATE");
    try {
      // Re-read under the write lock: another process may have created the schema meanwhile.
      if (pragmaInt("PRAGMA user_version") < kSchemaVersion) {
        exec(kSchemaSql);
        exec("PRAGMA application_id=" + std::to_string(kApplicationId) +
             "; PRAGMA user_version=" + std::to_string(kSchemaVersion));
      }
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

uint64_t SqliteJournal::keyHash(std::string_view sender, std::string_view id) {
  std::string& buf = stmts_->hashBuf;
  buf.resize(8 + sender.size() + id.size());
  storeLe64(sender.size(), &buf[0]);
  if (!sender.empty()) memcpy(&buf[8], sender.data(), sender.size());
  if (!id.empty()) memcpy(&buf[8 + sender.size()], id.data(), id.size());
  return sipHash24(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), hashKey_[0], hashKey_[1]);
}

// Loads every key hash: the persisted chunks, then the rows after the last chunk. Chunks that do not
// line up with the messages (only possible if the file was edited by hand) are dropped and rebuilt
// from the rows: slow (a table scan), but never wrong.
void SqliteJournal::loadDedupIndex() {
  auto prepare = [&](const char* sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
    if (rc != SQLITE_OK) fail(db_, rc, sql);
    return Stmt(raw);
  };
  {
    Stmt s = prepare("SELECT value FROM meta WHERE name = 'dedup_hash_key'");
    int rc = sqlite3_step(s.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(db_, rc, "read the dedup hash key");
    if (rc != SQLITE_ROW || sqlite3_column_bytes(s.get(), 0) != 16) {
      throw JournalError("journal " + options_.path + ": meta.dedup_hash_key is missing or not 16 bytes", false);
    }
    auto* key = static_cast<const unsigned char*>(sqlite3_column_blob(s.get(), 0));
    hashKey_[0] = loadLe64(key);
    hashKey_[1] = loadLe64(key + 8);
  }
  uint64_t firstSeq = 0;
  {
    sqlite3_stmt* s = stmts_->minSeq.get();
    ResetOnExit reset{s};
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) fail(db_, rc, "read first seq");
    firstSeq = uint64_t(sqlite3_column_int64(s, 0));
  }
  uint64_t emptyChunkedUpTo = firstSeq != 0 ? firstSeq - 1 : lastSeq_;
  keys_ = std::make_unique<KeyIndex>(firstSeq != 0 ? size_t(lastSeq_ - firstSeq + 1) : 0);
  bool consistent = true;
  uint64_t next = 0;  // first seq after the chunks read so far; 0 = no chunk yet
  {
    Stmt s = prepare("SELECT first_seq, hashes FROM message_keys ORDER BY first_seq");
    for (;;) {
      int rc = sqlite3_step(s.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(db_, rc, "load dedup key chunks");
      uint64_t first = uint64_t(sqlite3_column_int64(s.get(), 0));
      auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s.get(), 1));
      size_t bytes = size_t(sqlite3_column_bytes(s.get(), 1));
      bool startsRight = next != 0 ? first == next : (firstSeq == 0 || first <= firstSeq);
      if (bytes == 0 || bytes % 8 != 0 || !startsRight || first == 0) {
        consistent = false;
        break;
      }
      for (size_t i = 0; i < bytes / 8; ++i) {
        keys_->reserveOne();
        keys_->insert(loadLe64(p + 8 * i), first + i);
      }
      next = first + bytes / 8;
    }
  }
  chunkedUpTo_ = next != 0 ? next - 1 : emptyChunkedUpTo;
  if (!consistent || chunkedUpTo_ > lastSeq_) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, "DELETE FROM message_keys", nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) fail(db_, rc, "drop inconsistent dedup key chunks");
    keys_ = std::make_unique<KeyIndex>(firstSeq != 0 ? size_t(lastSeq_ - firstSeq + 1) : 0);
    chunkedUpTo_ = emptyChunkedUpTo;
  }
  pending_.clear();
  Stmt s = prepare("SELECT seq, sender, msg_id FROM messages WHERE seq > ?1 ORDER BY seq");
  sqlite3_bind_int64(s.get(), 1, toInt64(chunkedUpTo_));
  for (;;) {
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) fail(db_, rc, "load dedup keys of the newest messages");
    uint64_t seq = uint64_t(sqlite3_column_int64(s.get(), 0));
    uint64_t expected = chunkedUpTo_ + pending_.size() + 1;
    if (seq != expected) {
      throw JournalError("journal " + options_.path + ": messages are not contiguous: seq " + std::to_string(seq) +
                             " follows " + std::to_string(expected - 1),
                         false);
    }
    uint64_t h = keyHash(columnView(s.get(), 1), columnView(s.get(), 2));
    pending_.push_back(h);
    keys_->reserveOne();
    keys_->insert(h, seq);
  }
}

void SqliteJournal::openWalFd() {
  // The exact WAL name SQLite uses (it resolves symlinks in the database path).
  const char* walName = sqlite3_filename_wal(sqlite3_db_filename(db_, "main"));
  if (walName == nullptr || *walName == '\0') {
    throw JournalError("journal " + options_.path + ": cannot determine the WAL file name", false);
  }
  // The WAL exists by now: the reads above opened it (SQLite creates it with the first read in WAL mode).
  walFd_ = ::open(walName, O_RDWR | O_CLOEXEC);
  if (walFd_ < 0) {
    throw JournalError("journal " + options_.path + ": open " + walName + ": " + strerror(errno), false);
  }
  int dirFd = ::open(dirName(walName).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    int rc = ::fsync(dirFd);
    int err = errno;
    ::close(dirFd);
    if (rc != 0) {
      throw JournalError("journal " + options_.path + ": fsync of its directory: " + strerror(err), false);
    }
  }
}

void SqliteJournal::openCheckpointer() {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(options_.path.c_str(), &ckptDb_, flags,
                           options_.vfsName.empty() ? nullptr : options_.vfsName.c_str());
  if (rc != SQLITE_OK) fail(ckptDb_, rc, "open checkpointer connection");
  sqlite3_extended_result_codes(ckptDb_, 1);
  sqlite3_busy_handler(ckptDb_, &SqliteJournal::checkpointBusyHandler, this);
  // FULL: a checkpoint syncs the WAL before copying and the database before completing (see top).
  std::string sql = "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=" +
                    std::to_string(walKeptBytes(options_.walCheckpointPages, pageSizeBytes_)) +
                    "; PRAGMA cache_size=-1024";
  rc = sqlite3_exec(ckptDb_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(ckptDb_, rc, "configure checkpointer connection");
}

int SqliteJournal::checkpointBusyHandler(void* self, int attempts) {
  auto* j = static_cast<SqliteJournal*>(self);
  if (j->stopping_ || attempts >= kCheckpointBusyMaxMs) return 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 1;
}

void SqliteJournal::enterWriter() {
  std::unique_lock<std::mutex> lk(gateMutex_);
  gateCv_.wait(lk, [&] { return !restartWanted_; });
  writerActive_ = true;
}

void SqliteJournal::leaveWriter() {
  {
    std::lock_guard<std::mutex> lk(gateMutex_);
    writerActive_ = false;
  }
  gateCv_.notify_all();
}

void SqliteJournal::checkpointerLoop() {
  pthread_setname_np(pthread_self(), "journal-ckpt");  // for top -H and perf: whose thread this is
  std::unique_lock<std::mutex> lk(ckptMutex_);
  for (;;) {
    ckptCv_.wait_for(lk, std::chrono::milliseconds(options_.checkpointIntervalMs),
                     [&] { return stopping_.load(); });
    if (stopping_ || databaseSyncFailed_) return;
    lk.unlock();
    checkpointOnce();
    lk.lock();
  }
}

void SqliteJournal::checkpointOnce() {
  int logFrames = 0;
  int doneFrames = 0;
  auto record = [&](int rc, const char* mode) {
    std::lock_guard<std::mutex> lk(ckptMutex_);
    if (rc == SQLITE_OK) {
      ++(mode[0] == 'P' ? stats_.passiveCheckpoints : stats_.restartCheckpoints);
    } else if ((rc & 0xff) != SQLITE_BUSY && rc != SQLITE_INTERRUPT) {  // busy/interrupted: just retry
      ++stats_.checkpointErrors;
      stats_.lastCheckpointError = std::string(mode) + " checkpoint: " + sqlite3_errmsg(ckptDb_) +
                                   " (sqlite code " + std::to_string(rc) + ")";
    }
  };
  // A PASSIVE pass under load never reaches the end of the WAL, so SQLite does not sync the database
  // after it: the pages it copied stay dirty in the page cache, pass after pass, and the sync at the end
  // of the next RESTART, taken while the writer is paused, had to write all of them (measured: 10-14 ms
  // of the pause). Syncing after each pass, while the writer runs, leaves RESTART only its own tail.
  auto passive = [&] {
    int rc = sqlite3_wal_checkpoint_v2(ckptDb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &doneFrames);
    record(rc, "PASSIVE");
    if (rc == SQLITE_OK && doneFrames != syncedBackfill_) {
      if (!syncDatabase()) return false;
      syncedBackfill_ = doneFrames;
    }
    return rc == SQLITE_OK && !stopping_;
  };
  if (!passive() || logFrames < options_.walCheckpointPages) return;
  // The writer is paused for as long as RESTART takes, and RESTART must copy (and sync) whatever came
  // in during the PASSIVE pass. Further PASSIVE passes shrink that remainder while the writer runs:
  // each copies only what arrived during the previous one.
  for (int pass = 0; pass < kExtraPassiveMax; ++pass) {
    int before = logFrames;
    if (!passive()) return;
    if (logFrames - before < kSmallRemainderFrames) break;
  }

  {
    std::unique_lock<std::mutex> lk(gateMutex_);
    restartWanted_ = true;
    bool idle = gateCv_.wait_for(lk, kRestartGateWait, [&] { return !writerActive_ || stopping_; });
    if (!idle || stopping_) {
      restartWanted_ = false;
      lk.unlock();
      gateCv_.notify_all();
      return;
    }
  }
  int rc = sqlite3_wal_checkpoint_v2(ckptDb_, nullptr, SQLITE_CHECKPOINT_RESTART, &logFrames, &doneFrames);
  {
    std::lock_guard<std::mutex> lk(gateMutex_);
    restartWanted_ = false;
  }
  gateCv_.notify_all();
  record(rc, "RESTART");
  if (rc == SQLITE_OK) syncedBackfill_ = 0;  // RESTART synced the database; the WAL starts over
}

bool SqliteJournal::syncDatabase() {
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(ckptDb_, "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc == SQLITE_OK && file != nullptr && file->pMethods != nullptr) {
    rc = file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
  }
  if (rc == SQLITE_OK) return true;
  // After a failed sync the kernel may have dropped the pages it could not write, and a later sync would
  // then succeed without them. SQLite would take that success as licence to restart the WAL over frames
  // whose pages never reached the database, so no checkpoint may run again in this process, not even
  // the one SQLite runs when the last connection closes: flush() reports the failure from now on (the
  // broker stops), and reopening replays the WAL (recovery starts it over from its first frame), which
  // still holds every frame.
  std::lock_guard<std::mutex> lk(ckptMutex_);
  ++stats_.checkpointErrors;
  stats_.lastCheckpointError = "fdatasync of the database after a checkpoint failed (sqlite code " +
                               std::to_string(rc) + ")";
  databaseSyncFailed_ = true;
  return false;
}

SqliteJournalStats SqliteJournal::stats() const {
  std::lock_guard<std::mutex> lk(ckptMutex_);
  return stats_;
}

size_t SqliteJournal::dedupIndexBytes() const {
  return keys_->bytes() + pending_.capacity() * sizeof(uint64_t);
}

void SqliteJournal::begin() {
  if (inBatch_) throw std::logic_error("SqliteJournal::begin: a batch is already open");
  enterWriter();
  // A transaction left open by a ROLLBACK that failed earlier would make BEGIN fail forever.
  if (!sqlite3_get_autocommit(db_)) {
    sqlite3_step(stmts_->rollback.get());
    sqlite3_reset(stmts_->rollback.get());
  }
  sqlite3_stmt* s = stmts_->begin.get();
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) {
    leaveWriter();
    fail(db_, rc, "begin");
  }
  inBatch_ = true;
  batchStartSeq_ = lastSeq_;
}

int SqliteJournal::readKeyRow(uint64_t seq, std::string_view sender, std::string_view id, StoredMessage* out,
                              bool& match) {
  sqlite3_stmt* s = stmts_->rowBySeq.get();
  ResetOnExit reset{s};
  sqlite3_bind_int64(s, 1, toInt64(seq));
  int rc = sqlite3_step(s);
  match = false;
  if (rc == SQLITE_DONE) return SQLITE_OK;  // a stale key of a deleted message
  if (rc != SQLITE_ROW) return rc;
  match = columnView(s, 1) == sender && columnView(s, 2) == id;
  if (match && out != nullptr) readMessage(s, *out);
  return SQLITE_OK;
}

AppendResult SqliteJournal::append(const JournalEntry& e) {
  if (!inBatch_) throw std::logic_error("SqliteJournal::append outside begin()/commit()");
  auto context = [&] { return "append (" + std::string(e.sender) + ", " + std::string(e.id) + ")"; };
  uint64_t h = keyHash(e.sender, e.id);
  uint64_t original = 0;
  int rc = SQLITE_OK;
  keys_->anyOf(h, [&](uint64_t seq) {
    bool match = false;
    rc = readKeyRow(seq, e.sender, e.id, nullptr, match);
    if (match) original = seq;
    return rc != SQLITE_OK || match;
  });
  if (rc != SQLITE_OK) failBatch(rc, describe(db_, rc, context() + ": read the candidate duplicate"));
  if (original != 0) return {original, true};

  sqlite3_stmt* s = stmts_->insert.get();
  uint64_t seq = lastSeq_ + 1;
  rc = sqlite3_bind_int64(s, 1, int64_t(seq));
  if (rc == SQLITE_OK) rc = bindText(s, 2, e.sender);
  if (rc == SQLITE_OK) rc = bindText(s, 3, e.id);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 4, e.receivedMs);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, 5, e.kind);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, 6, e.urgent ? 1 : 0);
  if (rc == SQLITE_OK) rc = bindText(s, 7, e.destinations);
  if (rc == SQLITE_OK) rc = bindBlob(s, 8, e.body.begin(), e.body.size());
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_reset(s);
  if (rc == SQLITE_OK && !e.origin.empty()) {
    sqlite3_stmt* o = stmts_->insertOrigin.get();
    rc = bindText(o, 1, e.origin);
    if (rc == SQLITE_OK) rc = bindText(o, 2, e.id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(o, 3, int64_t(seq));
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(o);
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_reset(o);
  }
  if (rc != SQLITE_OK) failBatch(rc, describe(db_, rc, context()));
  try {
    pending_.push_back(h);
    keys_->reserveOne();
  } catch (const std::bad_alloc&) {
    failBatch(SQLITE_NOMEM, "journal " + options_.path + ": " + context() + ": out of memory for the dedup index");
  }
  keys_->insert(h, seq);
  lastSeq_ = seq;
  return {seq, false};
}

void SqliteJournal::saveOutletState(const OutletState& state) {
  if (!inBatch_) throw std::logic_error("SqliteJournal::saveOutletState outside begin()/commit()");
  std::string& buf = stmts_->scratch;
  buf.resize(state.ackedAbove.size() * 8);
  for (size_t i = 0; i < state.ackedAbove.size(); ++i) storeLe64(state.ackedAbove[i], &buf[i * 8]);
  sqlite3_stmt* s = stmts_->saveOutlet.get();
  int rc = bindText(s, 1, state.outlet);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 2, toInt64(state.cursor));
  if (rc == SQLITE_OK) rc = bindBlob(s, 3, buf.data(), buf.size());
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_OK) failBatch(rc, describe(db_, rc, "save outlet state " + state.outlet));
}

void SqliteJournal::commit() {
  if (!inBatch_) throw std::logic_error("SqliteJournal::commit without begin()");
  // Persist every full chunk of key hashes in the same transaction as the messages they index. The
  // in-memory bookkeeping moves only after COMMIT succeeded, so a failure leaves nothing to undo.
  size_t chunks = pending_.size() / kChunkKeys;
  std::string& buf = stmts_->scratch;
  for (size_t c = 0; c < chunks; ++c) {
    buf.resize(kChunkKeys * 8);
    for (size_t i = 0; i < kChunkKeys; ++i) storeLe64(pending_[c * kChunkKeys + i], &buf[i * 8]);
    sqlite3_stmt* s = stmts_->insertChunk.get();
    int rc = sqlite3_bind_int64(s, 1, toInt64(chunkedUpTo_ + 1 + c * kChunkKeys));
    if (rc == SQLITE_OK) rc = bindBlob(s, 2, buf.data(), buf.size());
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_OK) failBatch(rc, describe(db_, rc, "commit: save dedup key chunk"));
  }
  sqlite3_stmt* s = stmts_->commit.get();
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) failBatch(rc, describe(db_, rc, "commit"));
  if (chunks > 0) {
    pending_.erase(pending_.begin(), pending_.begin() + ptrdiff_t(chunks * kChunkKeys));
    chunkedUpTo_ += chunks * kChunkKeys;
  }
  inBatch_ = false;
  leaveWriter();
}

void SqliteJournal::rollback() {
  if (!inBatch_) return;
  rollbackNoThrow();
}

void SqliteJournal::flush() {
  if (databaseSyncFailed_) {
    std::string why = stats().lastCheckpointError;
    throw JournalError("journal " + options_.path + ": " + why + "; reopen the journal", false);
  }
  if (walFd_ < 0) return;  // Sync::Normal
  while (::fdatasync(walFd_) != 0) {
    if (errno == EINTR) continue;
    throw JournalError("journal " + options_.path + ": fdatasync of the WAL: " + strerror(errno) +
                           "; durability of recent commits unknown, reopen the journal",
                       false);
  }
}

void SqliteJournal::syncWal(const char* context) {
  if (walFd_ < 0) return;
  while (::fdatasync(walFd_) != 0) {
    if (errno == EINTR) continue;
    throw JournalError("journal " + options_.path + ": " + context + ": fdatasync of the WAL: " +
                           strerror(errno),
                       false);
  }
}

size_t SqliteJournal::scan(uint64_t afterSeq, size_t limit, const std::function<bool(StoredMessage&)>& fn) {
  if (limit == 0) return 0;
  // A callback that scans again (nested) gets its own statement; the cached one is busy.
  Stmt nested;
  sqlite3_stmt* s = stmts_->scan.get();
  if (sqlite3_stmt_busy(s)) {
    sqlite3_stmt* raw = nullptr;
    std::string sql = std::string("SELECT ") + kMessageColumns +
                      " FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2";
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr);
    if (rc != SQLITE_OK) failRead(rc, "scan: prepare");
    nested = Stmt(raw);
    s = raw;
  }
  ResetOnExit reset{s};
  sqlite3_bind_int64(s, 1, toInt64(afterSeq));
  sqlite3_bind_int64(s, 2, toInt64(limit));
  StoredMessage m;
  size_t visited = 0;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) failRead(rc, "scan after seq " + std::to_string(afterSeq));
    readMessage(s, m);
    ++visited;
    if (!fn(m)) break;
  }
  return visited;
}

bool SqliteJournal::find(std::string_view sender, std::string_view id, StoredMessage& out) {
  uint64_t h = keyHash(sender, id);
  bool found = false;
  int rc = SQLITE_OK;
  keys_->anyOf(h, [&](uint64_t seq) {
    rc = readKeyRow(seq, sender, id, &out, found);
    return rc != SQLITE_OK || found;
  });
  if (rc != SQLITE_OK) failRead(rc, "find (" + std::string(sender) + ", " + std::string(id) + ")");
  return found;
}

void SqliteJournal::findReferenced(std::string_view sender, std::string_view id, size_t limit,
                                   const std::function<void(StoredMessage&)>& fn) {
  if (limit == 0) return;
  std::vector<uint64_t> seqs;
  StoredMessage byAgency, m;  // find() has read the agency's row already: it is not read again below
  if (find(sender, id, byAgency)) seqs.push_back(byAgency.seq);
  {
    sqlite3_stmt* q = stmts_->seqsByOrigin.get();
    ResetOnExit reset{q};
    bindText(q, 1, sender);
    bindText(q, 2, id);
    sqlite3_bind_int64(q, 3, toInt64(limit));
    for (;;) {
      int rc = sqlite3_step(q);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) failRead(rc, "find by origin (" + std::string(sender) + ", " + std::string(id) + ")");
      uint64_t seq = uint64_t(sqlite3_column_int64(q, 0));
      if (std::find(seqs.begin(), seqs.end(), seq) == seqs.end()) seqs.push_back(seq);
    }
  }
  std::sort(seqs.begin(), seqs.end());
  if (seqs.size() > limit) seqs.resize(limit);
  for (uint64_t seq : seqs) {
    if (byAgency.seq == seq) {
      fn(byAgency);
      continue;
    }
    sqlite3_stmt* s = stmts_->rowBySeq.get();
    ResetOnExit reset{s};
    sqlite3_bind_int64(s, 1, toInt64(seq));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) continue;  // gone (a future retention may delete old rows)
    if (rc != SQLITE_ROW) failRead(rc, "read referenced seq " + std::to_string(seq));
    readMessage(s, m);
    sqlite3_reset(s);
    fn(m);
  }
}

std::vector<OutletState> SqliteJournal::loadOutletStates() {
  sqlite3_stmt* s = stmts_->loadOutlets.get();
  ResetOnExit reset{s};
  std::vector<OutletState> states;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) failRead(rc, "load outlet states");
    OutletState st;
    st.outlet.assign(columnView(s, 0));
    st.cursor = uint64_t(sqlite3_column_int64(s, 1));
    auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s, 2));
    size_t n = size_t(sqlite3_column_bytes(s, 2));
    if (n % 8 != 0) {
      throw JournalError("journal " + options_.path + ": outlet " + st.outlet + ": acked_above has " +
                             std::to_string(n) + " bytes, not a multiple of 8",
                         false);
    }
    st.ackedAbove.reserve(n / 8);
    for (size_t i = 0; i < n; i += 8) st.ackedAbove.push_back(loadLe64(p + i));
    states.push_back(std::move(st));
  }
  return states;
}

uint64_t SqliteJournal::count() {
  sqlite3_stmt* s = stmts_->minSeq.get();
  ResetOnExit reset{s};
  int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) failRead(rc, "count");
  if (sqlite3_column_type(s, 0) == SQLITE_NULL) return 0;
  uint64_t first = uint64_t(sqlite3_column_int64(s, 0));
  return lastSeq_ >= first ? lastSeq_ - first + 1 : 0;
}

int64_t SqliteJournal::putConfig(std::string_view name, std::string_view text, int64_t nowMs) {
  if (inBatch_) throw std::logic_error("SqliteJournal::putConfig inside begin()/commit()");
  begin();  // a batch without messages: same gate, same rollback on error
  sqlite3_stmt* q = stmts_->configLatest.get();
  int64_t version = 0;
  {
    ResetOnExit reset{q};
    bindText(q, 1, name);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      version = sqlite3_column_int64(q, 0);
      if (columnView(q, 1) == text) {
        sqlite3_reset(q);
        rollbackNoThrow();  // nothing was written
        return version;
      }
    } else if (rc != SQLITE_DONE) {
      failBatch(rc, describe(db_, rc, "put config " + std::string(name)));
    }
  }
  sqlite3_stmt* s = stmts_->configInsert.get();
  int rc = bindText(s, 1, name);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 2, version + 1);
  if (rc == SQLITE_OK) rc = bindText(s, 3, text);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 4, nowMs);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_OK) failBatch(rc, describe(db_, rc, "put config " + std::string(name)));
  commit();
  syncWal("put config");
  return version + 1;
}

std::string SqliteJournal::getConfig(std::string_view name, int64_t* version) {
  sqlite3_stmt* q = stmts_->configLatest.get();
  ResetOnExit reset{q};
  bindText(q, 1, name);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    if (version != nullptr) *version = 0;
    return {};
  }
  if (rc != SQLITE_ROW) failRead(rc, "get config " + std::string(name));
  if (version != nullptr) *version = sqlite3_column_int64(q, 0);
  return std::string(columnView(q, 1));
}

}  // namespace alertbus
