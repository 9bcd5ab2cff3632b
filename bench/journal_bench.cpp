// journal_bench: SqliteJournal throughput next to its baseline, measured in the same run on the same
// disk: (a) bare SQLite inserts, WAL + synchronous=FULL, 64-row transactions, and (a') the same with a
// UNIQUE(sender, msg_id) dedup index (the straightforward design SqliteJournal avoids); (b)
// SqliteJournal batches of 64 with flush() on the writer thread; (c) the same with flush() on a second
// thread, pipelined as the broker does; (d) open time of a journal holding 1,000,000 messages, after a
// clean close and after a crash that left a full WAL; (e) (c) again on top of those 1,000,000.
// Messages carry 300-byte bodies and random UUID-like ids (publishers choose ids; they are not ordered).
// Usage: journal_bench [dir (default $TMPDIR or /tmp)] [seconds per throughput phase (default 4)]
//                      [walCheckpointPages (default: SqliteJournalOptions's)]
#include "broker/sqlite_journal.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using alertbus::JournalEntry;
using alertbus::SqliteJournal;
using alertbus::SqliteJournalOptions;
using alertbus::StoredMessage;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kBatch = 64;
constexpr size_t kBodyBytes = 300;
constexpr uint64_t kBigJournal = 1000000;
int walPages = SqliteJournalOptions().walCheckpointPages;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Generates the n-th message: a random UUID-like id, 300 pseudo-random bytes. `seed` keeps the ids of
// different phases apart.
struct Generator {
  explicit Generator(uint64_t seed = 1) : x(88172645463325252ull * seed) {}
  std::string body = std::string(kBodyBytes, '\0');
  std::string id;
  uint64_t x;
  uint64_t rand() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  JournalEntry next(uint64_t n) {
    for (size_t i = 0; i < body.size(); i += 8) {
      uint64_t r = rand();
      memcpy(&body[i], &r, std::min<size_t>(8, body.size() - i));
    }
    char buf[48];
    snprintf(buf, sizeof buf, "urn:uuid:%016llx%016llx", (unsigned long long)rand(), (unsigned long long)rand());
    id = buf;
    JournalEntry e;
    e.sender = senders[n % 4];
    e.id = id;
    e.receivedMs = 1700000000000 + int64_t(n);
    e.kind = 2;
    e.urgent = n % 10 == 0;
    e.destinations = "dashboard:city-desk\nsms:flood-duty-officers";
    e.body = kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(body.data()), body.size());
    return e;
  }
  static constexpr const char* senders[4] = {"met", "water", "fire", "maritime"};
};

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "journal_bench: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
  }
}

// (a) Bare SQLite: the same table, WAL, synchronous=FULL (fsync at every commit), SQLite's default
// autocheckpoint inside commits. (a') adds the UNIQUE(sender, msg_id) index a dedup check would use.
double baselineRowsPerSecond(const std::string& path, double seconds, bool dedupIndex) {
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db, "open");
  check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE messages(seq INTEGER PRIMARY KEY, sender TEXT NOT NULL, msg_id TEXT NOT NULL,"
                     " received_ms INTEGER NOT NULL, kind INTEGER NOT NULL, urgent INTEGER NOT NULL,"
                     " dests TEXT NOT NULL, body BLOB NOT NULL);",
                     nullptr, nullptr, nullptr),
        db, "schema");
  if (dedupIndex) {
    check(sqlite3_exec(db, "CREATE UNIQUE INDEX messages_dedup ON messages(sender, msg_id)", nullptr, nullptr,
                       nullptr),
          db, "index");
  }
  sqlite3_stmt* ins = nullptr;
  check(sqlite3_prepare_v2(db,
                           "INSERT INTO messages(sender, msg_id, received_ms, kind, urgent, dests, body)"
                           " VALUES(?, ?, ?, ?, ?, ?, ?)",
                           -1, &ins, nullptr),
        db, "prepare");
  Generator gen;
  uint64_t n = 0;
  auto start = Clock::now();
  while (secondsSince(start) < seconds) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (int i = 0; i < kBatch; ++i, ++n) {
      JournalEntry e = gen.next(n);
      sqlite3_bind_text(ins, 1, e.sender.data(), int(e.sender.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins, 2, e.id.data(), int(e.id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(ins, 3, e.receivedMs);
      sqlite3_bind_int(ins, 4, e.kind);
      sqlite3_bind_int(ins, 5, e.urgent);
      sqlite3_bind_text(ins, 6, e.destinations.data(), int(e.destinations.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 7, e.body.begin(), int(e.body.size()), SQLITE_STATIC);
      check(sqlite3_step(ins), db, "insert");
      sqlite3_reset(ins);
    }
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  double rate = double(n) / secondsSince(start);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return rate;
}

SqliteJournalOptions journalOptions(const std::string& path) {
  SqliteJournalOptions o;
  o.path = path;
  o.sync = SqliteJournalOptions::Sync::Full;
  o.walCheckpointPages = walPages;
  return o;
}

struct Result {
  double msgsPerSecond = 0;
  double maxBatchMs = 0;         // longest begin..commit (shows checkpointer RESTART pauses)
  double ackP50Ms = 0, ackP99Ms = 0, ackMaxMs = 0;  // commit returned -> flush returned
  alertbus::SqliteJournalStats stats;
};

void percentiles(std::vector<double>& v, Result& r) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  r.ackP50Ms = v[v.size() / 2];
  r.ackP99Ms = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  r.ackMaxMs = v.back();
}

// (b) append+commit+flush, all on one thread: every batch waits for its own fdatasync.
Result journalSameThread(const std::string& path, double seconds) {
  SqliteJournal j(journalOptions(path));
  Generator gen(2);
  Result r;
  std::vector<double> acks;
  uint64_t n = 0;
  auto start = Clock::now();
  while (secondsSince(start) < seconds) {
    auto t0 = Clock::now();
    j.begin();
    for (int i = 0; i < kBatch; ++i, ++n) j.append(gen.next(n));
    j.commit();
    auto t1 = Clock::now();
    j.flush();
    r.maxBatchMs = std::max(r.maxBatchMs, std::chrono::duration<double, std::milli>(t1 - t0).count());
    acks.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
  }
  r.msgsPerSecond = double(n) / secondsSince(start);
  r.stats = j.stats();
  percentiles(acks, r);
  return r;
}

// (c) the broker's shape: the writer commits batch after batch; a flusher thread fdatasyncs whatever
// has been committed since its last flush (one sync covers many batches) and then "acks" it. The
// writer may run at most kMaxAhead batches ahead of the last ack (bounded, as in the broker).
Result journalPipelined(const std::string& path, double seconds, uint64_t seed) {
  constexpr uint64_t kMaxAhead = 32;
  SqliteJournal j(journalOptions(path));
  Generator gen(seed);
  Result r;
  std::mutex mu;
  std::condition_variable cv;
  uint64_t committedBatches = 0, ackedBatches = 0;  // guarded by mu
  std::vector<Clock::time_point> commitTimes;        // guarded by mu
  std::vector<double> acks;                           // flusher only
  bool done = false;
  std::thread flusher([&] {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return committedBatches > ackedBatches || done; });
      if (committedBatches == ackedBatches && done) return;
      uint64_t upTo = committedBatches;
      lk.unlock();
      j.flush();
      auto now = Clock::now();
      lk.lock();
      for (uint64_t b = ackedBatches; b < upTo; ++b) {
        acks.push_back(std::chrono::duration<double, std::milli>(now - commitTimes[b]).count());
      }
      ackedBatches = upTo;
      cv.notify_all();
    }
  });
  uint64_t n = 0;
  uint64_t before = j.lastSeq();
  auto start = Clock::now();
  while (secondsSince(start) < seconds) {
    {
      std::unique_lock<std::mutex> lk(mu);
      cv.wait(lk, [&] { return committedBatches - ackedBatches < kMaxAhead; });
    }
    auto t0 = Clock::now();
    j.begin();
    for (int i = 0; i < kBatch; ++i, ++n) j.append(gen.next(n));
    j.commit();
    auto t1 = Clock::now();
    r.maxBatchMs = std::max(r.maxBatchMs, std::chrono::duration<double, std::milli>(t1 - t0).count());
    {
      std::lock_guard<std::mutex> lk(mu);
      commitTimes.push_back(t1);
      ++committedBatches;
    }
    cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lk(mu);
    done = true;
  }
  cv.notify_all();
  flusher.join();
  r.msgsPerSecond = double(n) / secondsSince(start);  // every message is acked (flushed) by now
  if (j.lastSeq() - before != n) {
    fprintf(stderr, "journal_bench: %llu of %llu appends were taken for duplicates\n",
            (unsigned long long)(n - (j.lastSeq() - before)), (unsigned long long)n);
    exit(1);
  }
  r.stats = j.stats();
  percentiles(acks, r);
  return r;
}

void printJournal(const char* label, const Result& r, double baseline) {
  printf("journal_bench: %s: %.0f msgs/s (%.2fx baseline); ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms;"
         " longest batch %.2f ms; checkpoints %llu passive, %llu restart, %llu errors\n",
         label, r.msgsPerSecond, r.msgsPerSecond / baseline, r.ackP50Ms, r.ackP99Ms, r.ackMaxMs, r.maxBatchMs,
         (unsigned long long)r.stats.passiveCheckpoints, (unsigned long long)r.stats.restartCheckpoints,
         (unsigned long long)r.stats.checkpointErrors);
  fflush(stdout);
}

// Opens the journal as a restarting broker does and touches what it reads first.
double reopenMs(const std::string& path, uint64_t expectLast, size_t* dedupBytes = nullptr) {
  auto t0 = Clock::now();
  SqliteJournal j(journalOptions(path));
  uint64_t last = j.lastSeq();
  uint64_t count = j.count();
  j.loadOutletStates();
  size_t tail = j.scan(last - 1, 10, [](StoredMessage&) { return true; });
  double ms = secondsSince(t0) * 1000;
  if (dedupBytes != nullptr) *dedupBytes = j.dedupIndexBytes();
  if (last != expectLast || count != expectLast || tail != 1) {
    fprintf(stderr, "journal_bench: reopen: lastSeq %llu count %llu tail %zu, expected %llu\n",
            (unsigned long long)last, (unsigned long long)count, tail, (unsigned long long)expectLast);
    exit(1);
  }
  return ms;
}

uint64_t fileBytes(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = getenv("TMPDIR");
  std::string base = argc > 1 ? argv[1] : (tmp && *tmp ? tmp : "/tmp");
  double seconds = argc > 2 ? atof(argv[2]) : 4.0;
  if (argc > 3) walPages = atoi(argv[3]);
  std::string tmpl = base + "/journal_bench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    perror("journal_bench: mkdtemp");
    return 1;
  }
  std::string dir = buf.data();
  printf("journal_bench: dir %s, %d-message batches, %zu-byte bodies, %.1f s per phase, walCheckpointPages %d,"
         " sqlite %s\n",
         dir.c_str(), kBatch, kBodyBytes, seconds, walPages, sqlite3_libversion());
  fflush(stdout);
  int rc = 0;
  try {
    double baseline = baselineRowsPerSecond(dir + "/baseline.db", seconds, false);
    printf("journal_bench: (a) baseline: bare sqlite inserts, WAL synchronous=FULL, autocheckpoint, 64-row txns:"
           " %.0f rows/s\n",
           baseline);
    fflush(stdout);
    double naive = baselineRowsPerSecond(dir + "/naive.db", seconds, true);
    printf("journal_bench: (a') the same plus UNIQUE(sender, msg_id) for dedup: %.0f rows/s (%.2fx baseline)\n",
           naive, naive / baseline);
    fflush(stdout);
    printJournal("(b) SqliteJournal, flush on the writer thread", journalSameThread(dir + "/same.db", seconds),
                 baseline);
    printJournal("(c) SqliteJournal, flush pipelined on a second thread",
                 journalPipelined(dir + "/piped.db", seconds, 3), baseline);

    // (d) A journal of 1,000,000 messages, created once (Sync::Normal: only its open time matters).
    std::string big = dir + "/big.db";
    auto t0 = Clock::now();
    {
      SqliteJournalOptions o = journalOptions(big);
      o.sync = SqliteJournalOptions::Sync::Normal;
      SqliteJournal j(o);
      Generator gen(4);
      for (uint64_t n = 0; n < kBigJournal;) {
        j.begin();
        for (int i = 0; i < 1000; ++i, ++n) j.append(gen.next(n));
        j.commit();
      }
    }
    printf("journal_bench: create 1000000 messages (incl. final checkpoint at close): %.1f s, %.0f MB\n",
           secondsSince(t0), fileBytes(big) / 1e6);
    fflush(stdout);
    size_t dedupBytes = 0;
    double ms = reopenMs(big, kBigJournal, &dedupBytes);
    printf("journal_bench: reopen with 1000000 messages: %.1f ms (dedup index %.0f MB of RAM)\n", ms,
           dedupBytes / 1e6);
    fflush(stdout);
    printJournal("(e) as (c), on top of the 1000000-message journal", journalPipelined(big, seconds, 5), baseline);

    // After a crash: a child appends until the WAL holds walCheckpointPages frames with the checkpointer
    // held off, then dies without closing (as kill -9 would). The reopen includes WAL recovery.
    uint64_t appended = 0;
    uint64_t first = 0;
    {
      SqliteJournal j(journalOptions(big));
      first = j.lastSeq();
    }
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      SqliteJournalOptions o = journalOptions(big);
      o.checkpointIntervalMs = 3600 * 1000;
      SqliteJournal j(o);
      Generator gen(6);
      uint64_t n = j.lastSeq();
      uint64_t walLimit = uint64_t(walPages) * 4096;
      while (fileBytes(big + "-wal") < walLimit) {
        j.begin();
        for (int i = 0; i < kBatch; ++i, ++n) j.append(gen.next(n));
        j.commit();
        j.flush();
      }
      uint64_t last = j.lastSeq();
      ssize_t w = write(fds[1], &last, sizeof last);
      _exit(w == sizeof last ? 0 : 1);
    }
    close(fds[1]);
    uint64_t last = 0;
    bool ok = read(fds[0], &last, sizeof last) == sizeof last;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("crash child failed");
    appended = last - first;
    uint64_t walBytes = fileBytes(big + "-wal");
    printf("journal_bench: reopen with %llu messages after a crash, WAL %.0f MB (%llu unmerged messages): %.1f ms\n",
           (unsigned long long)last, walBytes / 1e6, (unsigned long long)appended, reopenMs(big, last));
  } catch (const std::exception& e) {
    fprintf(stderr, "journal_bench: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
