// Client publishing against a fake broker: acks in order, the in-flight window, final and retryable
// rejects, a broker that appears late, and the SQLite outbox across a client restart and a hard exit.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "client/client.h"
#include "client/outbox.h"
#include "tests/unit/client/fake_broker.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

ClientOptions fastOptions(const std::string& endpoint) {
  ClientOptions o;
  o.endpoint = endpoint;
  o.agency = "met";
  o.clientName = "client-test";
  o.heartbeatMs = 100;
  o.reconnectMinMs = 20;
  o.reconnectMaxMs = 200;
  return o;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/alertbus-client-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct Recorder {
  std::vector<uint64_t> ackTokens;
  std::vector<uint64_t> ackSeqs;
  std::vector<std::pair<uint64_t, RejectInfo>> rejects;
  std::vector<bool> connections;
  void attach(Client& c) {
    c.onAck = [this](uint64_t token, uint64_t seq, bool) {
      ackTokens.push_back(token);
      ackSeqs.push_back(seq);
    };
    c.onReject = [this](uint64_t token, const RejectInfo& info) { rejects.emplace_back(token, info); };
    c.onConnection = [this](bool up) { connections.push_back(up); };
  }
};

std::vector<std::string> ids(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

}  // namespace

TEST_CASE("client: 100 publishes are acked in token order and leave the outbox", "[client]") {
  FakeBroker broker;
  Client client(fastOptions(broker.endpoint()));
  Recorder rec;
  rec.attach(client);

  std::vector<uint64_t> tokens;
  for (auto& id : ids("m-", 100)) tokens.push_back(client.publish(view(makeMessage(id))));
  CHECK(client.pending() == 100);

  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 100; }));
  CHECK(rec.ackTokens == tokens);
  CHECK(std::is_sorted(rec.ackSeqs.begin(), rec.ackSeqs.end()));
  CHECK(client.pending() == 0);
  CHECK(client.connected());
  CHECK(client.agency() == "met");
  CHECK(rec.connections == std::vector<bool>{true});
  CHECK(client.stats().published == 100);
  CHECK(broker.publishedIds() == ids("m-", 100));
}

TEST_CASE("client: publish(MessageBuilder) sends the same bytes", "[client]") {
  FakeBroker broker;
  Client client(fastOptions(broker.endpoint()));
  Recorder rec;
  rec.attach(client);
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  m.setId("built-1");
  m.setStatus(schema::Status::EXERCISE);
  client.publish(b);
  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 1; }));
  CHECK(broker.publishedIds() == std::vector<std::string>{"built-1"});
}

TEST_CASE("client: no more than maxInFlight publishes are unacknowledged", "[client]") {
  FakeBroker broker;
  broker.autoAck = false;
  auto opts = fastOptions(broker.endpoint());
  opts.maxInFlight = 5;
  Client client(opts);
  Recorder rec;
  rec.attach(client);
  for (auto& id : ids("w-", 20)) client.publish(view(makeMessage(id)));

  REQUIRE(pollUntil(client, [&] { return broker.heldCount() == 5; }));
  // Give it time to overstep if it were going to (heartbeats keep flowing meanwhile).
  pollUntil(client, [] { return false; }, 300);
  CHECK(broker.heldCount() == 5);

  broker.autoAck = true;
  broker.ackHeld();
  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 20; }));
  CHECK(broker.publishedIds() == ids("w-", 20));
}

TEST_CASE("client: a final reject is reported and dropped, a retryable one is retried", "[client]") {
  FakeBroker broker;
  broker.rejectId("bad", schema::RejectCode::INVALID, 100);
  broker.rejectId("busy", schema::RejectCode::OVERLOADED, 2);
  broker.rejectId("disk", schema::RejectCode::INTERNAL, 1);
  Client client(fastOptions(broker.endpoint()));
  Recorder rec;
  rec.attach(client);

  uint64_t a = client.publish(view(makeMessage("a")));
  uint64_t bad = client.publish(view(makeMessage("bad")));
  uint64_t busy = client.publish(view(makeMessage("busy")));
  uint64_t disk = client.publish(view(makeMessage("disk")));
  uint64_t c = client.publish(view(makeMessage("c")));

  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 4 && client.pending() == 0; }));
  REQUIRE(rec.rejects.size() == 1);
  CHECK(rec.rejects[0].first == bad);
  CHECK(rec.rejects[0].second.code == "invalid");
  CHECK(rec.rejects[0].second.field == "id");
  CHECK(rec.rejects[0].second.value == "bad");
  CHECK(rec.rejects[0].second.reason == "rejected by the test");
  std::vector<uint64_t> acked = rec.ackTokens;
  std::sort(acked.begin(), acked.end());
  CHECK(acked == std::vector<uint64_t>{a, busy, disk, c});
  CHECK(client.stats().rejected == 1);

  auto seen = broker.publishedIds();
  CHECK(std::count(seen.begin(), seen.end(), "bad") == 1);   // final: never re-sent
  CHECK(std::count(seen.begin(), seen.end(), "busy") == 3);  // two overloaded, then accepted
  CHECK(std::count(seen.begin(), seen.end(), "disk") == 2);
  CHECK(std::count(seen.begin(), seen.end(), "a") == 1);
}

TEST_CASE("client: publishes made while the broker is absent arrive once, in order, when it appears", "[client]") {
  std::string endpoint;
  {
    FakeBroker probe;  // learn a free port, then let it go
    endpoint = probe.endpoint();
  }
  Client client(fastOptions(endpoint));
  Recorder rec;
  rec.attach(client);
  std::vector<RejectInfo> errors;
  client.onError = [&](const RejectInfo& e) { errors.push_back(e); };
  for (auto& id : ids("late-", 20)) client.publish(view(makeMessage(id)));

  pollUntil(client, [] { return false; }, 500);  // several failed attempts
  CHECK_FALSE(client.connected());
  CHECK(rec.connections.empty());
  REQUIRE(errors.size() == 1);  // one report per outage, not one per attempt
  CHECK(errors[0].code == "noAnswer");

  FakeBroker::Options bo;
  bo.endpoint = endpoint;
  FakeBroker broker(bo);
  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 20; }));
  CHECK(broker.publishedIds() == ids("late-", 20));
  CHECK(client.pending() == 0);
}

TEST_CASE("client: a SQLite outbox survives a client restart and is re-sent", "[client][outbox]") {
  TempDir dir;
  FakeBroker broker;
  broker.autoAck = false;
  auto opts = fastOptions(broker.endpoint());
  opts.outboxPath = dir.path + "/outbox.db";

  {
    Client first(opts);
    for (auto& id : ids("keep-", 5)) first.publish(view(makeMessage(id)));
    REQUIRE(pollUntil(first, [&] { return broker.heldCount() == 5; }));
    CHECK(first.pending() == 5);
  }  // never acknowledged

  broker.autoAck = true;
  Client second(opts);
  Recorder rec;
  rec.attach(second);
  CHECK(second.pending() == 5);
  REQUIRE(pollUntil(second, [&] { return second.pending() == 0; }));
  CHECK(rec.ackTokens == std::vector<uint64_t>{1, 2, 3, 4, 5});
  auto seen = broker.publishedIds();
  REQUIRE(seen.size() == 10);
  CHECK(std::vector<std::string>(seen.begin() + 5, seen.end()) == ids("keep-", 5));
  // Numbering continues across the restart.
  CHECK(second.publish(view(makeMessage("after"))) == 6);
}

TEST_CASE("client: flush() makes publishes survive a hard exit", "[client][outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/outbox.db";
  std::string endpoint;
  {
    FakeBroker probe;
    endpoint = probe.endpoint();
  }
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 1;
    try {
      auto opts = fastOptions(endpoint);  // nobody listens: nothing is ever acked
      opts.outboxPath = path;
      auto* client = new Client(opts);  // leaked on purpose: no destructor runs
      for (int i = 0; i < 3; ++i) client->publish(view(makeMessage("crash-" + std::to_string(i))));
      client->flush();
      rc = 0;
    } catch (...) {
    }
    ::_exit(rc);  // like kill -9 after flush(): no destructors, no atexit
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  SqliteOutbox outbox(path, 100);
  CHECK(outbox.size() == 3);
  std::vector<uint64_t> tokens;
  outbox.forEachAfter(0, 10, [&](uint64_t t, kj::ArrayPtr<const kj::byte>) {
    tokens.push_back(t);
    return true;
  });
  CHECK(tokens == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("client: a broker that lost the session (Reject notReady) gets a new Hello and the message", "[client]") {
  FakeBroker broker;
  Client client(fastOptions(broker.endpoint()));
  Recorder rec;
  rec.attach(client);
  client.publish(view(makeMessage("before")));
  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 1; }));

  broker.forgetSessions();
  // The command runs on the broker's next turn; publish once the client could have noticed nothing.
  pollUntil(client, [] { return false; }, 50);
  uint64_t token = client.publish(view(makeMessage("after-restart")));
  REQUIRE(pollUntil(client, [&] { return rec.ackTokens.size() == 2; }));
  CHECK(rec.ackTokens.back() == token);
  CHECK(rec.rejects.empty());
  CHECK(broker.hellos() == 2);
  CHECK(rec.connections == std::vector<bool>{true, false, true});
}

TEST_CASE("client: publish() beyond outboxLimit throws OutboxFull", "[client][outbox]") {
  std::string endpoint;
  {
    FakeBroker probe;
    endpoint = probe.endpoint();
  }
  auto opts = fastOptions(endpoint);
  opts.outboxLimit = 3;
  Client client(opts);
  for (int i = 0; i < 3; ++i) client.publish(view(makeMessage("f" + std::to_string(i))));
  CHECK_THROWS_AS(client.publish(view(makeMessage("f3"))), OutboxFull);
  CHECK(client.pending() == 3);
}

TEST_CASE("client: an invalid endpoint or key fails at construction", "[client]") {
  ClientOptions o;
  o.endpoint = "nonsense://x";
  CHECK_THROWS_AS(Client(o), std::invalid_argument);
  o.endpoint = "tcp://127.0.0.1:1";
  o.serverPublicKey = "short";
  CHECK_THROWS_AS(Client(o), std::invalid_argument);
}
