// DeliveryStore (outlets/sms/delivery_store.h) on real SQLite files: exactly-once fan-out across
// redeliveries and reopen, queue order (urgent first), cancel and expiry before sending, reports,
// answers matched by code and number, escalation waves, summaries.
#include "outlets/sms/delivery_store.h"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

using namespace alertbus::sms;
namespace fs = std::filesystem;

namespace {

struct Tmp {
  fs::path path;
  Tmp() {
    char tmpl[] = "/tmp/alertbus-sms-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Tmp() { fs::remove_all(path); }
  std::string file() const { return (path / "sms.sqlite").string(); }
};

constexpr int64_t kNow = 1785200000000LL;

AlertRow alertRow(const std::string& id, int priority = 1, int64_t deadline = 0, const std::string& code = "") {
  AlertRow a;
  a.key = "met/" + id;
  a.sender = "met";
  a.messageId = id;
  a.msgType = "alert";
  a.status = "actual";
  a.event = "typhoon";
  a.priority = priority;
  a.answerDeadlineMs = deadline;
  a.answerCode = code;
  a.text = "【宁波市防汛防台指挥部】台风预警 " + id;
  a.reminderText = "未回复提醒 " + id;
  return a;
}

std::vector<Addressee> people(int n, const std::string& prefix = "p") {
  std::vector<Addressee> out;
  for (int i = 0; i < n; ++i) {
    char mobile[32];
    snprintf(mobile, sizeof mobile, "+86138%08d", i);
    out.push_back({prefix + std::to_string(i), "姓名" + std::to_string(i), mobile, 0, ""});
  }
  return out;
}

}  // namespace

TEST_CASE("sms store: a redelivered alert is not fanned out twice (also after reopen)", "[sms-store]") {
  Tmp t;
  {
    DeliveryStore s(t.file());
    auto r = s.fanOut(alertRow("A1"), people(100), kNow);
    CHECK(r.inserted == 100);
    CHECK_FALSE(r.alertExisted);
    auto again = s.fanOut(alertRow("A1"), people(100), kNow + 5);
    CHECK(again.inserted == 0);
    CHECK(again.existing == 100);
    CHECK(again.alertExisted);
  }
  DeliveryStore s(t.file());  // as after a crash and restart
  auto r = s.fanOut(alertRow("A1"), people(120), kNow + 10);
  CHECK(r.inserted == 20);  // only the recipients it did not have
  CHECK(s.summary("met/A1").recipients == 120);
  size_t claimed = 0;
  for (;;) {
    auto c = s.claim(50, kNow + 20);
    if (c.empty()) break;
    claimed += c.size();
  }
  CHECK(claimed == 120);  // each row claimed once
}

TEST_CASE("sms store: urgent alerts overtake routine ones in the queue", "[sms-store]") {
  DeliveryStore s("");
  s.fanOut(alertRow("ROUTINE", 1), people(5, "r"), kNow);
  s.fanOut(alertRow("URGENT", 0), people(3, "u"), kNow + 1);
  auto c = s.claim(4, kNow + 2);
  REQUIRE(c.size() == 4);
  CHECK(c[0].row.alertKey == "met/URGENT");
  CHECK(c[2].row.alertKey == "met/URGENT");
  CHECK(c[3].row.alertKey == "met/ROUTINE");
  CHECK(c[0].text.find("URGENT") != std::string::npos);
}

TEST_CASE("sms store: cancelled or expired before its turn is not sent, the cancel goes to those reached",
          "[sms-store]") {
  DeliveryStore s("");
  s.fanOut(alertRow("C1"), people(10), kNow);
  auto first = s.claim(4, kNow + 1);  // 4 went out
  REQUIRE(first.size() == 4);
  s.markAccepted(first[0].row.id, "0: Accepted", kNow + 2);
  auto reached = s.cancel("met/C1", kNow + 3);
  CHECK(reached.size() == 4);
  CHECK(s.claim(100, kNow + 4).empty());
  auto sum = s.summary("met/C1");
  CHECK(sum.cancelled == 6);

  AlertRow e = alertRow("E1");
  e.expiresMs = kNow + 100;
  s.fanOut(e, people(3), kNow);
  CHECK(s.claim(100, kNow + 100).empty());
  CHECK(s.summary("met/E1").expired == 3);
}

TEST_CASE("sms store: gateway answers and reports move rows forward only", "[sms-store]") {
  DeliveryStore s("");
  s.fanOut(alertRow("R1"), people(3), kNow);
  auto c = s.claim(3, kNow);
  s.markDelivered(c[0].row.id, "stat:DELIVRD", kNow + 1);
  s.markAccepted(c[0].row.id, "late 202", kNow + 2);  // a report overtook the HTTP answer
  CHECK(s.delivery(c[0].row.id)->state == DeliveryState::delivered);
  s.markRetry(c[1].row.id, "HTTP 503", kNow + 1000);
  CHECK(s.claim(3, kNow + 999).empty());
  auto again = s.claim(3, kNow + 1000);
  REQUIRE(again.size() == 1);
  CHECK(again[0].row.attempts == 2);
  s.markFailed(c[2].row.id, "stat:UNDELIV", kNow + 3);
  auto sum = s.summary("met/R1");
  CHECK(sum.delivered == 1);
  CHECK(sum.failed == 1);
  CHECK(sum.submitted == 1);
}

TEST_CASE("sms store: answers are matched by code and number and stop escalation", "[sms-store]") {
  DeliveryStore s("");
  s.fanOut(alertRow("T1", 0, kNow + 600000, "4821"), people(3), kNow);
  s.fanOut(alertRow("T2", 0, kNow + 600000, "5930"), people(2), kNow);
  for (auto& c : s.claim(10, kNow)) s.markAccepted(c.row.id, "ok", kNow);
  auto m = s.recordAnswer({"p1"}, "+8613800000001", "收到 5930", kNow + 1000);
  CHECK(m.matched);
  CHECK(m.alertKey == "met/T2");
  CHECK(m.personId == "p1");
  CHECK(m.first);
  CHECK(s.recordAnswer({"p1"}, "+8613800000001", "5930", kNow + 2000).first == false);
  auto ambiguous = s.recordAnswer({"p0"}, "+8613800000000", "收到", kNow + 1000);  // p0 has T1 and T2 open
  CHECK_FALSE(ambiguous.matched);
  CHECK(ambiguous.reason.find("2 open alerts") != std::string::npos);
  auto single = s.recordAnswer({"p2"}, "+8613800000002", "已到岗", kNow + 1000);  // p2 only has T1
  CHECK(single.matched);
  CHECK(single.alertKey == "met/T1");
  CHECK(s.recordAnswer({}, "+8613999999999", "1", kNow).reason == "unknown number");
  CHECK(s.summary("met/T2").answered == 1);

  // Escalation: T1 unanswered by p0 and p1 (p2 answered) after the deadline.
  CHECK(s.overdue(kNow + 599999, 300000, 2, 100).empty());
  auto due = s.overdue(kNow + 600000, 300000, 2, 100);
  size_t t1 = 0;
  for (auto& d : due)
    if (d.alertKey == "met/T1") {
      ++t1;
      CHECK(d.nextWave == 1);
    }
  CHECK(t1 == 2);
  for (auto& d : due) s.noteEscalated(d.alertKey, d.chainRoot, d.nextWave, kNow + 600000);
  CHECK(s.overdue(kNow + 600001, 300000, 2, 100).empty());          // wave 1 handled, wave 2 not yet due
  CHECK(s.overdue(kNow + 900000, 300000, 2, 100).size() == due.size());  // wave 2 due
  // The deputy of p0 gets the reminder text, answers, and that chain stops.
  s.fanOut(alertRow("T1", 0, kNow + 600000, "4821"), {{"d0", "副职", "+8613700000000", 1, "p0"}}, kNow + 600000);
  auto waves = s.claim(10, kNow + 600000);
  REQUIRE(waves.size() == 1);
  CHECK(waves[0].text == "未回复提醒 T1");
  for (auto& c : waves) s.markAccepted(c.row.id, "ok", kNow + 600000);
  CHECK(s.recordAnswer({"d0"}, "+8613700000000", "4821", kNow + 700000).matched);
  auto after = s.overdue(kNow + 900000, 300000, 2, 100);
  for (auto& d : after) CHECK_FALSE((d.alertKey == "met/T1" && d.chainRoot == "p0"));
  auto sum = s.summary("met/T1");
  CHECK(sum.escalated == 1);
  CHECK(sum.unanswered == std::vector<std::string>{"p1"});
}

TEST_CASE("sms store: answer codes are unique among open alerts", "[sms-store]") {
  DeliveryStore s("");
  std::set<std::string> codes;
  for (int i = 0; i < 50; ++i) {
    std::string c = s.freeAnswerCode(4, 7, kNow);
    CHECK(c.size() == 4);
    CHECK(c[0] != '0');
    CHECK(codes.insert(c).second);
    s.fanOut(alertRow("U" + std::to_string(i), 1, kNow + 3600000, c), people(1), kNow);
  }
  auto changed = s.changedAlerts(100);
  CHECK(changed.size() == 50);
  CHECK(s.changedAlerts(100).size() == 50);  // still pending until their summaries are published
  s.markSummarised(changed);
  CHECK(s.changedAlerts(100).empty());
  // A change after reading keeps the alert for the next round.
  auto again = std::vector<DeliveryStore::Changed>{};
  s.cancel("met/U0", kNow);
  again = s.changedAlerts(100);
  REQUIRE(again.size() == 1);
  s.cancel("met/U0", kNow);  // changes again before the summary went out
  s.markSummarised(again);
  CHECK(s.changedAlerts(100).size() == 1);
}

TEST_CASE("sms store: a 43000-recipient fan-out is one transaction", "[sms-store][.bench]") {
  Tmp t;
  DeliveryStore s(t.file());
  auto rs = people(43000);
  auto t0 = std::chrono::steady_clock::now();
  auto r = s.fanOut(alertRow("BIG", 0), rs, kNow);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.inserted == 43000);
  printf("43000-row fan-out: %.0f ms\n", ms);
}

TEST_CASE("sms store: rows in flight at a crash wait for reports before they are sent again", "[sms-store]") {
  Tmp t;
  int64_t a = 0, b = 0;
  {
    DeliveryStore s(t.file());
    s.fanOut(alertRow("K1"), people(2), kNow);
    auto c = s.claim(2, kNow);  // handed to the gateway; then SIGKILL before the answers were recorded
    a = c[0].row.id;
    b = c[1].row.id;
  }
  DeliveryStore s(t.file());
  CHECK(s.recoverInFlight(kNow + 10, 60000) == 2);
  CHECK(s.claim(10, kNow + 59999).empty());              // grace: reports may still come
  s.markDelivered(a, "stat:DELIVRD", kNow + 20000);       // the gateway had this one
  auto again = s.claim(10, kNow + 60010);
  REQUIRE(again.size() == 1);                             // only the one the gateway never reported
  CHECK(again[0].row.id == b);
  CHECK(s.delivery(a)->state == DeliveryState::delivered);
}

TEST_CASE("sms store: a state file of another format is refused with its name", "[sms-store]") {
  Tmp t;
  {
    DeliveryStore s(t.file());
    s.fanOut(alertRow("F1"), people(1), kNow);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(t.file().c_str(), &db) == SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 1", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  CHECK_THROWS_WITH(DeliveryStore(t.file()), Catch::Contains(t.file()) && Catch::Contains("format 1"));
}

TEST_CASE("sms store: a format 4 file (alerts without a status) is refused, not read as if its drills were real",
          "[sms-store]") {
  Tmp t;
  {
    // What alertbus-sms format 4 wrote: the same tables, alerts without a status column.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(t.file().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "CREATE TABLE alerts(key TEXT PRIMARY KEY, broker_seq INTEGER, sender TEXT, message_id TEXT,"
                         " msg_type TEXT, event TEXT, priority INTEGER, expires_ms INTEGER, answer_deadline_ms INTEGER,"
                         " answer_code TEXT, text TEXT, max_parts INTEGER, cancelled INTEGER DEFAULT 0, created_ms"
                         " INTEGER, dirty INTEGER DEFAULT 1, reminder_text TEXT DEFAULT '');"
                         "CREATE TABLE deliveries(id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL);"
                         "PRAGMA user_version = 4;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  CHECK_THROWS_WITH(DeliveryStore(t.file()), Catch::Contains(t.file()) && Catch::Contains("format 4") &&
                                                 Catch::Contains("reads format 5"));
}

TEST_CASE("sms store: an alert keeps its status (exercise, test, actual) across reopen", "[sms-store]") {
  Tmp t;
  {
    DeliveryStore s(t.file());
    AlertRow e = alertRow("DRILL-1", 0, kNow + 600000, "4821");
    e.status = "exercise";
    s.fanOut(e, people(2), kNow);
    AlertRow x = alertRow("TEST-1");
    x.status = "test";
    s.fanOut(x, people(1, "q"), kNow);
    s.fanOut(alertRow("REAL-1"), people(1, "r"), kNow);
    // A redelivery cannot change it: the first fan-out's row wins (as for the answer code).
    AlertRow again = e;
    again.status = "actual";
    s.fanOut(again, people(3), kNow + 1);
    CHECK(s.alert("met/DRILL-1")->status == "exercise");
  }
  DeliveryStore s(t.file());
  CHECK(s.alert("met/DRILL-1")->status == "exercise");
  CHECK(s.alert("met/TEST-1")->status == "test");
  CHECK(s.alert("met/REAL-1")->status == "actual");
}

TEST_CASE("sms store: an alert without a status is a caller bug and is refused before anything is stored",
          "[sms-store]") {
  DeliveryStore s("");
  AlertRow a = alertRow("NOSTATUS-1");
  a.status.clear();
  CHECK_THROWS_AS(s.fanOut(a, people(2), kNow), std::invalid_argument);
  CHECK_FALSE(s.alert("met/NOSTATUS-1"));
  CHECK(s.claim(10, kNow).empty());
}

TEST_CASE("sms store: matched answers stay pending until their acks are published, also across reopen",
          "[sms-store]") {
  Tmp t;
  {
    DeliveryStore s(t.file());
    s.fanOut(alertRow("P1", 0, kNow + 600000, "7391"), people(2), kNow);
    for (auto& c : s.claim(10, kNow)) s.markAccepted(c.row.id, "ok", kNow);
    CHECK(s.recordAnswer({"p0"}, "+8613800000000", "7391", kNow + 1).matched);
    CHECK_FALSE(s.recordAnswer({}, "+8613999999999", "7391", kNow + 2).matched);  // kept, never published
  }
  DeliveryStore s(t.file());  // a crash before the ack went out
  auto pending = s.unpublishedAnswers(10);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].alertKey == "met/P1");
  CHECK(pending[0].personId == "p0");
  CHECK(pending[0].text == "7391");
  s.markAnswersPublished({pending[0].answerId});
  CHECK(s.unpublishedAnswers(10).empty());
}

TEST_CASE("sms store: a recipient with another language gets the alert's text in it", "[sms-store]") {
  DeliveryStore s("");
  AlertRow a = alertRow("L1");
  a.texts["en"] = {"Typhoon warning L1. Reply 1234.", "REMINDER: typhoon warning L1."};
  std::vector<Addressee> to = {{"p0", "张三", "+8613800000000", 0, "", ""},
                               {"p1", "John", "+8613800000001", 0, "", "en"},
                               {"p2", "Taro", "+8613800000002", 0, "", "ja"}};  // no Japanese text: default
  s.fanOut(a, to, kNow);
  std::map<std::string, std::string> texts;
  for (auto& c : s.claim(10, kNow)) texts[c.row.personId] = c.text;
  CHECK(texts["p0"] == a.text);
  CHECK(texts["p1"] == "Typhoon warning L1. Reply 1234.");
  CHECK(texts["p2"] == a.text);
}
