// What an adapter has already handed to the broker, so an input read twice (a feed polled again, a file
// dropped twice, a restart) is published once. Keyed by message id; the value is a hash of the content
// the adapter received (provenance.original), so "same id, other content" is told apart from a plain
// repeat. Also keeps the adapter's own state (thresholds crossed, fire clusters, ...) as one text blob.
// SQLite file (synchronous=FULL) or in memory (dry runs). One thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;

namespace alertbus::adapter {

class SeenStore {
 public:
  enum class Verdict { fresh, duplicate, changed };

  // path "" = in memory. Throws std::runtime_error naming the file when it cannot be opened or is not
  // an alertbus adapter state file.
  explicit SeenStore(const std::string& path);
  ~SeenStore();
  SeenStore(const SeenStore&) = delete;
  SeenStore& operator=(const SeenStore&) = delete;

  Verdict check(std::string_view id, uint64_t contentHash);
  // Records id (inside the open batch; durable at commit()).
  void remember(std::string_view id, uint64_t contentHash, int64_t nowMs);
  // Adapter state blob ("" if never saved).
  std::string loadState();
  void saveState(std::string_view state);
  // Makes everything since the last commit durable (one transaction).
  void commit();
  // Forgets ids first seen before cutoffMs; returns how many.
  uint64_t prune(int64_t cutoffMs);
  uint64_t size();

 private:
  void begin();
  sqlite3* db_ = nullptr;
  bool inTxn_ = false;
  std::string path_;
};

// 64-bit FNV-1a: stable across builds and machines (std::hash is not), for SeenStore content hashes.
uint64_t contentHash(std::string_view bytes);

}  // namespace alertbus::adapter
