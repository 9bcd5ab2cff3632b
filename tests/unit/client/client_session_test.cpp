// Client sessions against a fake broker: dead-peer detection and reconnect with re-send, sessionExpired,
// admin requests (connected, disconnected, lost), heartbeats, and CURVE.
#include <catch2/catch.hpp>

#include <chrono>

#include "client/client.h"
#include "client/keys.h"
#include "tests/unit/client/fake_broker.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

ClientOptions fastOptions(const std::string& endpoint) {
  ClientOptions o;
  o.endpoint = endpoint;
  o.agency = "met";
  o.heartbeatMs = 100;
  o.reconnectMinMs = 20;
  o.reconnectMaxMs = 200;
  return o;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("client: a silent broker is found dead within 3 heartbeats; unacked publishes are re-sent in order",
          "[client][heartbeat]") {
  FakeBroker broker;
  Client client(fastOptions(broker.endpoint()));
  std::vector<uint64_t> acked;
  std::vector<std::pair<bool, int64_t>> changes;
  client.onAck = [&](uint64_t token, uint64_t, bool) { acked.push_back(token); };
  client.onConnection = [&](bool up) { changes.emplace_back(up, nowMs()); };

  for (int i = 0; i < 3; ++i) client.publish(view(makeMessage("ok-" + std::to_string(i))));
  REQUIRE(pollUntil(client, [&] { return acked.size() == 3; }));
  // Idle for a while: heartbeats alone keep the session up.
  pollUntil(client, [] { return false; }, 500);
  REQUIRE(changes.size() == 1);

  broker.mute = true;
  const int64_t mutedAt = nowMs();
  std::vector<uint64_t> lost;
  for (int i = 0; i < 3; ++i) lost.push_back(client.publish(view(makeMessage("lost-" + std::to_string(i)))));
  REQUIRE(pollUntil(client, [&] { return changes.size() == 2; }));
  CHECK_FALSE(changes[1].first);
  const int64_t detectMs = changes[1].second - mutedAt;
  CHECK(detectMs >= 150);   // not before the peer can have been silent for 3 x 100 ms minus one heartbeat
  CHECK(detectMs <= 1000);  // 3 x 100 ms plus generous scheduling slack
  CHECK(client.pending() == 3);

  broker.mute = false;
  REQUIRE(pollUntil(client, [&] { return acked.size() == 6; }));
  CHECK(std::vector<uint64_t>(acked.begin() + 3, acked.end()) == lost);
  CHECK(changes.back().first);
  CHECK(client.stats().reconnects >= 1);
  CHECK(broker.helloPeers().size() >= 2);  // a fresh socket (new routing id) per session
  // The lost ones reached the broker twice (muted, then re-sent), in order each time.
  auto seen = broker.publishedIds();
  std::vector<std::string> tail(seen.end() - 3, seen.end());
  CHECK(tail == std::vector<std::string>{"lost-0", "lost-1", "lost-2"});
}

TEST_CASE("client: Error sessionExpired is reported and the client says Hello again and re-subscribes",
          "[client]") {
  FakeBroker::Options bo;
  bo.role = schema::Role::OUTLET;
  FakeBroker broker(bo);
  Client client(fastOptions(broker.endpoint()));
  std::vector<RejectInfo> errors;
  client.onError = [&](const RejectInfo& e) { errors.push_back(e); };
  client.subscribe("sms", 10);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));

  broker.sendError(schema::ErrorCode::SESSION_EXPIRED, "taken over");
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 2; }));
  REQUIRE(!errors.empty());
  CHECK(errors[0].code == "sessionExpired");
  CHECK(errors[0].reason == "taken over");
  CHECK(broker.hellos() == 2);
  CHECK(client.connected());
}

TEST_CASE("client: admin requests", "[client][admin]") {
  FakeBroker::Options bo;
  bo.role = schema::Role::ADMIN;
  FakeBroker broker(bo);
  Client client(fastOptions(broker.endpoint()));
  std::vector<std::tuple<uint64_t, bool, std::string>> replies;
  client.onAdminReply = [&](uint64_t token, bool ok, const std::string& json) { replies.emplace_back(token, ok, json); };

  SECTION("before Welcome: ok=false \"not connected\" on the next poll") {
    uint64_t token = client.adminRequest("status", "{}");
    CHECK(replies.empty());  // never from inside adminRequest()
    client.poll(0);
    REQUIRE(replies.size() == 1);
    CHECK(std::get<0>(replies[0]) == token);
    CHECK_FALSE(std::get<1>(replies[0]));
    CHECK(std::get<2>(replies[0]) == "{\"error\":\"not connected\"}");
  }
  SECTION("connected: the broker's reply") {
    REQUIRE(pollUntil(client, [&] { return client.connected(); }));
    uint64_t token = client.adminRequest("status", "{}");
    REQUIRE(pollUntil(client, [&] { return replies.size() == 1; }));
    CHECK(std::get<0>(replies[0]) == token);
    CHECK(std::get<1>(replies[0]));
    CHECK(std::get<2>(replies[0]) == "{\"status\":\"fine\"}");
    CHECK(broker.adminCommands() == std::vector<std::string>{"status"});
  }
  SECTION("connection lost before the reply: ok=false \"connection lost\"") {
    REQUIRE(pollUntil(client, [&] { return client.connected(); }));
    broker.mute = true;
    uint64_t token = client.adminRequest("status", "{}");
    REQUIRE(pollUntil(client, [&] { return replies.size() == 1; }));
    CHECK(std::get<0>(replies[0]) == token);
    CHECK_FALSE(std::get<1>(replies[0]));
    CHECK(std::get<2>(replies[0]) == "{\"error\":\"connection lost\"}");
  }
}

TEST_CASE("client: CURVE client with the broker's public key gets a Welcome", "[client][curve]") {
  KeyPair server = generateKeyPair();
  KeyPair me = generateKeyPair();
  FakeBroker::Options bo;
  bo.curveSecretKey = server.secretKey;
  FakeBroker broker(bo);

  auto opts = fastOptions(broker.endpoint());
  opts.serverPublicKey = server.publicKey;
  opts.publicKey = me.publicKey;
  opts.secretKey = me.secretKey;

  SECTION("right server key") {
    Client client(opts);
    std::vector<uint64_t> acked;
    client.onAck = [&](uint64_t token, uint64_t, bool) { acked.push_back(token); };
    client.publish(view(makeMessage("secret-1")));
    REQUIRE(pollUntil(client, [&] { return acked.size() == 1; }));
    CHECK(client.connected());
    CHECK(broker.publishedIds() == std::vector<std::string>{"secret-1"});
  }
  SECTION("wrong server key: silence, reported once as noAnswer, never connected") {
    opts.serverPublicKey = generateKeyPair().publicKey;
    Client client(opts);
    std::vector<RejectInfo> errors;
    client.onError = [&](const RejectInfo& e) { errors.push_back(e); };
    bool everConnected = false;
    client.onConnection = [&](bool up) { everConnected |= up; };
    pollUntil(client, [] { return false; }, 800);
    CHECK_FALSE(everConnected);
    CHECK(broker.hellos() == 0);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == "noAnswer");
  }
  SECTION("CURVE off on the client: the CURVE broker never answers") {
    opts.serverPublicKey.clear();
    Client client(opts);
    pollUntil(client, [] { return false; }, 500);
    CHECK_FALSE(client.connected());
    CHECK(broker.hellos() == 0);
  }
}

TEST_CASE("client: poll(0) does not block and poll(t) returns by its deadline", "[client]") {
  FakeBroker broker;
  Client client(fastOptions(broker.endpoint()));
  REQUIRE(pollUntil(client, [&] { return client.connected(); }));
  // Drain whatever is pending, then time an idle poll.
  for (int i = 0; i < 5; ++i) client.poll(0);
  int64_t t0 = nowMs();
  client.poll(0);
  CHECK(nowMs() - t0 < 50);
  t0 = nowMs();
  client.poll(30);
  CHECK(nowMs() - t0 <= 200);
}

TEST_CASE("client: an application that stops polling is handled without a false alarm or a stale session",
          "[client][heartbeat]") {
  FakeBroker broker;
  auto opts = fastOptions(broker.endpoint());
  opts.heartbeatMs = 200;
  Client client(opts);
  std::vector<bool> changes;
  client.onConnection = [&](bool up) { changes.push_back(up); };
  REQUIRE(pollUntil(client, [&] { return client.connected(); }));
  pollUntil(client, [] { return false; }, 300);

  SECTION("a short stall (< 3 heartbeats without sending) keeps the session") {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the stall under test, not a wait
    pollUntil(client, [] { return false; }, 800);
    CHECK(changes == std::vector<bool>{true});
  }
  SECTION("a long stall means the broker dropped us: a new session, and publishes still arrive") {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the stall under test, not a wait
    std::vector<uint64_t> acked;
    client.onAck = [&](uint64_t token, uint64_t, bool) { acked.push_back(token); };
    client.publish(view(makeMessage("after-stall")));
    REQUIRE(pollUntil(client, [&] { return acked.size() == 1; }));
    CHECK(changes == std::vector<bool>{true, false, true});
    CHECK(broker.hellos() == 2);
  }
}
