// Outlet backlogs: ordering (urgent first), credit-free bookkeeping, the memory window and its spill to
// the journal, restart from a durable cursor, and redelivery of what was in flight.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>

#include "broker/delivery.h"

using namespace alertbus;

namespace {

// A journal holding rows in memory; only what OutletBacklog uses (scan) does anything.
class MemoryJournal : public Journal {
 public:
  std::map<uint64_t, std::pair<std::string, bool>> rows;  // seq -> (destinations, urgent)
  void add(uint64_t seq, std::string dests, bool urgent = false) { rows[seq] = {std::move(dests), urgent}; }
  void begin() override {}
  AppendResult append(const JournalEntry&) override { return {}; }
  void saveOutletState(const OutletState&) override {}
  void commit() override {}
  void rollback() override {}
  void flush() override {}
  uint64_t lastSeq() const override { return rows.empty() ? 0 : rows.rbegin()->first; }
  size_t scan(uint64_t afterSeq, size_t limit, const std::function<bool(StoredMessage&)>& fn) override {
    size_t n = 0;
    for (auto it = rows.upper_bound(afterSeq); it != rows.end() && n < limit; ++it) {
      ++n;
      StoredMessage m;
      m.seq = it->first;
      m.sender = "met";
      m.destinations = it->second.first;
      m.urgent = it->second.second;
      m.body = kj::heapArray<capnp::word>(1);
      m.bodySizeBytes = 8;
      if (!fn(m)) break;
    }
    return n;
  }
  bool find(std::string_view, std::string_view, StoredMessage&) override { return false; }
  void findReferenced(std::string_view, std::string_view, size_t, const std::function<void(StoredMessage&)>&) override {}
  std::vector<OutletState> loadOutletStates() override { return {}; }
  uint64_t count() override { return rows.size(); }
  int64_t putConfig(std::string_view, std::string_view, int64_t) override { return 1; }
  std::string getConfig(std::string_view, int64_t*) override { return ""; }
};

SharedMessage msg(uint64_t seq, bool urgent = false, std::string dests = "sms:duty") {
  auto m = std::make_shared<QueuedMessage>();
  m->seq = seq;
  m->urgent = urgent;
  m->destinations = std::move(dests);
  m->body = kj::heapArray<capnp::word>(1);
  m->bodySizeBytes = 8;
  return m;
}

std::vector<uint64_t> drain(OutletBacklog& b, MemoryJournal& j, uint64_t durable, bool ack = true) {
  std::vector<uint64_t> out;
  while (auto m = b.next(durable, j)) {
    out.push_back(m->seq);
    if (ack) b.ack(m->seq);
  }
  return out;
}

}  // namespace

TEST_CASE("delivery: targetsFor picks this outlet's targets only", "[delivery]") {
  CHECK(targetsFor("sms:a\ndashboard:city\nsms:b", "sms") == std::vector<std::string>{"a", "b"});
  CHECK(targetsFor("smsx:a\nsms:b", "sms") == std::vector<std::string>{"b"});
  CHECK(targetsFor("", "sms").empty());
  CHECK(outletsIn("sms:a\ndashboard:city\nsms:b") == std::vector<std::string>{"sms", "dashboard"});
}

TEST_CASE("delivery: urgent entries go first, each class in seq order, nothing beyond the durable seq", "[delivery]") {
  MemoryJournal j;
  OutletBacklog b("sms", 100, OutletState{"sms", 0, {}}, 0);
  for (uint64_t s = 1; s <= 6; ++s) {
    j.add(s, "sms:duty", s == 4 || s == 6);
    b.enqueue(msg(s, s == 4 || s == 6));
  }
  b.routedThrough(6);
  CHECK(drain(b, j, 5) == std::vector<uint64_t>{4, 1, 2, 3, 5});  // 6 is not durable yet
  CHECK(drain(b, j, 6) == std::vector<uint64_t>{6});
  CHECK(b.cursor() == 6);
}

TEST_CASE("delivery: an out-of-order ack is remembered above the cursor until the gap closes", "[delivery]") {
  MemoryJournal j;
  OutletBacklog b("sms", 100, OutletState{"sms", 0, {}}, 0);
  for (uint64_t s = 1; s <= 3; ++s) b.enqueue(msg(s, s == 3));
  b.routedThrough(3);
  auto sent = drain(b, j, 3, false);
  REQUIRE(sent == std::vector<uint64_t>{3, 1, 2});
  CHECK(b.ack(3));
  auto st = b.takeState();
  CHECK(st.cursor == 0);
  CHECK(st.ackedAbove == std::vector<uint64_t>{3});
  CHECK(b.ack(1));
  CHECK(b.ack(2));
  CHECK_FALSE(b.ack(2));  // repeated
  st = b.takeState();
  CHECK(st.cursor == 3);
  CHECK(st.ackedAbove.empty());
}

TEST_CASE("delivery: what was in flight when the subscriber left is delivered again, in order", "[delivery]") {
  MemoryJournal j;
  OutletBacklog b("sms", 100, OutletState{"sms", 0, {}}, 0);
  for (uint64_t s = 1; s <= 4; ++s) b.enqueue(msg(s));
  b.routedThrough(4);
  REQUIRE(b.next(4, j)->seq == 1);
  REQUIRE(b.next(4, j)->seq == 2);
  b.ack(1);
  b.requeueInFlight();
  CHECK(b.inFlight() == 0);
  CHECK(drain(b, j, 4) == std::vector<uint64_t>{2, 3, 4});
}

TEST_CASE("delivery: beyond the memory window new entries spill to the journal and are read back in order",
          "[delivery]") {
  MemoryJournal j;
  OutletBacklog b("sms", 4, OutletState{"sms", 0, {}}, 0);
  for (uint64_t s = 1; s <= 20; ++s) {
    // Every third message is for another outlet only: the spill scan must skip it.
    std::string dests = s % 3 == 0 ? "dashboard:city" : "sms:duty";
    j.add(s, dests);
    if (s % 3 != 0) b.enqueue(msg(s, false, dests));
  }
  b.routedThrough(20);
  auto st = b.stats();
  CHECK(st.queued == 4);
  CHECK(st.spilled > 0);
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 20; ++s)
    if (s % 3 != 0) want.push_back(s);
  CHECK(drain(b, j, 20) == want);
  CHECK(b.stats().spilled == 0);
  CHECK(b.cursor() == 20);
}

TEST_CASE("delivery: after a restart the backlog is rebuilt from the durable cursor, skipping acked seqs",
          "[delivery]") {
  MemoryJournal j;
  for (uint64_t s = 1; s <= 10; ++s) j.add(s, "sms:duty", s == 9);
  // Durable state: everything up to 4 acked, and 7 acked out of order.
  OutletBacklog b("sms", 100, OutletState{"sms", 4, {7}}, 10);
  // Seq 9 is urgent: once re-read into memory it overtakes the routine ones.
  CHECK(drain(b, j, 10) == std::vector<uint64_t>{9, 5, 6, 8, 10});
  CHECK(b.cursor() == 10);
}

TEST_CASE("delivery: destinations an update follows carry the original's seq; names stay clean", "[delivery][follow]") {
  std::string d = "dashboard:city-desk";
  addFollowed(d, "sms:duty", 12);
  addFollowed(d, "dashboard:city-desk", 12);  // routed by the rules too: annotated, not repeated
  addFollowed(d, "sms:duty", 15);
  addFollowed(d, "sms:duty", 12);             // already there
  CHECK(d == "dashboard:city-desk\t12\nsms:duty\t12,15");
  std::vector<uint64_t> follows;
  CHECK(targetsFor(d, "sms", &follows) == std::vector<std::string>{"duty"});
  CHECK(follows == std::vector<uint64_t>{12});
  CHECK(splitDestinations(d, &follows) == std::vector<std::string>{"dashboard:city-desk", "sms:duty"});
  CHECK(follows == std::vector<uint64_t>{12, 12});
  CHECK(outletsIn(d) == std::vector<std::string>{"dashboard", "sms"});
  CHECK(followedSeqs(d, "sms") == std::vector<uint64_t>{12, 15});
  CHECK(followedSeqs(d, "") == std::vector<uint64_t>{12, 15});
  CHECK(followedSeqs("sms:a\nsms:b", "sms").empty());
  std::string empty;
  addFollowed(empty, "sms:x", 3);
  CHECK(empty == "sms:x\t3");
}
