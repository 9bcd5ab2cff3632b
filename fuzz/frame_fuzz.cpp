// libFuzzer target: one input = the bytes of one wire frame, as a client would send them to alertbusd.
// Two paths per input:
//   1. the pure decoders: decodeFrame, and for a Publish decodeMessage + validateMessage + extractFacts;
//   2. the whole protocol state machine: a fresh BrokerCore (with an in-memory Journal and a FrameSink
//      that decodes and discards) gets the input from an authenticated session and from a connection
//      without Hello, twice (the duplicate path), then an outlet subscribes and acks, an admin tails and
//      asks for "status", and timers run. Every frame the broker sends must itself decode.
// Invariants checked: no crash, no sanitizer report, no uncaught exception, broker output well-formed.
// A fresh core per input keeps every crash reproducible from its single input file.
//
// Environment: FRAME_FUZZ_STRICT=1 also aborts when a Cap'n Proto reader throws AFTER decodeFrame/
// decodeMessage accepted the bytes (codec.h promises it cannot; see fuzz/README.md for why it can).
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_core.h"
#include "broker/registry.h"
#include "broker/rules.h"
#include "model/codec.h"
#include "model/facts.h"
#include "model/validate.h"

namespace {

using namespace alertbus;

constexpr int64_t kStartMs = 1700000000000LL;

// Journal held in memory: the contract of journal.h (group commit, dedup by (sender, id), rollback,
// scan in seq order) without SQLite.
class MemJournal : public Journal {
 public:
  void begin() override {
    open_ = true;
    batchStart_ = rows_.size();
    seqAtBegin_ = lastSeq_;
  }
  AppendResult append(const JournalEntry& e) override {
    auto key = std::string(e.sender) + '\0' + std::string(e.id);
    auto it = byKey_.find(key);
    if (it != byKey_.end()) return {it->second, true};
    StoredMessage m;
    m.seq = ++lastSeq_;
    m.sender = std::string(e.sender);
    m.id = std::string(e.id);
    m.receivedMs = e.receivedMs;
    m.kind = e.kind;
    m.urgent = e.urgent;
    m.destinations = std::string(e.destinations);
    m.bodySizeBytes = e.body.size();
    m.body = kj::heapArray<capnp::word>((e.body.size() + 7) / 8);
    if (e.body.size()) std::memcpy(m.body.begin(), e.body.begin(), e.body.size());
    byKey_[key] = m.seq;
    keys_.push_back(key);
    rows_.push_back(std::move(m));
    return {lastSeq_, false};
  }
  void saveOutletState(const OutletState& s) override { outlets_[s.outlet] = s; }
  void commit() override { open_ = false; }
  void rollback() override {
    if (!open_) return;
    while (rows_.size() > batchStart_) {
      byKey_.erase(keys_.back());
      keys_.pop_back();
      rows_.pop_back();
    }
    lastSeq_ = seqAtBegin_;
    open_ = false;
  }
  void flush() override {}
  uint64_t lastSeq() const override { return lastSeq_; }
  size_t scan(uint64_t afterSeq, size_t limit, const std::function<bool(StoredMessage&)>& fn) override {
    size_t n = 0;
    for (auto& r : rows_) {
      if (r.seq <= afterSeq) continue;
      if (n >= limit) break;
      StoredMessage copy;
      copy.seq = r.seq;
      copy.sender = r.sender;
      copy.id = r.id;
      copy.receivedMs = r.receivedMs;
      copy.kind = r.kind;
      copy.urgent = r.urgent;
      copy.destinations = r.destinations;
      copy.bodySizeBytes = r.bodySizeBytes;
      copy.body = kj::heapArray<capnp::word>(r.body.size());
      if (r.body.size()) std::memcpy(copy.body.begin(), r.body.begin(), r.body.size() * sizeof(capnp::word));
      ++n;
      if (!fn(copy)) break;
    }
    return n;
  }
  bool find(std::string_view sender, std::string_view id, StoredMessage& out) override {
    auto it = byKey_.find(std::string(sender) + '\0' + std::string(id));
    if (it == byKey_.end()) return false;
    for (auto& r : rows_)
      if (r.seq == it->second) {
        out.seq = r.seq;
        out.sender = r.sender;
        out.id = r.id;
        return true;
      }
    return false;
  }
  // By agency only: the fuzzer's messages carry no origin worth resolving.
  void findReferenced(std::string_view sender, std::string_view id, size_t limit,
                      const std::function<void(StoredMessage&)>& fn) override {
    StoredMessage m;
    if (limit > 0 && find(sender, id, m)) fn(m);
  }
  std::vector<OutletState> loadOutletStates() override {
    std::vector<OutletState> v;
    for (auto& [k, s] : outlets_) v.push_back(s);
    return v;
  }
  uint64_t count() override { return rows_.size(); }
  int64_t putConfig(std::string_view, std::string_view, int64_t) override { return 1; }
  std::string getConfig(std::string_view, int64_t* version) override {
    if (version) *version = 1;
    return {};
  }

 private:
  bool open_ = false;
  size_t batchStart_ = 0;
  uint64_t lastSeq_ = 0, seqAtBegin_ = 0;
  std::vector<StoredMessage> rows_;
  std::vector<std::string> keys_;
  std::map<std::string, uint64_t> byKey_;
  std::map<std::string, OutletState> outlets_;
};

bool strict() {
  static const bool s = [] {
    const char* v = std::getenv("FRAME_FUZZ_STRICT");
    return v && *v && *v != '0';
  }();
  return s;
}

// Every frame the broker emits must decode under the default limits; Deliver bodies must decode as
// messages (they are bytes the broker accepted).
class CheckingSink : public FrameSink {
 public:
  bool send(std::string_view peer, kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override {
    auto words = capnp::messageToFlatArray(segments);  // what the transport puts on the wire
    auto frame = words.asBytes();
    DecodedFrame df;
    DecodeError err;
    DecodeLimits limits;
    limits.maxFrameBytes = 64 << 20;
    if (!decodeFrame(frame.begin(), frame.size(), limits, df, err)) {
      std::fprintf(stderr, "broker sent an undecodable frame to %.*s: %s\n", int(peer.size()), peer.data(),
                   err.reason.c_str());
      std::abort();
    }
    auto f = df.frame();
    if (f.isAdminReply() && peer == "peer-adm") lastAdminReplyOk = f.getAdminReply().getOk();
    auto checkDelivered = [&](schema::Deliver::Reader d) {
      DecodedMessage dm;
      if (!decodeMessage(d.getMessage(), limits, dm, err)) {
        std::fprintf(stderr, "broker delivered a message that does not decode: %s\n", err.reason.c_str());
        std::abort();
      }
    };
    if (f.isDeliver()) checkDelivered(f.getDeliver());
    if (f.isDeliveries())
      for (auto d : f.getDeliveries()) checkDelivered(d);
    ++sent;
    return true;
  }
  uint64_t sent = 0;
  std::optional<bool> lastAdminReplyOk;  // of the last AdminReply sent to the admin session
};

std::shared_ptr<const Registry> gRegistry;
std::shared_ptr<const RuleSet> gRules;
const char* const kAgencies[] = {"met", "water", "admin", "fire"};

std::string fakeKey(char c) { return std::string(39, '0') + c; }

void setUp() {
  std::string reg;
  auto add = [&](const char* name, const char* role, const char* extra, char key) {
    reg += std::string("[[agency]]\nname = \"") + name + "\"\nrole = \"" + role + "\"\npublic_key = \"" +
           fakeKey(key) + "\"\n" + extra + "\n";
  };
  add("met", "adapter", "publish_kinds = [\"warning\", \"forecast\", \"observation\"]\n", '1');
  add("water", "adapter", "publish_kinds = [\"observation\", \"warning\"]\npublish_events = [\"river-level*\", \"flood*\"]\n",
      '2');
  add("admin", "admin", "publish_kinds = [\"*\"]\nserve_outlets = [\"*\"]\n", '3');
  add("fire", "adapter", "publish_kinds = [\"*\"]\n", '4');
  add("dashboard", "outlet", "publish_kinds = [\"ack\"]\nserve_outlets = [\"dashboard\"]\n", '5');
  std::vector<RuleError> errors;
  gRegistry = Registry::parse(reg, "fuzz-agencies.toml", "/", errors);
  gRules = RuleSet::parse(R"(
[[rule]]
name = "warnings-to-sms"
kind = ["warning"]
to = ["sms:duty"]
continue = true

[[rule]]
name = "orange-typhoon-ningbo"
event = ["typhoon", "11B0*"]
min_colour = "orange"
area_codes = ["330200"]
to = ["sms:leaders"]
continue = true

[[rule]]
name = "polygon-and-circle"
area_polygons = [[[30.0, 121.0], [30.0, 122.0], [29.0, 122.0], [30.0, 121.0]]]
area_circles = [{ lat = 29.87, lon = 121.55, radius_km = 20 }]
to = ["sms:coast"]
continue = true

[[rule]]
name = "fused-level-ii"
kind = ["fused_alert"]
min_response_level = "II"
to = ["sms:city-leaders"]
continue = true

[[rule]]
name = "everything"
to = ["dashboard:city-desk"]
)",
                          "fuzz-rules.toml", errors);
  if (!gRegistry || !gRules) {
    for (auto& e : errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    std::abort();
  }
}

kj::Array<capnp::word> frameOf(const std::function<void(schema::Frame::Builder)>& fill) {
  capnp::MallocMessageBuilder b;
  fill(b.initRoot<schema::Frame>());
  return capnp::messageToFlatArray(b);
}

// Path 1: the pure decoders, as broker_core.cpp's onPublish uses them.
void decodePath(const uint8_t* data, size_t size) {
  DecodeLimits limits;
  DecodedFrame df;
  DecodeError err;
  if (!decodeFrame(data, size, limits, df, err)) {
    if (err.reason.empty() || (err.code != "malformed" && err.code != "tooLarge")) std::abort();
    return;
  }
  auto body = [&]() {
    auto f = df.frame();
    (void)f.which();
    if (!f.isPublish()) return;
    DecodedMessage dm;
    if (!decodeMessage(f.getPublish().getMessage(), limits, dm, err)) {
      if (err.reason.empty()) std::abort();
      return;
    }
    auto m = dm.message();
    if (auto p = validateMessage(m, kStartMs)) {
      if (p->code != "invalid" && p->code != "expired") std::abort();
      if (p->value.size() > 200) std::abort();
    }
    auto facts = extractFacts(m, "met");
    (void)facts.urgent();
    (void)adminPrefix(facts.adminCodes.empty() ? std::string() : facts.adminCodes[0]);
  };
  KJ_IF_MAYBE(e, kj::runCatchingExceptions(body)) {
    if (strict()) {
      std::fprintf(stderr, "reader threw after decode accepted the bytes: %s\n", e->getDescription().cStr());
      std::abort();
    }
  }
}

// Path 2: the broker's state machine.
void brokerPath(const uint8_t* data, size_t size) {
  MemJournal journal;
  CheckingSink sink;
  Logger log(LogLevel::debug, -1);  // every log line is formatted (that code runs too), then dropped: fd -1
  int64_t now = kStartMs;
  BrokerOptions opt;
  opt.brokerId = "fuzz";
  opt.curve = true;
  opt.heartbeatMs = 1000;
  opt.outletMemoryWindow = 4;  // small, so the spill/refill path runs
  BrokerCore core(journal, sink, log, gRegistry, gRules, opt, [&] { return now; });
  auto turn = [&] {
    if (auto id = core.endTurn()) core.onDurable(*id);
  };
  auto send = [&](std::string_view peer, const kj::Array<capnp::word>& w, std::string_view agency) {
    core.onFrame(peer, w.asBytes().begin(), w.asBytes().size(), agency);
  };
  auto hello = [&](const char* name) {
    return frameOf([&](schema::Frame::Builder f) {
      auto h = f.initHello();
      h.setProtocolVersion(1);
      h.setClientName(std::string("fuzz-") + name);
      h.setHeartbeatMs(1000);
    });
  };
  // The publishing agency is a function of the input, so each agency's permissions get exercised.
  const char* agency = kAgencies[size % 4];
  std::string_view pub = "peer-pub", stranger = "peer-x", outlet = "peer-out", admin = "peer-adm";
  send(pub, hello(agency), agency);
  send(outlet, hello("dashboard"), "dashboard");
  send(admin, hello("admin"), "admin");
  send(admin, frameOf([](schema::Frame::Builder f) {
         auto s = f.initSubscribe();
         s.setOutlet("*");
         s.setCredit(3);
         s.setFromSeq(1);
       }),
       "admin");
  turn();

  core.onFrame(pub, data, size, agency);
  core.onFrame(stranger, data, size, "fire");
  turn();
  now += 10;
  core.onFrame(pub, data, size, agency);           // duplicate (or the same refusal again)
  core.onFrame(pub, data, size, "water");          // authenticated as another agency than the session
  turn();

  send(outlet, frameOf([](schema::Frame::Builder f) {
         auto s = f.initSubscribe();
         s.setOutlet("dashboard");
         s.setCredit(2);
       }),
       "dashboard");
  turn();
  send(outlet, frameOf([](schema::Frame::Builder f) {
         auto seqs = f.initDeliverAck().initSeqs(3);
         seqs.set(0, 1);
         seqs.set(1, 2);
         seqs.set(2, 99);
       }),
       "dashboard");
  core.onFrame(outlet, data, size, "dashboard");   // the input from an outlet session too
  // Whatever the other sessions sent, "status" must still answer (broker_core.cpp catches exceptions
  // around dispatch, so a throwing statusJson() would show up as an Error instead of an AdminReply).
  sink.lastAdminReplyOk.reset();
  send(admin, frameOf([](schema::Frame::Builder f) {
         auto r = f.initAdminRequest();
         r.setToken(1);
         r.setCommand("status");
         r.setJson("{}");
       }),
       "admin");
  if (sink.lastAdminReplyOk != true) {
    std::fprintf(stderr, "admin \"status\" was not answered with AdminReply ok=true\n");
    std::abort();
  }
  turn();
  now += 5000;  // everyone silent for 5 heartbeats: sessions expire, in-flight deliveries return
  core.onTimer();
  turn();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setUp();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decodePath(data, size);
  brokerPath(data, size);
  return 0;
}
