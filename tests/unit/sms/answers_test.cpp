// outlets/sms/answers.h: priorities and answer windows from the message, and the ack and summary
// messages published back to the bus (which must pass the broker's validation).
#include "outlets/sms/answers.h"

#include <catch2/catch.hpp>

#include "model/facts.h"
#include "model/json.h"
#include "model/validate.h"

using namespace alertbus;
using namespace alertbus::sms;

namespace {
constexpr int64_t kNow = 1785200000000LL;

void warning(schema::Message::Builder m, schema::Colour colour) {
  m.setId("W1");
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::ALERT);
  auto infos = m.getPayload().initWarning(2);
  infos[0].setEventCode("typhoon");
  infos[0].setColour(schema::Colour::BLUE);
  infos[0].setExpiresMs(kNow + 1000);
  infos[1].setEventCode("typhoon");
  infos[1].setColour(colour);
  infos[1].setExpiresMs(kNow + 5000);
}
}  // namespace

TEST_CASE("sms answers: colour and level decide priority and the answer window", "[sms-answers]") {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  warning(m, schema::Colour::ORANGE);
  auto f = alertFacts(m, false);
  CHECK(f.event == "typhoon");
  CHECK(f.colour == schema::Colour::ORANGE);  // the highest of the infos
  CHECK(f.expiresMs == kNow + 5000);
  CHECK(f.urgent);
  AnswerPolicy p;
  CHECK(answerWindowMs(f, schema::MsgType::ALERT, p) == p.orangeMs);
  CHECK(answerWindowMs(f, schema::MsgType::CANCEL, p) == 0);
  warning(m, schema::Colour::YELLOW);
  f = alertFacts(m, false);
  CHECK_FALSE(f.urgent);
  CHECK(alertFacts(m, true).urgent);  // the broker's urgent flag wins
  auto fa = m.getPayload().initFusedAlert();
  fa.setLevel(schema::ResponseLevel::LEVEL_I_I);
  fa.setEvent("typhoon");
  f = alertFacts(m, false);
  CHECK(f.urgent);
  CHECK(answerWindowMs(f, schema::MsgType::ALERT, p) == p.levelIIMs);
}

TEST_CASE("sms answers: ack and summary messages pass validation", "[sms-answers]") {
  auto ack = ackMessage("met", "NB TY,1", kNow - 60000, schema::Status::ACTUAL, "p1", "+8613800000001", "4821",
                        "收到4821 已到岗", kNow, 7);
  auto a = ack->getRoot<schema::Message>().asReader();
  CHECK(std::string(a.getId().cStr()) == "sms-ack-NB_TY_1-7");
  CHECK(!validateMessage(a, kNow));
  CHECK(std::string(a.getPayload().getAck().getBy().cStr()) == "sms:+8613800000001/p1");
  CHECK(std::string(a.getPayload().getAck().getRef().getId().cStr()) == "NB TY,1");

  SummaryCounts c;
  c.recipients = 3;
  c.delivered = 2;
  c.failed = 1;
  c.answered = 1;
  c.unanswered = 2;
  c.unansweredNames = {"张三(p2)", "李四(p3)"};
  auto s = summaryMessage("met", "W1", schema::Status::ACTUAL, "typhoon", c, 2, "tpa0s9", kNow);
  auto sm = s->getRoot<schema::Message>().asReader();
  CHECK(!validateMessage(sm, kNow));
  CHECK(sm.getMsgType() == schema::MsgType::UPDATE);
  CHECK(std::string(sm.getId().cStr()) == "sms-summary-W1-tpa0s9-2");
  CHECK(sm.getPayload().getSitrep().getReportNumber() == 2);
  std::string narrative = sm.getPayload().getSitrep().getNarrative();
  CHECK(narrative.find("未回复：张三(p2)、李四(p3)") != std::string::npos);
  CHECK(messageToJson(sm).find("\"kind\":\"sms-answered\",\"count\":1") != std::string::npos);
}

TEST_CASE("sms answers: an answer to an exercise alert is an exercise ack, its summary an exercise sitrep",
          "[sms-answers]") {
  SECTION("each status the alert had is the status of its ack and summary") {
    for (const char* name : {"exercise", "test", "actual", "draft"}) {
      INFO(name);
      schema::Status want = schema::Status::UNSPECIFIED;
      REQUIRE(parseStatus(name, want));
      CHECK(derivedStatus(name) == want);
      auto ack = ackMessage("met", "NB-DRILL-1", kNow - 60000, derivedStatus(name), "x1", "+8613605740901", "4821",
                            "4821 收到", kNow, 3);
      auto a = ack->getRoot<schema::Message>().asReader();
      CHECK(a.getStatus() == want);
      CHECK(!validateMessage(a, kNow));
      SummaryCounts c;
      c.recipients = 2;
      c.answered = 1;
      auto s = summaryMessage("met", "NB-DRILL-1", derivedStatus(name), "typhoon", c, 1, "tpa0s9", kNow);
      auto sm = s->getRoot<schema::Message>().asReader();
      CHECK(sm.getStatus() == want);
      CHECK(!validateMessage(sm, kNow));
    }
  }
  SECTION("a status the outlet cannot read (a damaged state file) never becomes actual") {
    CHECK(derivedStatus("") == schema::Status::TEST);
    CHECK(derivedStatus("Exercise ") == schema::Status::TEST);
    CHECK(derivedStatus("unspecified") == schema::Status::TEST);
  }
}

TEST_CASE("sms answers: ids are made safe and never end inside a character", "[sms-answers]") {
  CHECK(idSafe("a b,c<d&e", 100) == "a_b_c_d_e");
  std::string cut = idSafe("台风台风", 4);  // 3 bytes per character: 4 would cut the second one
  CHECK(cut == "台");
}
