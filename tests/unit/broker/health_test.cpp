// Adapter and feed health as the broker keeps it: which changes become system messages (adapter down and
// back, a feed down, stale and recovered, also across a restart of the adapter), feeds shown as unknown
// once their adapter is gone, and the system message itself: valid, from `broker`, routed by the sample
// rules to the operations monitor.
#include <catch2/catch.hpp>

#include <capnp/message.h>

#include "broker/health.h"
#include "broker/registry.h"
#include "broker/rules.h"
#include "model/facts.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;

namespace {

constexpr int64_t kT0 = 1796601600000;  // 2026-12-07T00:00:00Z

FeedHealth feed(const std::string& name, const std::string& state, const std::string& detail = "",
                int64_t lastOkMs = 0) {
  FeedHealth f;
  f.name = name;
  f.state = state;
  f.detail = detail;
  f.lastOkMs = lastOkMs;
  return f;
}

std::string describe(const HealthChange& c) { return c.agency + "/" + c.feed + ": " + c.from + " -> " + c.to; }

}  // namespace

TEST_CASE("health: an adapter's first connection is no news, its disconnect and return are", "[health]") {
  HealthBoard b;
  CHECK_FALSE(b.connected("met", kT0));
  CHECK(b.disconnectedAtMs("met") == 0);
  auto down = b.disconnected("met", "session closed: silent for more than 3 heartbeats", kT0 + 60000);
  REQUIRE(down);
  CHECK(describe(*down) == "met/: up -> down");
  CHECK(down->reason == "session closed: silent for more than 3 heartbeats");
  CHECK(down->fromSinceMs == kT0);
  CHECK(down->sinceMs == kT0 + 60000);
  CHECK(b.disconnectedAtMs("met") == kT0 + 60000);
  CHECK_FALSE(b.disconnected("met", "again", kT0 + 61000));  // already down: nothing new
  auto up = b.connected("met", kT0 + 120000);
  REQUIRE(up);
  CHECK(describe(*up) == "met/: down -> up");
  CHECK(up->fromSinceMs == kT0 + 60000);
  CHECK(up->recovered());
  CHECK(b.disconnectedAtMs("met") == 0);
  CHECK_FALSE(b.connected("met", kT0 + 121000));  // already up
}

TEST_CASE("health: feed changes are reported once per change, never for a new feed that works", "[health]") {
  HealthBoard b;
  b.connected("met", kT0);
  CHECK(b.report("met", {feed("nbmb", "up"), feed("watch:/in", "up")}, kT0).empty());
  CHECK(b.report("met", {feed("nbmb", "up"), feed("watch:/in", "up")}, kT0 + 1000).empty());

  SECTION("down with the reason, then a new reason is no news, then recovered") {
    auto c = b.report("met", {feed("nbmb", "down", "HTTP 503", kT0), feed("watch:/in", "up")}, kT0 + 2000);
    REQUIRE(c.size() == 1);
    CHECK(describe(c[0]) == "met/nbmb: up -> down");
    CHECK(c[0].reason == "HTTP 503");
    CHECK(c[0].lastOkMs == kT0);
    CHECK(c[0].fromSinceMs == kT0);
    CHECK(b.report("met", {feed("nbmb", "down", "timeout after 10000 ms"), feed("watch:/in", "up")}, kT0 + 3000).empty());
    c = b.report("met", {feed("nbmb", "up"), feed("watch:/in", "up")}, kT0 + 4000);
    REQUIRE(c.size() == 1);
    CHECK(describe(c[0]) == "met/nbmb: down -> up");
    CHECK(c[0].reason.empty());
    CHECK(c[0].fromSinceMs == kT0 + 2000);  // when it went down, not when the reason last changed
  }
  SECTION("stale, then down: each a change") {
    auto c = b.report("met", {feed("nbmb", "up"), feed("watch:/in", "stale", "no input since ...")}, kT0 + 2000);
    REQUIRE(c.size() == 1);
    CHECK(describe(c[0]) == "met/watch:/in: up -> stale");
    c = b.report("met", {feed("nbmb", "up"), feed("watch:/in", "down", "No such file or directory")}, kT0 + 3000);
    REQUIRE(c.size() == 1);
    CHECK(describe(c[0]) == "met/watch:/in: stale -> down");
  }
  SECTION("a new feed that is down from the start") {
    auto c = b.report("met", {feed("nbmb", "up"), feed("watch:/in", "up"), feed("cma", "down", "HTTP 404")}, kT0 + 2000);
    REQUIRE(c.size() == 1);
    CHECK(describe(c[0]) == "met/cma: unknown -> down");
    CHECK(c[0].fromSinceMs == 0);
  }
  SECTION("a feed no longer listed is forgotten") {
    CHECK(b.report("met", {feed("nbmb", "up")}, kT0 + 2000).empty());
    REQUIRE(b.feedsOf("met").size() == 1);
    auto c = b.report("met", {feed("nbmb", "up"), feed("watch:/in", "stale")}, kT0 + 3000);
    REQUIRE(c.size() == 1);
    CHECK(describe(c[0]) == "met/watch:/in: unknown -> stale");
  }
}

TEST_CASE("health: a disconnected adapter's feeds are unknown since then, its next report is compared with "
          "its last", "[health]") {
  HealthBoard b;
  b.connected("met", kT0);
  b.report("met", {feed("nbmb", "down", "HTTP 503"), feed("watch:/in", "up")}, kT0);
  b.disconnected("met", "session closed", kT0 + 5000);
  auto views = b.feedsOf("met");
  REQUIRE(views.size() == 2);
  for (auto& v : views) {
    CHECK(v.feed.state == "unknown");
    CHECK(v.feed.sinceMs == kT0 + 5000);
    CHECK_THAT(v.feed.detail, Catch::StartsWith("adapter disconnected 2026-12-07T00:00:05Z; last reported "));
  }
  CHECK(views[0].lastState == "down");
  CHECK(views[0].feed.detail == "adapter disconnected 2026-12-07T00:00:05Z; last reported down (HTTP 503)");
  CHECK(views[1].lastState == "up");

  b.connected("met", kT0 + 9000);
  auto c = b.report("met", {feed("nbmb", "up"), feed("watch:/in", "up")}, kT0 + 9500);
  REQUIRE(c.size() == 1);  // the feed that was down before the restart has recovered; the other is no news
  CHECK(describe(c[0]) == "met/nbmb: down -> up");
  views = b.feedsOf("met");
  CHECK(views[0].feed.state == "up");
  CHECK(views[1].feed.state == "up");
  CHECK(views[1].feed.sinceMs == kT0);  // up all along, as far as anyone reported
}

TEST_CASE("health: the system message is valid, from broker, and names adapter, feed, states, reason and "
          "times", "[health]") {
  HealthChange c;
  c.agency = "met";
  c.feed = "nbmb-atom";
  c.from = "up";
  c.to = "down";
  c.reason = "HTTP 200 body unreadable: document: format=<html>: unsupported format";
  c.fromSinceMs = kT0;
  c.sinceMs = kT0 + 90000;
  c.lastOkMs = kT0 + 30000;
  CHECK(healthNarrative(c) ==
        "adapter met, feed nbmb-atom: up -> down since 2026-12-07T00:01:30Z (up since 2026-12-07T00:00:00Z): "
        "HTTP 200 body unreadable: document: format=<html>: unsupported format; last read 2026-12-07T00:00:30Z");

  capnp::MallocMessageBuilder b;
  buildHealthMessage(c, healthMessageId("abc", 7), kT0 + 90000, b);
  auto m = b.getRoot<schema::Message>().asReader();
  auto bad = validateMessage(m, kT0 + 90000);
  CHECK_FALSE(bad);
  if (bad) FAIL(bad->field + " = " + bad->value + ": " + bad->reason);
  CHECK(std::string(m.getId()) == "broker-health-abc-7");
  CHECK(std::string(m.getSender()) == "broker");
  CHECK(m.getStatus() == schema::Status::SYSTEM);
  CHECK(m.getMsgType() == schema::MsgType::ALERT);
  CHECK(std::string(m.getIncident()) == "feed-health:met/nbmb-atom");
  REQUIRE(m.getPayload().isSitrep());
  auto s = m.getPayload().getSitrep();
  CHECK(std::string(s.getEvent()) == "feed-health");
  CHECK(s.getPeriodStartMs() == kT0);
  CHECK(s.getPeriodEndMs() == kT0 + 90000);
  CHECK(std::string(s.getNarrative()) == healthNarrative(c));

  SECTION("the adapter itself; text from the adapter that is not valid UTF-8 is made safe") {
    HealthChange a;
    a.agency = "met";
    a.from = "up";
    a.to = "down";
    a.reason = "session closed: \xff\xfe";
    a.sinceMs = kT0;
    capnp::MallocMessageBuilder b2;
    buildHealthMessage(a, "broker-health-abc-8", kT0, b2);
    auto m2 = b2.getRoot<schema::Message>().asReader();
    CHECK_FALSE(validateMessage(m2, kT0));
    CHECK(std::string(m2.getIncident()) == "feed-health:met");
    CHECK(std::string(m2.getPayload().getSitrep().getNarrative()) ==
          "adapter met: up -> down since 2026-12-07T00:00:00Z: session closed: ??");
  }
}

TEST_CASE("health: ids of two broker runs never collide", "[health]") {
  CHECK(healthMessageId("abc", 1) != healthMessageId("abd", 1));
  CHECK(healthMessageId("abc", 1) != healthMessageId("abc", 2));
  CHECK(healthMessageId("abc", 12) != healthMessageId("abc1", 2));  // the '-' keeps tag and counter apart
}

TEST_CASE("health: the sample rules send the broker's system messages to the operations monitor, and only "
          "there", "[health]") {
  std::vector<RuleError> errors;
  auto rules = RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/config/rules.toml", errors);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  REQUIRE(rules);
  HealthChange c;
  c.agency = "water";
  c.feed = "watch:/srv/in";
  c.from = "up";
  c.to = "stale";
  c.sinceMs = kT0;
  capnp::MallocMessageBuilder b;
  buildHealthMessage(c, "broker-health-x-1", kT0, b);
  std::vector<Destination> out;
  rules->route(extractFacts(b.getRoot<schema::Message>().asReader(), kBrokerSender), kT0, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].str() == "dashboard:ops-monitor");
}
