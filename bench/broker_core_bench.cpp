// CPU cost per published message of the broker core alone (decode, validate, authorise, route, journal,
// ack, deliver, delivery ack), without sockets: frames are fed to BrokerCore directly, over a real
// SqliteJournal (fsync off: this measures CPU, not the disk), next to a baseline in the same run: bare
// SQLite inserts of the same bodies in transactions of the same size. Also usable under
// `valgrind --tool=callgrind` to count instructions. Usage: bench_broker_core [messages]
#include <capnp/message.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <unistd.h>

#include "bench/bench_message.h"
#include "broker/broker_core.h"
#include "broker/sqlite_journal.h"
#include "model/flat.h"

using namespace alertbus;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kBatch = 1024;

struct CountingSink : FrameSink {
  std::vector<uint64_t> delivered;  // seqs the outlet should ack
  size_t frames = 0;
  bool send(std::string_view peer, kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override {
    ++frames;
    if (peer == "outlet") {
      // Only Deliver frames matter: read the seq back as an outlet would.
      std::vector<kj::byte> flat(flatSize(segments));
      writeFlat(segments, flat.data());
      kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(flat.data()), flat.size() / 8);
      capnp::FlatArrayMessageReader r(words);
      auto f = r.getRoot<schema::Frame>();
      if (f.isDeliver()) delivered.push_back(f.getDeliver().getSeq());
    }
    return true;
  }
};

kj::Array<capnp::word> frameOf(const std::function<void(schema::Frame::Builder)>& fill) {
  capnp::MallocMessageBuilder b;
  fill(b.initRoot<schema::Frame>());
  return capnp::messageToFlatArray(b);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::stoul(argv[1]) : 200000;
  std::string dir = std::filesystem::temp_directory_path() / ("bench-core-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<RuleError> errors;
  auto registry = Registry::parse(
      "[[agency]]\nname = \"met\"\nrole = \"adapter\"\npublic_key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
      "publish_kinds = [\"*\"]\n[[agency]]\nname = \"out\"\nrole = \"outlet\"\n"
      "public_key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\npublish_kinds = [\"ack\"]\nserve_outlets = [\"dashboard\"]\n",
      "bench-agencies", dir, errors);
  auto rules = RuleSet::parse("[[rule]]\nname = \"all\"\nto = [\"dashboard:bench\"]\n", "bench-rules", errors);
  if (!registry || !rules) {
    for (auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
    return 1;
  }
  // Pre-built frames: the measurement covers the broker, not the building of test input.
  std::vector<kj::Array<capnp::word>> publishes;
  publishes.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto body = bench::paddedWarning("m-" + std::to_string(i));
    publishes.push_back(frameOf([&](schema::Frame::Builder f) {
      auto p = f.initPublish();
      p.setToken(i + 1);
      p.setMessage(body.asBytes());
    }));
  }
  auto hello = [](const char* agency) {
    return frameOf([&](schema::Frame::Builder f) {
      auto h = f.initHello();
      h.setProtocolVersion(schema::PROTOCOL_VERSION);
      h.setAgency(agency);
    });
  };
  auto subscribe = frameOf([](schema::Frame::Builder f) {
    auto s = f.initSubscribe();
    s.setOutlet("dashboard");
    s.setCredit(10000);
  });

  double coreSeconds;
  {
    SqliteJournalOptions jo;
    jo.path = dir + "/journal.db";
    jo.sync = SqliteJournalOptions::Sync::Normal;
    SqliteJournal journal(jo);
    CountingSink sink;
    Logger log(LogLevel::warn);
    BrokerOptions bo;
    bo.curve = false;
    bo.maxPendingAcks = n + 1;
    int64_t fakeNow = 1700000000000;
    BrokerCore core(journal, sink, log, registry, rules, bo, [&] { return fakeNow; });
    auto feed = [&](const char* peer, const kj::Array<capnp::word>& f) {
      core.onFrame(peer, f.begin(), f.asBytes().size(), "");
    };
    auto h1 = hello("met"), h2 = hello("out");
    feed("pub", h1);
    feed("outlet", h2);
    feed("outlet", subscribe);
    auto t0 = Clock::now();
    for (size_t i = 0; i < n; i += kBatch) {
      for (size_t k = i; k < std::min(n, i + kBatch); ++k) feed("pub", publishes[k]);
      if (auto id = core.endTurn()) core.onDurable(*id);
      // The outlet acknowledges what it was sent, one DeliverAck per turn.
      if (!sink.delivered.empty()) {
        auto ack = frameOf([&](schema::Frame::Builder f) {
          auto seqs = f.initDeliverAck().initSeqs(sink.delivered.size());
          for (size_t j = 0; j < sink.delivered.size(); ++j) seqs.set(j, sink.delivered[j]);
        });
        sink.delivered.clear();
        feed("outlet", ack);
      }
    }
    for (int k = 0; k < 3; ++k) {
      if (auto id = core.endTurn()) core.onDurable(*id);
    }
    coreSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  // Baseline: bare SQLite inserts of the same bodies, same batch size, same pragmas (no fsync).
  double sqliteSeconds;
  {
    sqlite3* db;
    sqlite3_open((dir + "/bare.db").c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; CREATE TABLE m(seq INTEGER PRIMARY KEY, id TEXT, body BLOB);",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* st;
    sqlite3_prepare_v2(db, "INSERT INTO m(id, body) VALUES (?, ?)", -1, &st, nullptr);
    auto t0 = Clock::now();
    for (size_t i = 0; i < n; i += kBatch) {
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      for (size_t k = i; k < std::min(n, i + kBatch); ++k) {
        std::string id = "m-" + std::to_string(k);
        sqlite3_bind_text(st, 1, id.data(), id.size(), SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, publishes[k].begin(), publishes[k].asBytes().size(), SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
      }
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    sqliteSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  std::filesystem::remove_all(dir);
  printf("broker_core_bench: %zu messages of ~300 bytes, batches of %zu\n", n, kBatch);
  printf("  bare SQLite insert (baseline)           %6.2f us/msg\n", sqliteSeconds / n * 1e6);
  printf("  broker core, publish->ack->deliver->ack %6.2f us/msg   ratio %.2f\n", coreSeconds / n * 1e6,
         coreSeconds / sqliteSeconds);
  return 0;
}
