// Hostile input against the real broker, from bare DEALERs with valid CURVE keys: oversized, garbage,
// truncated, empty and odd-sized frames, frames that break Cap'n Proto's traversal and nesting limits,
// out-of-bounds pointers, a Publish whose inner Message is garbage. Each gets an Error (or a Reject with
// its token) with the right code and a reason, is counted in `status`, and afterwards the broker still
// serves a well-behaved client. Also: an unknown CURVE key never gets in, an agency publishing outside
// its permissions is refused naming the permission, and a spoofed sender is refused.
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "model/codec.h"
#include "tests/integration/broker_process.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

using Bytes = std::string;
constexpr size_t kMaxFrameBytes = 4096;  // [limits] max_frame_bytes for these tests

Bytes asString(const kj::Array<capnp::word>& w) {
  auto b = w.asBytes();
  return Bytes(reinterpret_cast<const char*>(b.begin()), b.size());
}

Bytes frameOf(const std::function<void(schema::Frame::Builder)>& fill) {
  capnp::MallocMessageBuilder b;
  fill(b.initRoot<schema::Frame>());
  return asString(capnp::messageToFlatArray(b));
}

Bytes helloFrame(const std::string& clientName = "hostile-test") {
  return frameOf([&](schema::Frame::Builder f) {
    auto h = f.initHello();
    h.setProtocolVersion(1);
    h.setClientName(clientName);
    h.setHeartbeatMs(1000);
  });
}

Bytes publishFrame(uint64_t token, const Bytes& message) {
  return frameOf([&](schema::Frame::Builder f) {
    auto p = f.initPublish();
    p.setToken(token);
    p.setMessage(kj::arrayPtr(reinterpret_cast<const kj::byte*>(message.data()), message.size()));
  });
}

Bytes warning(const std::string& id, const std::string& event = "typhoon") { return asString(sampleWarning(id, event)); }

// Little-endian words as Cap'n Proto lays them out.
void putWord(Bytes& out, uint32_t lo, uint32_t hi) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(lo >> (8 * i)));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(hi >> (8 * i)));
}
void putStructPtr(Bytes& out, int32_t offset, uint16_t dataWords, uint16_t ptrs) {
  putWord(out, static_cast<uint32_t>(offset) << 2, uint32_t(dataWords) | (uint32_t(ptrs) << 16));
}

// A DEALER with CURVE client keys; `keys` may be unknown to the broker.
class RawDealer {
 public:
  RawDealer(zmq::context_t& ctx, const BrokerProcess& broker, const KeyPair& keys, bool immediate = true)
      : sock_(ctx, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::curve_serverkey, broker.serverPublicKey());
    sock_.set(zmq::sockopt::curve_publickey, keys.publicKey);
    sock_.set(zmq::sockopt::curve_secretkey, keys.secretKey);
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::immediate, immediate ? 1 : 0);
    sock_.set(zmq::sockopt::sndtimeo, 5000);
  }
  void connect(const std::string& endpoint) { sock_.connect(endpoint); }
  zmq::socket_t& socket() { return sock_; }
  void send(const Bytes& frame) {
    auto r = sock_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::none);
    REQUIRE(r.has_value());
  }
  // Next frame that is not a heartbeat, decoded; nullopt at the deadline. `raw` gets its bytes.
  std::optional<Bytes> recvRaw(int timeoutMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, left);
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      if (!sock_.recv(m, zmq::recv_flags::dontwait)) continue;
      DecodedFrame f;
      DecodeError err;
      INFO("frame from the broker: " << err.reason);
      REQUIRE(decodeFrame(m.data(), m.size(), DecodeLimits{}, f, err));
      if (f.frame().isHeartbeat()) continue;
      return m.to_string();
    }
  }
  // Like recvRaw, but FAILs at the deadline and hands the decoded frame to `check`.
  void expect(const std::function<void(schema::Frame::Reader)>& check, int timeoutMs = 5000) {
    auto raw = recvRaw(timeoutMs);
    if (!raw) FAIL("no answer from the broker within " << timeoutMs << " ms");
    DecodedFrame f;
    DecodeError err;
    REQUIRE(decodeFrame(raw->data(), raw->size(), DecodeLimits{}, f, err));
    check(f.frame());
  }

 private:
  zmq::socket_t sock_;
};

struct Answer {
  std::string kind;  // "error" | "reject"
  std::string code, field, value, reason;
  uint64_t token = 0;
};

Answer expectRefusal(RawDealer& d) {
  Answer a;
  d.expect([&](schema::Frame::Reader f) {
    if (f.isError()) {
      auto e = f.getError();
      a.kind = "error";
      auto enumerants = capnp::Schema::from<schema::ErrorCode>().getEnumerants();
      a.code = static_cast<uint16_t>(e.getCode()) < enumerants.size()
                   ? std::string(enumerants[static_cast<uint16_t>(e.getCode())].getProto().getName())
                   : "?";
      a.field = e.getField();
      a.value = e.getValue();
      a.reason = e.getReason();
    } else if (f.isReject()) {
      auto r = f.getReject();
      a.kind = "reject";
      auto enumerants = capnp::Schema::from<schema::RejectCode>().getEnumerants();
      a.code = static_cast<uint16_t>(r.getCode()) < enumerants.size()
                   ? std::string(enumerants[static_cast<uint16_t>(r.getCode())].getProto().getName())
                   : "?";
      a.field = r.getField();
      a.value = r.getValue();
      a.reason = r.getReason();
      a.token = r.getToken();
    } else {
      FAIL("expected Error or Reject, got frame kind " << static_cast<int>(f.which()));
    }
  });
  return a;
}

// A well-behaved client on a fresh connection: Hello -> Welcome, Publish -> PublishAck. Returns the seq.
uint64_t wellBehaved(zmq::context_t& ctx, const BrokerProcess& broker, const std::string& id) {
  RawDealer d(ctx, broker, broker.keysOf("fire"));
  d.connect(broker.endpoint());
  d.send(helloFrame("well-behaved"));
  d.expect([](schema::Frame::Reader f) {
    REQUIRE(f.isWelcome());
    CHECK(f.getWelcome().getAgency() == "fire");
    CHECK(f.getWelcome().getMaxFrameBytes() == kMaxFrameBytes);
  });
  d.send(publishFrame(77, warning(id)));
  uint64_t seq = 0;
  d.expect([&](schema::Frame::Reader f) {
    REQUIRE(f.isPublishAck());
    CHECK(f.getPublishAck().getToken() == 77);
    CHECK_FALSE(f.getPublishAck().getDuplicate());
    seq = f.getPublishAck().getSeq();
  });
  CHECK(seq > 0);
  return seq;
}

nlohmann::json status(zmq::context_t& ctx, const BrokerProcess& broker) {
  RawDealer d(ctx, broker, broker.keysOf("admin"));
  d.connect(broker.endpoint());
  d.send(helloFrame("hostile-test-admin"));
  d.expect([](schema::Frame::Reader f) { REQUIRE(f.isWelcome()); });
  d.send(frameOf([](schema::Frame::Builder f) {
    auto r = f.initAdminRequest();
    r.setToken(3);
    r.setCommand("status");
    r.setJson("{}");
  }));
  nlohmann::json j;
  d.expect([&](schema::Frame::Reader f) {
    INFO("frame kind " << static_cast<int>(f.which())
                       << (f.isError() ? std::string(": ") + f.getError().getReason().cStr() : std::string()));
    REQUIRE(f.isAdminReply());
    INFO(f.getAdminReply().getJson().cStr());
    REQUIRE(f.getAdminReply().getOk());
    j = nlohmann::json::parse(f.getAdminReply().getJson().cStr());
  });
  return j;
}

uint64_t count(const nlohmann::json& st, const char* group, const char* code) {
  auto& g = st["counts"][group];
  return g.contains(code) ? g[code].get<uint64_t>() : 0;
}

BrokerSetup hostileSetup() {
  BrokerSetup s = defaultSetup();
  s.extraConfig = "[limits]\nmax_frame_bytes = " + std::to_string(kMaxFrameBytes) + "\n";
  return s;
}

}  // namespace

TEST_CASE("hostile frames: each is refused with a code and a reason, counted, and the broker serves on",
          "[hostile]") {
  TempDir dir;
  BrokerProcess broker(dir, hostileSetup());
  broker.start();
  zmq::context_t ctx;

  RawDealer hostile(ctx, broker, broker.keysOf("met"));
  hostile.connect(broker.endpoint());
  hostile.send(helloFrame());
  hostile.expect([](schema::Frame::Reader f) { REQUIRE(f.isWelcome()); });
  auto before = status(ctx, broker);

  Bytes validPublish = publishFrame(5, warning("urn:hostile:valid"));
  REQUIRE(validPublish.size() < kMaxFrameBytes);

  struct Case {
    const char* name;
    Bytes bytes;
    const char* kind;    // error | reject
    const char* code;
    const char* reasonHas;
    uint64_t token = 0;  // rejects: the Publish token echoed
  };
  std::vector<Case> cases;
  {
    // Oversized: a well-formed Publish of a warning with a 6000-byte headline.
    capnp::MallocMessageBuilder b;
    auto m = b.initRoot<schema::Message>();
    m.setId("urn:hostile:big");
    m.setStatus(schema::Status::ACTUAL);
    m.setMsgType(schema::MsgType::ALERT);
    auto info = m.getPayload().initWarning(1)[0];
    info.setEventCode("typhoon");
    info.setHeadline(std::string(6000, 'x'));
    Bytes big = publishFrame(6, asString(capnp::messageToFlatArray(b)));
    REQUIRE(big.size() > kMaxFrameBytes);
    cases.push_back({"oversized frame", big, "error", "tooLarge", "exceeds max_frame_bytes 4096"});
  }
  {
    // 25 levels of structs whose two pointers both point at the next: 2^25 paths from 51 words.
    Bytes b;
    const int depth = 25;
    putWord(b, 0, 1 + 2 * depth);
    putStructPtr(b, 0, 0, 2);
    for (int i = 0; i < depth; ++i) {
      if (i + 1 < depth) {
        putStructPtr(b, 1, 0, 2);
        putStructPtr(b, 0, 0, 2);
      } else {
        putWord(b, 0, 0);
        putWord(b, 0, 0);
      }
    }
    cases.push_back({"shared-subtree amplification (traversal limit)", b, "error", "malformed", "traversal limit"});
  }
  {
    Bytes b;  // a struct whose pointer points at itself: infinitely deep
    putWord(b, 0, 2);
    putStructPtr(b, 0, 0, 1);
    putStructPtr(b, -1, 0, 1);
    cases.push_back({"self-referencing pointer (nesting limit)", b, "error", "malformed", "too deeply-nested"});
  }
  {
    Bytes b;  // Frame.hello.clientName: a byte list claiming 2^29 - 1 elements in a 5-word segment
    putWord(b, 0, 5);
    putStructPtr(b, 0, 1, 1);
    putWord(b, 1, 0);
    putStructPtr(b, 0, 1, 1);
    putWord(b, 1, 0);
    putWord(b, 1, (536870911u << 3) | 2);
    cases.push_back({"list pointer claiming 512 MiB", b, "error", "malformed", "out-of-bounds"});
  }
  {
    Bytes b;
    uint32_t x = 2463534242u;
    for (int i = 0; i < 256; ++i) {  // xorshift32 noise, not a valid segment table
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      b.push_back(static_cast<char>(x));
    }
    b[0] = '\x07';  // 8 segments declared, sizes from the noise: far more than 256 bytes
    b[1] = b[2] = b[3] = '\0';
    cases.push_back({"garbage bytes", b, "error", "malformed", "truncated"});
  }
  cases.push_back({"truncated valid frame", validPublish.substr(0, validPublish.size() - 16), "error", "malformed",
                   "truncated"});
  cases.push_back({"empty frame", Bytes(), "error", "malformed", "shorter than a segment table"});
  cases.push_back({"length not a multiple of 8", validPublish.substr(0, 21), "error", "malformed", "multiple of 8"});
  cases.push_back({"a segment count bomb", Bytes("\xff\xff\xff\xff\0\0\0\0", 8), "error", "malformed", "exceeds 512"});
  {
    Bytes junk;
    for (int i = 0; i < 64; ++i) junk.push_back(static_cast<char>(i * 37 + 11));
    cases.push_back({"Publish whose inner Message is garbage", publishFrame(7, junk), "reject", "malformed", "", 7});
  }
  {
    // A well-formed message except that Message.id (Text) is a struct pointer: bounds are fine, the
    // type is not. Byte 32 = segment table (8) + root pointer (8) + Message data section (16).
    Bytes m = warning("urn:hostile:typed");
    Bytes structPtr;
    putStructPtr(structPtr, -1, 0, 0);
    m.replace(32, 8, structPtr);
    cases.push_back({"Publish whose Message.id is a struct pointer", publishFrame(8, m), "reject", "malformed",
                     "text", 8});
  }
  cases.push_back({"a frame kind clients do not send", frameOf([](schema::Frame::Builder f) { f.initWelcome(); }),
                   "error", "malformed", "not sent by clients"});

  uint64_t errorsMalformed = 0, errorsTooLarge = 0, rejectsMalformed = 0;
  int n = 0;
  for (auto& c : cases) {
    INFO("case: " << c.name << " (" << c.bytes.size() << " bytes)");
    hostile.send(c.bytes);
    Answer a = expectRefusal(hostile);
    INFO(a.kind << " " << a.code << " field '" << a.field << "' value '" << a.value << "': " << a.reason);
    CHECK(a.kind == c.kind);
    CHECK(a.code == c.code);
    CHECK_FALSE(a.reason.empty());
    CHECK_THAT(a.reason, Catch::Contains(c.reasonHas));
    if (a.kind == "error") {
      CHECK(a.field == "frame");
      (a.code == "tooLarge" ? errorsTooLarge : errorsMalformed)++;
    } else {
      CHECK(a.token == c.token);
      CHECK(a.field == "publish.message");
      CHECK_THAT(a.value, Catch::EndsWith(" bytes"));
      ++rejectsMalformed;
    }
    // ... and a well-behaved client on a new connection is still served.
    wellBehaved(ctx, broker, "urn:hostile:after:" + std::to_string(++n));
  }

  // The hostile connection itself stays open and usable.
  hostile.send(validPublish);
  hostile.expect([](schema::Frame::Reader f) {
    REQUIRE(f.isPublishAck());
    CHECK(f.getPublishAck().getToken() == 5);
  });

  auto after = status(ctx, broker);
  INFO(after.dump());
  CHECK(count(after, "errorsByReason", "malformed") == count(before, "errorsByReason", "malformed") + errorsMalformed);
  CHECK(count(after, "errorsByReason", "tooLarge") == count(before, "errorsByReason", "tooLarge") + errorsTooLarge);
  CHECK(count(after, "rejectedByReason", "malformed") ==
        count(before, "rejectedByReason", "malformed") + rejectsMalformed);
  CHECK(after["counts"]["accepted"].get<uint64_t>() == before["counts"]["accepted"].get<uint64_t>() + n + 1);
}

TEST_CASE("hostile: an unknown CURVE key never gets a session and the broker logs the key", "[hostile][curve]") {
  TempDir dir;
  BrokerProcess broker(dir, hostileSetup());
  broker.start();
  zmq::context_t ctx;

  KeyPair stranger = generateKeyPair();
  // Not ZMQ_IMMEDIATE, so the Hello is queued and would be sent if the handshake ever succeeded.
  RawDealer d(ctx, broker, stranger, /*immediate=*/false);
  zmq_socket_monitor(d.socket().handle(), "inproc://unknown-key-monitor",
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  monitor.connect("inproc://unknown-key-monitor");
  d.connect(broker.endpoint());
  d.send(helloFrame("stranger"));

  // The handshake is refused by ZAP: wait for that event (with a deadline), never for success.
  bool refused = false, succeeded = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t items[] = {{monitor.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(100));
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t event, address;
    REQUIRE(monitor.recv(event));
    REQUIRE(monitor.recv(address));
    uint16_t id;
    std::memcpy(&id, event.data(), sizeof id);
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) refused = true;
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) succeeded = true;
  }
  CHECK(refused);
  CHECK_FALSE(succeeded);
  CHECK_FALSE(d.recvRaw(1000).has_value());  // no Welcome, nothing at all
  CHECK(waitFor([&] { return broker.log().find("refused CURVE key " + stranger.publicKey) != std::string::npos; },
                5000));
  INFO(broker.log());
  CHECK(broker.log().find("not in the agency registry") != std::string::npos);
  zmq_socket_monitor(d.socket().handle(), nullptr, 0);

  // A registered agency connects fine meanwhile.
  CHECK(wellBehaved(ctx, broker, "urn:hostile:after-stranger") > 0);
}

TEST_CASE("hostile: publishing outside the agency's permissions names the permission", "[hostile][permissions]") {
  TempDir dir;
  BrokerProcess broker(dir, hostileSetup());
  broker.start();
  zmq::context_t ctx;
  // Default setup: water may publish kinds observation and warning, events river-level* and flood*.
  RawDealer water(ctx, broker, broker.keysOf("water"));
  water.connect(broker.endpoint());
  water.send(helloFrame("water-adapter"));
  water.expect([](schema::Frame::Reader f) {
    REQUIRE(f.isWelcome());
    CHECK(f.getWelcome().getAgency() == "water");
  });

  SECTION("an event outside publish_events") {
    water.send(publishFrame(1, warning("urn:water:typhoon", "typhoon")));
    Answer a = expectRefusal(water);
    CHECK(a.kind == "reject");
    CHECK(a.code == "notPermitted");
    CHECK(a.token == 1);
    CHECK(a.field == "permission.publish_events");
    CHECK(a.value == "typhoon");
    CHECK_THAT(a.reason, Catch::Contains("water") && Catch::Contains("typhoon"));
    // The events it may publish go through.
    water.send(publishFrame(2, warning("urn:water:flood", "flood-warning")));
    water.expect([](schema::Frame::Reader f) { REQUIRE(f.isPublishAck()); });
  }
  SECTION("a kind outside publish_kinds") {
    capnp::MallocMessageBuilder b;
    auto m = b.initRoot<schema::Message>();
    m.setId("urn:water:sitrep");
    m.setStatus(schema::Status::ACTUAL);
    m.setMsgType(schema::MsgType::ALERT);
    m.getPayload().initSitrep().setEvent("flood");
    water.send(publishFrame(3, asString(capnp::messageToFlatArray(b))));
    Answer a = expectRefusal(water);
    CHECK(a.code == "notPermitted");
    CHECK(a.field == "permission.publish_kinds");
    CHECK(a.value == "sitrep");
  }
  SECTION("a spoofed sender") {
    auto original = sampleWarning("urn:water:spoof", "flood");
    capnp::FlatArrayMessageReader reader(original);
    capnp::MallocMessageBuilder b;
    b.setRoot(reader.getRoot<schema::Message>());
    b.getRoot<schema::Message>().setSender("met");
    water.send(publishFrame(4, asString(capnp::messageToFlatArray(b))));
    Answer a = expectRefusal(water);
    CHECK(a.code == "invalid");
    CHECK(a.field == "sender");
    CHECK(a.value == "met");
  }
  SECTION("an adapter may not subscribe") {
    water.send(frameOf([](schema::Frame::Builder f) {
      auto s = f.initSubscribe();
      s.setOutlet("sms");
      s.setCredit(10);
    }));
    Answer a = expectRefusal(water);
    CHECK(a.kind == "error");
    CHECK(a.code == "notPermitted");
    CHECK(a.field == "permission.serve_outlets");
    CHECK(a.value == "sms");
  }
}

TEST_CASE("hostile: a client name that is not UTF-8 does not break admin status "
          "(fuzz regression hello-client-name-not-utf8)",
          "[hostile][status]") {
  TempDir dir;
  BrokerProcess broker(dir, hostileSetup());
  broker.start();
  zmq::context_t ctx;
  RawDealer d(ctx, broker, broker.keysOf("met"));
  d.connect(broker.endpoint());
  d.send(helloFrame("raw-\x9d\x95pnp-cli"));
  d.expect([](schema::Frame::Reader f) { REQUIRE(f.isWelcome()); });
  auto st = status(ctx, broker);  // REQUIREs AdminReply ok=true with parseable JSON
  CHECK(st["clients"].size() >= 1);
}
