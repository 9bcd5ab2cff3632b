// Client deliveries against a fake broker: each seq reaches the application once, redeliveries are
// re-acked only if the application acked them, acks are batched, a bad message is reported and not
// acked, and the subscription survives a reconnect.
#include <catch2/catch.hpp>

#include <algorithm>

#include "client/client.h"
#include "tests/unit/client/fake_broker.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

ClientOptions fastOptions(const std::string& endpoint) {
  ClientOptions o;
  o.endpoint = endpoint;
  o.agency = "sms";
  o.heartbeatMs = 100;
  o.reconnectMinMs = 20;
  o.reconnectMaxMs = 200;
  return o;
}

FakeBroker::Options outletBroker() {
  FakeBroker::Options bo;
  bo.role = schema::Role::OUTLET;
  bo.agency = "sms";
  return bo;
}

size_t countOf(const std::vector<uint64_t>& v, uint64_t x) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), x));
}

}  // namespace

TEST_CASE("client: seq 5 delivered twice reaches the application once and is acked twice", "[client][deliver]") {
  FakeBroker broker(outletBroker());
  Client client(fastOptions(broker.endpoint()));
  std::vector<uint64_t> seen;
  std::vector<std::string> ids;
  client.onDeliver = [&](const Delivery& d) {
    seen.push_back(d.seq);
    ids.push_back(d.message.getId());
    CHECK(d.sender == "sms");
    CHECK(d.targets == std::vector<std::string>{"flood-duty-officers"});
    CHECK(d.receivedMs == 1700000000123);
    CHECK(d.messageBytes.size() > 0);
    client.ack(d.seq);
  };
  client.subscribe("sms", 10);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes() == std::vector<std::string>{"sms"}; }));

  broker.deliver(5, 0, makeMessage("five"));
  broker.deliver(5, 0, makeMessage("five"));
  broker.deliver(6, 0, makeMessage("six"), true);
  REQUIRE(pollUntil(client, [&] {
    auto acks = broker.deliverAcks();
    return countOf(acks, 5) == 2 && countOf(acks, 6) == 1;
  }));
  CHECK(seen == std::vector<uint64_t>{5, 6});
  CHECK(ids == std::vector<std::string>{"five", "six"});
  CHECK(client.stats().delivered == 2);
  CHECK(client.stats().redeliveriesDropped == 1);
}

TEST_CASE("client: a redelivery of a seq the application has not acked yet is dropped, not acked",
          "[client][deliver]") {
  FakeBroker broker(outletBroker());
  Client client(fastOptions(broker.endpoint()));
  std::vector<uint64_t> seen;
  client.onDeliver = [&](const Delivery& d) { seen.push_back(d.seq); };  // acks later
  client.subscribe("sms", 10);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));

  broker.deliver(7, 0, makeMessage("seven"));
  REQUIRE(pollUntil(client, [&] { return seen.size() == 1; }));
  broker.deliver(7, 0, makeMessage("seven"));
  REQUIRE(pollUntil(client, [&] { return client.stats().redeliveriesDropped == 1; }));
  pollUntil(client, [] { return false; }, 100);
  CHECK(broker.deliverAcks().empty());
  CHECK(seen == std::vector<uint64_t>{7});

  client.ack(7);
  REQUIRE(pollUntil(client, [&] { return broker.deliverAcks() == std::vector<uint64_t>{7}; }));
}

TEST_CASE("client: acks are batched into few DeliverAck frames", "[client][deliver]") {
  FakeBroker broker(outletBroker());
  Client client(fastOptions(broker.endpoint()));
  client.onDeliver = [&](const Delivery& d) { client.ack(d.seq); };
  client.subscribe("sms", 1000);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));
  for (uint64_t s = 100; s < 400; ++s) broker.deliver(s, 0, makeMessage("m" + std::to_string(s)));
  REQUIRE(pollUntil(client, [&] { return broker.deliverAcks().size() == 300; }));
  auto acks = broker.deliverAcks();
  CHECK(std::is_sorted(acks.begin(), acks.end()));
  CHECK(client.stats().delivered == 300);
  // One per poll turn (or per 256 seqs), not one per seq. How many turns the 300 deliveries take depends
  // on scheduling (a loaded CI machine splits them finely), so the bound is "clearly batched", not a count.
  CHECK(broker.deliverAckFrames() <= 150);
}

TEST_CASE("client: a delivery whose message does not decode is reported and not acked", "[client][deliver]") {
  FakeBroker broker(outletBroker());
  Client client(fastOptions(broker.endpoint()));
  std::vector<uint64_t> seen;
  std::vector<RejectInfo> errors;
  client.onDeliver = [&](const Delivery& d) {
    seen.push_back(d.seq);
    client.ack(d.seq);
  };
  client.onError = [&](const RejectInfo& e) { errors.push_back(e); };
  client.subscribe("sms", 10);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));

  std::vector<kj::byte> garbage = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  broker.deliver(9, 0, garbage);
  broker.deliver(10, 0, makeMessage("ten"));
  REQUIRE(pollUntil(client, [&] { return broker.deliverAcks() == std::vector<uint64_t>{10}; }));
  CHECK(seen == std::vector<uint64_t>{10});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == "malformed");
  CHECK(errors[0].field == "deliver.message");
  CHECK(errors[0].value == "9");
  CHECK(client.stats().badFrames == 1);
}

TEST_CASE("client: after a reconnect the subscription is renewed and acked redeliveries are re-acked only",
          "[client][deliver][heartbeat]") {
  FakeBroker broker(outletBroker());
  Client client(fastOptions(broker.endpoint()));
  std::vector<uint64_t> seen;
  client.onDeliver = [&](const Delivery& d) {
    seen.push_back(d.seq);
    client.ack(d.seq);
  };
  client.subscribe("sms", 10);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));
  broker.deliver(20, 0, makeMessage("twenty"));
  REQUIRE(pollUntil(client, [&] { return broker.deliverAcks() == std::vector<uint64_t>{20}; }));

  broker.mute = true;
  REQUIRE(pollUntil(client, [&] { return !client.connected(); }));
  broker.mute = false;
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 2; }));

  // The broker redelivers what it had in flight; seq 20's ack was received, but a broker may still
  // redeliver (at-least-once). The application must not see it again.
  broker.deliver(20, 0, makeMessage("twenty"));
  broker.deliver(21, 0, makeMessage("twenty-one"));
  REQUIRE(pollUntil(client, [&] {
    auto acks = broker.deliverAcks();
    return countOf(acks, 20) == 2 && countOf(acks, 21) == 1;
  }));
  CHECK(seen == std::vector<uint64_t>{20, 21});

  // The broker's cursor passing a seq lets the client forget it; a delivery at or below the cursor is
  // not passed on but acked (credit is returned).
  broker.deliver(22, 21, makeMessage("twenty-two"));
  broker.deliver(21, 21, makeMessage("twenty-one"));
  REQUIRE(pollUntil(client, [&] { return countOf(broker.deliverAcks(), 21) == 2; }));
  CHECK(seen == std::vector<uint64_t>{20, 21, 22});
}

TEST_CASE("client: a tail resumes after the last seq it saw when it reconnects", "[client][deliver]") {
  FakeBroker::Options bo = outletBroker();
  bo.role = schema::Role::ADMIN;
  FakeBroker broker(bo);
  Client client(fastOptions(broker.endpoint()));
  std::vector<uint64_t> seen;
  client.onDeliver = [&](const Delivery& d) {
    seen.push_back(d.seq);
    client.ack(d.seq);
  };
  client.subscribe("*", 100, 0);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));
  broker.deliver(30, 0, makeMessage("thirty"));
  broker.deliver(31, 0, makeMessage("thirty-one"));
  REQUIRE(pollUntil(client, [&] { return seen.size() == 2; }));

  broker.mute = true;
  REQUIRE(pollUntil(client, [&] { return !client.connected(); }));
  broker.mute = false;
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 2; }));
  CHECK(broker.subscribeFromSeqs() == std::vector<uint64_t>{0, 32});
}

TEST_CASE("client: garbage from the broker is counted and reported; the session goes on", "[client][hostile]") {
  FakeBroker broker(outletBroker());
  Client client(fastOptions(broker.endpoint()));
  std::vector<RejectInfo> errors;
  std::vector<uint64_t> seen;
  client.onError = [&](const RejectInfo& e) { errors.push_back(e); };
  client.onDeliver = [&](const Delivery& d) {
    seen.push_back(d.seq);
    client.ack(d.seq);
  };
  client.subscribe("sms", 10);
  REQUIRE(pollUntil(client, [&] { return broker.subscribes().size() == 1; }));

  broker.sendRaw({1, 2, 3});                                    // not even a segment table
  broker.sendRaw({0, 0, 0, 0, 200, 0, 0, 0});                   // segment of 200 words, none present
  broker.sendRaw(std::vector<kj::byte>(2 << 20, 0));            // larger than limits.maxFrameBytes
  broker.sendRaw(makeMessage("two-parts"), 2);                  // multi-part
  broker.deliver(40, 0, makeMessage("forty"));                  // and then real traffic
  REQUIRE(pollUntil(client, [&] { return seen == std::vector<uint64_t>{40}; }));
  CHECK(client.stats().badFrames == 4);
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].code == "malformed");
  CHECK(errors[1].code == "malformed");
  CHECK_THAT(errors[1].reason, Catch::Contains("truncated"));
  CHECK(errors[2].code == "tooLarge");
  CHECK(errors[3].code == "malformed");
  CHECK(client.connected());
  CHECK(client.stats().reconnects == 0);
}
