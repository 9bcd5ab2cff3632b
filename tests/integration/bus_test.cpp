// End-to-end behaviour of the bus: the real alertbusd over real sockets with the real client library.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <thread>

#include "tests/integration/broker_process.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

struct Outlet {
  Client client;
  std::vector<uint64_t> seqs;                 // in arrival order (application view)
  std::vector<std::string> ids;
  std::vector<std::vector<std::string>> targets;
  std::vector<bool> urgent;
  bool autoAck = true;
  Outlet(ClientOptions o, const std::string& outlet, uint32_t credit) : client(std::move(o)) {
    client.onDeliver = [this](const Delivery& d) {
      seqs.push_back(d.seq);
      ids.push_back(d.message.getId().cStr());
      targets.push_back(d.targets);
      urgent.push_back(d.urgent);
      if (autoAck) client.ack(d.seq);
    };
    client.subscribe(outlet, credit);
  }
};

struct Publisher {
  Client client;
  std::map<uint64_t, uint64_t> seqOfToken;
  std::map<uint64_t, RejectInfo> rejects;
  explicit Publisher(ClientOptions o) : client(std::move(o)) {
    client.onAck = [this](uint64_t token, uint64_t seq, bool) { seqOfToken[token] = seq; };
    client.onReject = [this](uint64_t token, const RejectInfo& r) { rejects[token] = r; };
  }
  uint64_t publish(const kj::Array<capnp::word>& m) { return client.publish(m.asBytes()); }
};

std::string adminStatus(BrokerProcess& broker) {
  Client admin(broker.clientOptions("admin"));
  std::string body;
  bool got = false;
  admin.onAdminReply = [&](uint64_t, bool ok, const std::string& j) {
    got = ok;
    body = j;
  };
  REQUIRE(waitFor([&] { return admin.connected(); }, 10000, &admin));
  admin.adminRequest("status", "{}");
  REQUIRE(waitFor([&] { return got; }, 10000, &admin));
  return body;
}

}  // namespace

TEST_CASE("bus: a warning published by met reaches the sms and dashboard outlets with their targets", "[bus]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher met(broker.clientOptions("met"));
  Outlet sms(broker.clientOptions("sms"), "sms", 10);
  Outlet desk(broker.clientOptions("dashboard"), "dashboard", 10);
  auto token = met.publish(sampleWarning("w-1"));
  REQUIRE(waitFor([&] { return met.seqOfToken.count(token) && sms.seqs.size() == 1 && desk.seqs.size() == 1; },
                  10000, {&met.client, &sms.client, &desk.client}));
  CHECK(sms.ids[0] == "w-1");
  CHECK(sms.targets[0] == std::vector<std::string>{"duty"});
  CHECK(desk.targets[0] == std::vector<std::string>{"city-desk", "training-desk"});
  CHECK(sms.seqs[0] == met.seqOfToken[token]);
}

TEST_CASE("bus: exercise traffic reaches only destinations that opt in", "[bus][routing]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher met(broker.clientOptions("met"));
  Outlet desk(broker.clientOptions("dashboard"), "dashboard", 10);
  met.publish(edited(sampleWarning("ex-1"), [](schema::Message::Builder m) { m.setStatus(schema::Status::EXERCISE); }));
  REQUIRE(waitFor([&] { return desk.seqs.size() == 1; }, 10000, {&met.client, &desk.client}));
  CHECK(desk.targets[0] == std::vector<std::string>{"training-desk"});
}

TEST_CASE("bus: a client cannot speak for another agency or outside its permissions", "[bus][security]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher water(broker.clientOptions("water"));
  SECTION("sender field naming another agency is rejected") {
    capnp::MallocMessageBuilder b;
    auto words = sampleWarning("spoof-1", "flood");
    capnp::FlatArrayMessageReader r(words);
    b.setRoot(r.getRoot<schema::Message>());
    b.getRoot<schema::Message>().setSender("met");
    auto t = water.client.publish(b);
    REQUIRE(waitFor([&] { return water.rejects.count(t) > 0; }, 10000, &water.client));
    CHECK(water.rejects[t].code == "invalid");
    CHECK(water.rejects[t].field == "sender");
    CHECK(water.rejects[t].value == "met");
  }
  SECTION("an event outside publish_events is rejected naming the permission") {
    auto t = water.publish(sampleWarning("typhoon-from-water", "typhoon"));
    REQUIRE(waitFor([&] { return water.rejects.count(t) > 0; }, 10000, &water.client));
    CHECK(water.rejects[t].code == "notPermitted");
    CHECK(water.rejects[t].field == "permission.publish_events");
    CHECK(water.rejects[t].value == "typhoon");
  }
  SECTION("a permitted event is accepted, stamped with the authenticated agency") {
    auto t = water.publish(sampleWarning("flood-1", "flood-warning"));
    Outlet desk(broker.clientOptions("dashboard"), "dashboard", 10);
    std::string sender;
    desk.client.onDeliver = [&](const Delivery& d) {
      sender = d.sender;
      desk.client.ack(d.seq);
    };
    REQUIRE(waitFor([&] { return water.seqOfToken.count(t) && !sender.empty(); }, 10000,
                    {&water.client, &desk.client}));
    CHECK(sender == "water");
  }
}

TEST_CASE("bus: urgent (red/orange) traffic overtakes routine traffic in an outlet's backlog", "[bus][priority]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher met(broker.clientOptions("met"));
  for (int i = 0; i < 20; ++i) met.publish(sampleWarning("routine-" + std::to_string(i), "rainstorm", schema::Colour::BLUE));
  auto redToken = met.publish(sampleWarning("red-1", "typhoon", schema::Colour::RED));
  REQUIRE(waitFor([&] { return met.seqOfToken.size() == 21; }, 10000, &met.client));
  Outlet sms(broker.clientOptions("sms"), "sms", 1);
  REQUIRE(waitFor([&] { return sms.seqs.size() == 21; }, 10000, &sms.client));
  CHECK(sms.ids[0] == "red-1");
  CHECK(sms.urgent[0]);
  CHECK(sms.seqs[0] == met.seqOfToken[redToken]);
  // The routine ones follow in journal order.
  for (size_t i = 2; i < sms.seqs.size(); ++i) CHECK(sms.seqs[i - 1] < sms.seqs[i]);
}

TEST_CASE("bus: unacknowledged deliveries are redelivered to the next subscriber after a reconnect", "[bus][delivery]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher met(broker.clientOptions("met"));
  for (int i = 0; i < 5; ++i) met.publish(sampleWarning("r-" + std::to_string(i)));
  REQUIRE(waitFor([&] { return met.seqOfToken.size() == 5; }, 10000, &met.client));
  std::vector<uint64_t> first;
  {
    Outlet sms(broker.clientOptions("sms"), "sms", 10);
    sms.autoAck = false;
    REQUIRE(waitFor([&] { return sms.seqs.size() == 5; }, 10000, &sms.client));
    sms.client.ack(sms.seqs[0]);
    sms.client.ack(sms.seqs[1]);
    sms.client.poll(0);
    // Wait until the broker has the two acks (its status shows them), then vanish without acking the rest.
    REQUIRE(waitFor([&] {
      auto j = nlohmann::json::parse(adminStatus(broker));
      for (auto& o : j["outlets"])
        if (o["outlet"] == "sms") return o["acknowledged"].get<uint64_t>() == 2;
      return false;
    }, 10000, &sms.client));
    first = sms.seqs;
  }
  Outlet again(broker.clientOptions("sms"), "sms", 10);
  REQUIRE(waitFor([&] { return again.seqs.size() == 3; }, 10000, &again.client));
  CHECK(again.seqs == std::vector<uint64_t>(first.begin() + 2, first.end()));
}

TEST_CASE("bus: the outbox keeps publishing while the broker is down; everything arrives once, in order", "[bus][outbox]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  auto opts = broker.clientOptions("met");
  opts.outboxPath = dir.file("met-outbox.db");
  Outlet desk(broker.clientOptions("dashboard"), "dashboard", 100);
  SECTION("the same adapter process, broker restarted") {
    Publisher met(opts);
    REQUIRE(waitFor([&] { return met.client.connected(); }, 10000, &met.client));
    REQUIRE(broker.stop() == 0);
    REQUIRE(waitFor([&] { return !met.client.connected(); }, 10000, &met.client));
    for (int i = 0; i < 50; ++i) met.publish(sampleWarning("down-" + std::to_string(i)));
    CHECK(met.client.pending() == 50);
    broker.restart();
    REQUIRE(waitFor([&] { return desk.seqs.size() == 50 && met.client.pending() == 0; }, 20000,
                    {&met.client, &desk.client}));
  }
  SECTION("the adapter process restarted too: the SQLite outbox re-sends what was never acknowledged") {
    REQUIRE(broker.stop() == 0);
    {
      Publisher met(opts);
      for (int i = 0; i < 50; ++i) met.publish(sampleWarning("down-" + std::to_string(i)));
      met.client.poll(0);
    }
    broker.restart();
    Publisher met(opts);
    CHECK(met.client.pending() == 50);
    REQUIRE(waitFor([&] { return desk.seqs.size() == 50 && met.client.pending() == 0; }, 20000,
                    {&met.client, &desk.client}));
  }
  REQUIRE(desk.ids.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(desk.ids[i] == "down-" + std::to_string(i));
}

TEST_CASE("bus: SIGKILL of the broker under load loses no acknowledged message and the outlet sees none twice",
          "[bus][durability]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  constexpr int kPublishers = 3, kPerPublisher = 1500;
  const char* agencies[kPublishers] = {"met", "fire", "admin"};
  std::vector<std::unique_ptr<Publisher>> pubs;
  for (int p = 0; p < kPublishers; ++p) {
    auto o = broker.clientOptions(agencies[p]);
    o.outboxPath = dir.file(std::string(agencies[p]) + "-outbox.db");
    o.maxInFlight = 200;
    pubs.push_back(std::make_unique<Publisher>(o));
  }
  Outlet desk(broker.clientOptions("dashboard"), "dashboard", 200);
  std::vector<Client*> all{&desk.client};
  for (auto& p : pubs) all.push_back(&p->client);
  for (int i = 0; i < kPerPublisher; ++i)
    for (int p = 0; p < kPublishers; ++p)
      pubs[p]->publish(sampleWarning(std::string(agencies[p]) + "-" + std::to_string(i)));
  // Kill in the middle: once a third of the acks have arrived.
  REQUIRE(waitFor([&] {
    size_t n = 0;
    for (auto& p : pubs) n += p->seqOfToken.size();
    return n >= kPublishers * kPerPublisher / 3;
  }, 30000, all));
  broker.kill9();
  std::map<uint64_t, std::string> ackedBeforeKill;  // seq -> publisher
  for (int p = 0; p < kPublishers; ++p)
    for (auto& [t, s] : pubs[p]->seqOfToken) ackedBeforeKill[s] = agencies[p];
  INFO("acked before kill: " << ackedBeforeKill.size());
  CHECK(ackedBeforeKill.size() < size_t(kPublishers * kPerPublisher));
  // Same port, same journal: the same client objects reconnect by themselves, re-send their outboxes,
  // and the outlet resubscribes and gets every unacknowledged delivery again.
  broker.restart();
  REQUIRE(waitFor([&] {
    for (auto& p : pubs)
      if (p->client.pending() != 0) return false;
    return desk.seqs.size() >= size_t(kPublishers * kPerPublisher);
  }, 90000, all));
  // Every message reached the outlet application exactly once.
  std::set<std::string> ids(desk.ids.begin(), desk.ids.end());
  CHECK(ids.size() == size_t(kPublishers * kPerPublisher));
  CHECK(desk.ids.size() == size_t(kPublishers * kPerPublisher));
  std::set<uint64_t> seqs(desk.seqs.begin(), desk.seqs.end());
  CHECK(seqs.size() == desk.seqs.size());
  // Every message acknowledged before the kill is among them, under its original seq.
  for (auto& [seq, agency] : ackedBeforeKill) CHECK(seqs.count(seq) == 1);
  // The journal holds each id exactly once: no publisher retry created a duplicate journal entry.
  auto j = nlohmann::json::parse(adminStatus(broker));
  CHECK(*seqs.rbegin() == j["broker"]["lastSeq"].get<uint64_t>());
  CHECK(seqs.size() == j["broker"]["lastSeq"].get<uint64_t>());
}

TEST_CASE("bus: a client notices a dead broker within a few heartbeats", "[bus][heartbeat]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Client c(broker.clientOptions("met"));  // heartbeat 300 ms in the harness
  bool down = false;
  c.onConnection = [&](bool up) {
    if (!up) down = true;
  };
  REQUIRE(waitFor([&] { return c.connected(); }, 10000, &c));
  broker.kill9();
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(waitFor([&] { return down; }, 5000, &c));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms < 3000);
}

TEST_CASE("bus: status shows clients, outlet backlog and rejections by reason", "[bus][status]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher water(broker.clientOptions("water"));
  auto t = water.publish(sampleWarning("not-allowed", "typhoon"));
  auto ok = water.publish(sampleWarning("flood-ok", "flood"));
  REQUIRE(waitFor([&] { return water.rejects.count(t) && water.seqOfToken.count(ok); }, 10000, &water.client));
  auto j = nlohmann::json::parse(adminStatus(broker));
  CHECK(j["counts"]["rejectedByReason"]["notPermitted"].get<int>() == 1);
  CHECK(j["counts"]["accepted"].get<int>() == 1);
  bool sawWater = false;
  for (auto& c : j["clients"])
    if (c["agency"] == "water") sawWater = true;
  CHECK(sawWater);
  bool smsBacklog = false;
  for (auto& o : j["outlets"])
    if (o["outlet"] == "sms" && o["backlog"].get<int>() == 1) smsBacklog = true;
  CHECK(smsBacklog);
  // The rejection is logged with the message id.
  CHECK(broker.log().find("water/not-allowed") != std::string::npos);
}

TEST_CASE("bus: subscribing to an outlet nobody routes to is refused as unknownOutlet", "[bus][delivery]") {
  TempDir dir;
  auto setup = defaultSetup();
  setup.agencies.push_back({"any-outlet", "outlet", {"ack"}, {}, {"*"}});
  BrokerProcess broker(dir, setup);
  broker.start();
  Client c(broker.clientOptions("any-outlet"));
  std::vector<RejectInfo> errors;
  c.onError = [&](const RejectInfo& e) { errors.push_back(e); };
  c.subscribe("dashbord", 10);
  REQUIRE(waitFor([&] { return !errors.empty(); }, 10000, &c));
  CHECK(errors[0].code == "unknownOutlet");
  CHECK(errors[0].value == "dashbord");
}

TEST_CASE("bus: a retry of a journaled alert that expired meanwhile is acknowledged as a duplicate, not refused",
          "[bus][durability]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  Publisher met(broker.clientOptions("met"));
  int64_t soon = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count() + 1500;
  auto first = met.publish(sampleWarning("short-lived", "typhoon", schema::Colour::YELLOW, "330212", soon));
  REQUIRE(waitFor([&] { return met.seqOfToken.count(first) > 0; }, 10000, &met.client));
  // Wait until it has expired, then publish the same message again (as after a lost ack).
  REQUIRE(waitFor([&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count() > soon + 50;
  }, 5000, &met.client));
  auto retry = met.publish(sampleWarning("short-lived", "typhoon", schema::Colour::YELLOW, "330212", soon));
  auto fresh = met.publish(sampleWarning("expired-on-arrival", "typhoon", schema::Colour::YELLOW, "330212", soon));
  REQUIRE(waitFor([&] { return met.seqOfToken.count(retry) && met.rejects.count(fresh); }, 10000, &met.client));
  CHECK(met.seqOfToken[retry] == met.seqOfToken[first]);
  CHECK(met.rejects[fresh].code == "expired");
}

namespace {
// An update or cancel of `ref` (sender as CAP writes it: the agency or the CAP sender), as `status`.
kj::Array<capnp::word> referencing(const std::string& id, schema::MsgType type, const std::string& refSender,
                                   const std::string& refId, schema::Status status = schema::Status::ACTUAL) {
  return edited(sampleWarning(id), [&](schema::Message::Builder m) {
    m.setMsgType(type);
    m.setStatus(status);
    auto ref = m.initReferences(1)[0];
    ref.setSender(refSender);
    ref.setId(refId);
  });
}
kj::Array<capnp::word> withOrigin(const kj::Array<capnp::word>& words, const std::string& origin) {
  return edited(words, [&](schema::Message::Builder m) { m.setOrigin(origin); });
}
}  // namespace

TEST_CASE("bus: an update or cancel follows its original to every destination it reached", "[bus][routing][follow]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  // Alerts only to SMS (the sample rule's old mistake); everything actual to the city desk.
  setup.rulesToml = R"(
[destinations."dashboard:training-desk"]
accept_status = ["actual", "exercise", "test"]
[destinations."sms:drill"]
accept_status = ["exercise"]

[[rule]]
name = "alerts-only-to-sms"
msg_type = ["alert"]
kind = ["warning"]
to = ["sms:duty"]
continue = true

[[rule]]
name = "drills"
status = ["exercise"]
to = ["sms:drill", "dashboard:training-desk"]

[[rule]]
name = "everything-to-city-desk"
to = ["dashboard:city-desk"]
)";
  BrokerProcess broker(dir, setup);
  broker.start();
  Publisher met(broker.clientOptions("met"));
  Publisher fire(broker.clientOptions("fire"));  // another agency, as a provincial observatory would be
  std::vector<Delivery> sms;                        // copies of what the SMS outlet got
  std::vector<std::vector<uint64_t>> smsRefs, smsFollows;
  Client smsClient(broker.clientOptions("sms"));
  smsClient.onDeliver = [&](const Delivery& d) {
    sms.push_back({d.seq, d.sender, d.receivedMs, d.targets, d.follows, d.references, d.urgent, {}, {}});
    smsClient.ack(d.seq);
  };
  smsClient.subscribe("sms", 10);
  std::vector<std::pair<std::vector<std::string>, std::vector<uint64_t>>> tail;  // what `alertbus tail` sees
  Client admin(broker.clientOptions("admin"));
  admin.onDeliver = [&](const Delivery& d) {
    tail.push_back({d.targets, d.follows});
    admin.ack(d.seq);
  };
  admin.subscribe("*", 100, 1);
  std::vector<Client*> all{&met.client, &fire.client, &smsClient, &admin};

  auto t1 = met.publish(withOrigin(sampleWarning("w-1"), "nbqx@nbmb.gov.cn"));
  REQUIRE(waitFor([&] { return met.seqOfToken.count(t1) && sms.size() == 1; }, 10000, all));
  uint64_t alertSeq = met.seqOfToken[t1];

  SECTION("a cancel naming the original by agency reaches SMS although its rule takes alerts only") {
    auto t2 = met.publish(referencing("w-1-cancel", schema::MsgType::CANCEL, "met", "w-1"));
    REQUIRE(waitFor([&] { return met.seqOfToken.count(t2) && sms.size() == 2; }, 10000, all));
    CHECK(sms[1].targets == std::vector<std::string>{"duty"});
    CHECK(sms[1].follows == std::vector<uint64_t>{alertSeq});
    CHECK(sms[1].references == std::vector<uint64_t>{alertSeq});
  }
  SECTION("another agency's cancel naming the CAP sender resolves to the original") {
    auto t2 = fire.publish(referencing("prov-cancel-1", schema::MsgType::CANCEL, "nbqx@nbmb.gov.cn", "w-1"));
    REQUIRE(waitFor([&] { return fire.seqOfToken.count(t2) && sms.size() == 2; }, 10000, all));
    CHECK(sms[1].sender == "fire");
    CHECK(sms[1].references == std::vector<uint64_t>{alertSeq});
    // The tail names the destination added by following, and the city desk the rules gave.
    REQUIRE(waitFor([&] { return tail.size() == 2; }, 10000, all));
    CHECK(tail[1].first == std::vector<std::string>{"dashboard:city-desk", "sms:duty"});
    CHECK(tail[1].second == std::vector<uint64_t>{alertSeq, alertSeq});
  }
  SECTION("an exercise cancel never follows an actual alert to a destination that takes actual only") {
    auto t2 = met.publish(referencing("ex-cancel", schema::MsgType::CANCEL, "met", "w-1", schema::Status::EXERCISE));
    REQUIRE(waitFor([&] { return met.seqOfToken.count(t2) && tail.size() == 2; }, 10000, all));
    CHECK(tail[1].first == std::vector<std::string>{"sms:drill", "dashboard:training-desk"});
    CHECK(tail[1].second == std::vector<uint64_t>{0, 0});
    CHECK(sms.size() == 2);  // the drill destination, not duty
    CHECK(sms[1].targets == std::vector<std::string>{"drill"});
  }
  SECTION("a reference to nothing journaled adds nothing") {
    auto t2 = met.publish(referencing("u-unknown", schema::MsgType::UPDATE, "met", "never-sent"));
    REQUIRE(waitFor([&] { return met.seqOfToken.count(t2) && tail.size() == 2; }, 10000, all));
    CHECK(tail[1].first == std::vector<std::string>{"dashboard:city-desk"});
    CHECK(sms.size() == 1);
  }
}

TEST_CASE("bus: a report about a warning (a sitrep update referencing it) does not follow it", "[bus][routing][follow]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());  // warnings -> sms:duty, everything -> the desks
  broker.start();
  Publisher met(broker.clientOptions("met"));
  Publisher sms(broker.clientOptions("sms"));  // may publish sitreps, as its delivery summaries are
  std::vector<std::vector<std::string>> tail;
  Client admin(broker.clientOptions("admin"));
  admin.onDeliver = [&](const Delivery& d) {
    tail.push_back(d.targets);
    admin.ack(d.seq);
  };
  admin.subscribe("*", 100, 1);
  std::vector<Client*> all{&met.client, &sms.client, &admin};
  auto t1 = met.publish(sampleWarning("w-1"));
  REQUIRE(waitFor([&] { return met.seqOfToken.count(t1) > 0; }, 10000, all));  // journaled before the report
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  m.setId("sms-summary-w-1-2");
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::UPDATE);
  auto ref = m.initReferences(1)[0];
  ref.setSender("met");
  ref.setId("w-1");
  m.getPayload().initSitrep().setNarrative("已送达 3 人");
  sms.client.publish(b);
  REQUIRE(waitFor([&] { return tail.size() == 2; }, 10000, all));
  CHECK(tail[0] == std::vector<std::string>{"sms:duty", "dashboard:city-desk", "dashboard:training-desk"});
  CHECK(tail[1] == std::vector<std::string>{"dashboard:city-desk", "dashboard:training-desk"});
}
