// The durable journal behind an interface, so it can move onto dqlite (see DESIGN.md) without touching
// the broker. Implementation: SqliteJournal (sqlite_journal.h). Routing and fusion never include this.
//
// Threads: one writer thread calls everything except flush(); exactly one other thread (the flusher)
// calls flush(). No other concurrency.
#pragma once

#include <kj/array.h>
#include <capnp/common.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace alertbus {

// Thrown by any Journal call when the store fails (disk full, I/O error, corruption, busy beyond the
// timeout). `transient` says whether retrying later may succeed (full disk, busy) or not (corruption).
class JournalError : public std::runtime_error {
 public:
  JournalError(const std::string& what, bool transient) : std::runtime_error(what), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

struct JournalEntry {                 // one accepted message, as appended
  std::string_view sender;            // authenticated agency
  std::string_view id;                // sender-unique id; (sender, id) is the dedup key
  int64_t receivedMs = 0;             // broker clock when accepted
  uint8_t kind = 0;                   // alertbus::Kind as integer
  bool urgent = false;                // level I/II traffic
  std::string_view destinations;      // routed "outlet:target" entries joined by '\n' ("" = none); an
                                      // entry an update/cancel follows from its original carries
                                      // "\t<seq>[,<seq>...]" (see followsOf in delivery.h)
  std::string_view origin;            // Message.origin (CAP sender), "" if none: references may name it
  kj::ArrayPtr<const kj::byte> body;  // the Message bytes exactly as published
};

struct AppendResult {
  uint64_t seq = 0;                   // > 0
  bool duplicate = false;             // (sender, id) already present: seq is the original's, nothing written
};

struct StoredMessage {
  uint64_t seq = 0;
  std::string sender;
  std::string id;
  int64_t receivedMs = 0;
  uint8_t kind = 0;
  bool urgent = false;
  std::string destinations;
  kj::Array<capnp::word> body;        // 8-byte aligned copy; bodySizeBytes says how much is used
  size_t bodySizeBytes = 0;
  kj::ArrayPtr<const kj::byte> bodyBytes() const { return body.asBytes().slice(0, bodySizeBytes); }
};

struct OutletState {                  // durable delivery progress of one outlet
  std::string outlet;
  uint64_t cursor = 0;                // every seq <= cursor is acknowledged
  std::vector<uint64_t> ackedAbove;   // acknowledged seqs > cursor (urgent traffic overtakes), ascending
};

class Journal {
 public:
  virtual ~Journal() = default;

  // Group commit: begin() ... append()* saveOutletState()* ... commit(). Appends are visible to scan()
  // immediately but durable only once flush() has returned after commit() returned. On a JournalError
  // from append/commit the batch is rolled back: none of its appends exist.
  virtual void begin() = 0;
  virtual AppendResult append(const JournalEntry& entry) = 0;
  virtual void saveOutletState(const OutletState& state) = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;        // no-op when no batch is open

  // Makes every commit() that returned before this call durable (fdatasync of the log). Called by the
  // flusher thread only; may run concurrently with the writer's begin/append/commit.
  virtual void flush() = 0;

  // Highest seq ever assigned (0 for an empty journal). Cheap.
  virtual uint64_t lastSeq() const = 0;
  // Calls `fn` for up to `limit` messages with seq > afterSeq in ascending order; stops early if fn
  // returns false. Returns how many were visited.
  virtual size_t scan(uint64_t afterSeq, size_t limit, const std::function<bool(StoredMessage&)>& fn) = 0;
  // Looks up one message by (sender, id); returns false if absent.
  virtual bool find(std::string_view sender, std::string_view id, StoredMessage& out) = 0;
  // The messages a CAP reference (sender, id) names: the one journaled by agency `sender` with that id,
  // and those whose Message.origin is `sender` with that id (the same CAP alert relayed by several
  // agencies is several messages), in ascending seq, at most `limit`. Calls fn for each (the
  // StoredMessage is reused between calls). Sees the open batch's appends.
  virtual void findReferenced(std::string_view sender, std::string_view id, size_t limit,
                              const std::function<void(StoredMessage&)>& fn) = 0;
  virtual std::vector<OutletState> loadOutletStates() = 0;
  // Number of journaled messages (for status); may be approximate only after a crash recovery.
  virtual uint64_t count() = 0;

  // Versioned configuration documents (agency registry, routing rules): appends a new version if `text`
  // differs from the latest of that name; returns the latest version number (1-based). Own transaction:
  // must not be called inside begin()/commit().
  virtual int64_t putConfig(std::string_view name, std::string_view text, int64_t nowMs) = 0;
  // Latest text of a config document, or "" if none.
  virtual std::string getConfig(std::string_view name, int64_t* version = nullptr) = 0;
};

}  // namespace alertbus
