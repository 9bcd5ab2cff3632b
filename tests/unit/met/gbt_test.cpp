// GB/T 35965-style warning XML (adapters/met/gbt.h): typhoon/gale/rainstorm samples in UTF-8, GB18030 and
// GB2312, the element-name variants, colours and levels, per-channel texts, update and cancel references.
#include "adapters/met/gbt.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::met;
using schema::Message;

namespace {

const std::string kDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/gbt/";
constexpr int64_t kReceivedMs = 1565352000000LL;  // 2019-08-09T12:00:00Z

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

std::string problems(const CapResult& r) {
  std::string s;
  for (auto& p : r.problems) s += p.str() + "\n";
  return s;
}

bool hasProblem(const CapResult& r, std::string_view position, std::string_view reasonPart) {
  for (auto& p : r.problems)
    if (p.position == position && p.reason.find(reasonPart) != std::string::npos) return true;
  return false;
}

std::string param(schema::Info::Reader info, std::string_view key) {
  for (auto kv : info.getParameters())
    if (text(kv.getKey()) == key) return text(kv.getValue());
  return "<none>";
}

struct Parsed {
  capnp::MallocMessageBuilder b;
  CapResult r;
  Message::Reader msg() { return b.getRoot<Message>().asReader(); }
};

std::unique_ptr<Parsed> parseBytes(const std::string& xml, const std::string& source = "t") {
  auto p = std::make_unique<Parsed>();
  p->r = parseGbt(xml, source, kReceivedMs, p->b);
  return p;
}

std::unique_ptr<Parsed> parseGood(const std::string& name) {
  std::string bytes = readFile(kDir + name);
  REQUIRE(!bytes.empty());
  auto p = parseBytes(bytes, name);
  INFO(problems(p->r));
  REQUIRE(p->r.accepted);
  auto m = p->msg();
  auto v = validateMessage(m, m.getSentMs());
  INFO((v ? v->field + "=" + v->value + ": " + v->reason : std::string()));
  REQUIRE(!v);
  CHECK(text(m.getProvenance().getContentType()) == "application/vnd.gbt35965+xml");
  CHECK(m.getProvenance().getOriginal().size() == bytes.size());  // as received, not the rewrite
  CHECK(text(m.getProvenance().getSource()) == name);
  return p;
}

const char* kMinimal =
    "<alert><identifier>X1</identifier><sender>s</sender><sendTime>2019-08-09 20:00:00+08:00</sendTime>"
    "<status>Actual</status><msgType>Alert</msgType><info><eventType>11B06</eventType><severity>%s</severity>"
    "</info></alert>";

std::string minimal(const std::string& severity) {
  std::string s = kMinimal;
  s.replace(s.find("%s"), 2, severity);
  return s;
}

}  // namespace

TEST_CASE("gbt: Lekima-style typhoon orange for Ningbo and Zhoushan maps every field", "[gbt]") {
  auto p = parseGood("typhoon-lekima-utf8.xml");
  auto m = p->msg();
  CHECK(p->r.problems.empty());
  CHECK(p->r.capVersion == "GB/T 35965");
  CHECK(p->r.capSender == "宁波市气象台");
  CHECK(text(m.getOrigin()) == "宁波市气象台");
  CHECK(text(m.getId()) == "33020041600000_20190809200000");
  CHECK(m.getSentMs() == 1565352000000LL);
  CHECK(m.getStatus() == schema::Status::ACTUAL);
  CHECK(m.getMsgType() == schema::MsgType::ALERT);
  auto info = m.getPayload().getWarning()[0];
  CHECK(text(info.getLanguage()) == "zh-CN");
  CHECK(text(info.getEventCode()) == "typhoon");
  REQUIRE(info.getEventCodes().size() == 2);
  CHECK(text(info.getEventCodes()[1].getKey()) == "GB/T 35965");
  CHECK(text(info.getEventCodes()[1].getValue()) == "11B01");
  CHECK(text(info.getEvent()) == "台风");
  CHECK(info.getSeverity() == schema::Severity::SEVERE);
  CHECK(info.getColour() == schema::Colour::ORANGE);
  CHECK(info.getUrgency() == schema::Urgency::IMMEDIATE);
  CHECK(info.getExpiresMs() == 1565524800000LL);
  CHECK(text(info.getHeadline()) == "宁波市气象台发布台风橙色预警信号");
  CHECK(text(info.getInstruction()).find("船只回港避风") != std::string::npos);
  CHECK(param(info, "text.sms").find("【宁波市气象台】") == 0);
  CHECK(param(info, "text.wechat").find("公众号") != std::string::npos);
  CHECK(param(info, "senderCode") == "330200000000");
  auto areas = info.getAreas();
  REQUIRE(areas.size() == 2);
  CHECK(areas[0].getPolygons().size() == 1);
  REQUIRE(areas[0].getAdminCodes().size() == 2);
  CHECK(text(areas[0].getAdminCodes()[0]) == "330206000000");
  CHECK(text(areas[0].getAdminCodes()[1]) == "330225");
  CHECK(areas[1].getCircles().size() == 1);
  REQUIRE(areas[1].getAdminCodes().size() == 2);
  CHECK(text(areas[1].getAdminCodes()[0]) == "330902");
  CHECK(text(areas[1].getAdminCodes()[1]) == "330903000000");
}

TEST_CASE("gbt: GB18030 and GB2312 declared samples are converted", "[gbt]") {
  SECTION("gale 11B06 yellow in GB18030 with the alternative element names") {
    auto p = parseGood("gale-zhoushan-gb18030.xml");
    auto m = p->msg();
    CHECK(text(m.getId()) == "33090041600000_20191203060000");
    CHECK(m.getSentMs() == 1575324000000LL);  // 06:00 Beijing time assumed
    CHECK(hasProblem(p->r, "alert/sent", "Beijing time"));
    auto info = m.getPayload().getWarning()[0];
    CHECK(text(info.getEventCode()) == "gale");
    CHECK(text(info.getEvent()) == "大风");
    CHECK(info.getColour() == schema::Colour::YELLOW);
    CHECK(info.getSeverity() == schema::Severity::MODERATE);
    CHECK(text(info.getHeadline()) == "舟山市气象台发布大风黄色预警信号");
    CHECK(text(info.getDescription()).find("8～9级") != std::string::npos);
    CHECK(text(info.getInstruction()) == "船舶回港避风，停止海上作业。");
    CHECK(param(info, "text.sms").find("【舟山气象】") == 0);
    CHECK(info.getExpiresMs() == 1575410400000LL);
    auto area = info.getAreas()[0];
    CHECK(text(area.getDescription()) == "舟山市嵊泗县、岱山县");
    REQUIRE(area.getAdminCodes().size() == 2);
    CHECK(text(area.getAdminCodes()[0]) == "330922000000");
  }
  SECTION("rainstorm 11B03 level 2 (orange) exercise in GB2312") {
    auto p = parseGood("rainstorm-gb2312.xml");
    auto m = p->msg();
    CHECK(m.getStatus() == schema::Status::EXERCISE);
    auto info = m.getPayload().getWarning()[0];
    CHECK(text(info.getEventCode()) == "rainstorm");
    CHECK(info.getColour() == schema::Colour::ORANGE);
    CHECK(param(info, "text.sms") == "【北仑气象】暴雨橙色预警（演练）。");
    CHECK(text(info.getAreas()[0].getAdminCodes()[0]) == "330206");
  }
  SECTION("bytes that are not GB18030") {
    auto p = parseBytes("<?xml version='1.0' encoding='GBK'?><alert>\x81\x20</alert>");
    CHECK(!p->r.accepted);
    CHECK(p->r.problems[0].field == "encoding");
  }
}

TEST_CASE("gbt: update and cancel follow their references", "[gbt]") {
  SECTION("update to red names the orange alert (sendTime written with a space)") {
    auto p = parseGood("typhoon-lekima-update.xml");
    auto m = p->msg();
    CHECK(m.getMsgType() == schema::MsgType::UPDATE);
    REQUIRE(m.getReferences().size() == 1);
    CHECK(text(m.getReferences()[0].getSender()) == "宁波市气象台");
    CHECK(text(m.getReferences()[0].getId()) == "33020041600000_20190809200000");
    CHECK(m.getReferences()[0].getSentMs() == 1565352000000LL);
    CHECK(m.getPayload().getWarning()[0].getColour() == schema::Colour::RED);
    CHECK(m.getPayload().getWarning()[0].getSeverity() == schema::Severity::EXTREME);
  }
  SECTION("cancel withdraws exactly the update") {
    auto p = parseGood("typhoon-lekima-cancel.xml");
    auto m = p->msg();
    CHECK(m.getMsgType() == schema::MsgType::CANCEL);
    REQUIRE(m.getReferences().size() == 1);
    CHECK(text(m.getReferences()[0].getId()) == "33020041600000_20190810020000");
    REQUIRE(m.getPayload().getWarning()[0].getAreas()[0].getAdminCodes().size() == 2);
  }
  SECTION("update without references is rejected") {
    std::string s = minimal("Red");
    s.replace(s.find("<msgType>Alert"), 14, "<msgType>Update");
    auto p = parseBytes(s);
    CHECK(!p->r.accepted);
    CHECK(hasProblem(p->r, "alert/references", "an Update without"));
  }
  SECTION("Chinese msgType and status words") {
    std::string s = minimal("蓝色");
    s.replace(s.find("<msgType>Alert"), 14, "<msgType>撤销");
    s.replace(s.find("<status>Actual"), 14, "<status>演练");
    s.insert(s.find("<info>"), "<references>s,X0,2019-08-09 19:00:00+08:00</references>");
    auto p = parseBytes(s);
    INFO(problems(p->r));
    REQUIRE(p->r.accepted);
    CHECK(p->msg().getMsgType() == schema::MsgType::CANCEL);
    CHECK(p->msg().getStatus() == schema::Status::EXERCISE);
    CHECK(text(p->msg().getReferences()[0].getId()) == "X0");
  }
}

TEST_CASE("gbt: colours levels and event codes", "[gbt]") {
  struct Case {
    const char* severity;
    schema::Colour colour;
  };
  for (auto c : {Case{"Red", schema::Colour::RED}, Case{"orange", schema::Colour::ORANGE},
                 Case{"黄色预警", schema::Colour::YELLOW}, Case{"蓝", schema::Colour::BLUE},
                 Case{"1", schema::Colour::RED}, Case{"Ⅳ级", schema::Colour::BLUE}, Case{"III", schema::Colour::YELLOW},
                 Case{"Severe", schema::Colour::ORANGE}}) {
    auto p = parseBytes(minimal(c.severity));
    INFO(c.severity << "\n" << problems(p->r));
    REQUIRE(p->r.accepted);
    CHECK(p->msg().getPayload().getWarning()[0].getColour() == c.colour);
  }
  SECTION("an unknown colour is an error naming the element") {
    auto p = parseBytes(minimal("purple"));
    CHECK(!p->r.accepted);
    CHECK(hasProblem(p->r, "alert/info[1]/severity", "not a warning colour"));
  }
  SECTION("a code outside the table is kept as the event code") {
    std::string s = minimal("Red");
    s.replace(s.find("11B06"), 5, "11B99");
    auto p = parseBytes(s);
    REQUIRE(p->r.accepted);
    CHECK(text(p->msg().getPayload().getWarning()[0].getEventCode()) == "11B99");
  }
  SECTION("event name alone") {
    std::string s = minimal("Red");
    s.replace(s.find("<eventType>11B06</eventType>"), 28, "<event>暴雨</event>");
    auto p = parseBytes(s);
    REQUIRE(p->r.accepted);
    CHECK(text(p->msg().getPayload().getWarning()[0].getEventCode()) == "rainstorm");
  }
  CHECK(gbtEventFamily("11B06") == "gale");
  CHECK(gbtEventFamily("台风") == "typhoon");
  CHECK(gbtEventFamily("11B99").empty());
}

TEST_CASE("gbt: rejections", "[gbt]") {
  SECTION("XXE") {
    auto p = parseBytes("<!DOCTYPE alert [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><alert>&x;</alert>");
    CHECK(!p->r.accepted);
    REQUIRE(p->r.problems.size() == 1);
    CHECK(p->r.problems[0].field == "DOCTYPE");
  }
  SECTION("bad sendTime names the GB/T element once") {
    std::string s = minimal("Red");
    s.replace(s.find("2019-08-09 20:00:00+08:00"), 25, "yesterday");
    auto p = parseBytes(s);
    CHECK(!p->r.accepted);
    CHECK(hasProblem(p->r, "alert/sendTime", "not a date-time"));
    CHECK(!hasProblem(p->r, "alert/sent", ""));
  }
  SECTION("missing identifier and info") {
    auto p = parseBytes("<alert><sender>s</sender><sendTime>2019-08-09T20:00:00Z</sendTime><status>Actual</status>"
                        "<msgType>Alert</msgType></alert>");
    CHECK(!p->r.accepted);
    CHECK(hasProblem(p->r, "alert/identifier", "missing"));
    CHECK(hasProblem(p->r, "alert/info", "no <info>"));
  }
  SECTION("a CAP alert is not GB/T") {
    auto p = parseBytes("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'/>");
    CHECK(!p->r.accepted);
    CHECK(p->r.problems[0].reason.find("CAP alert") != std::string::npos);
  }
  SECTION("wrong root and malformed") {
    CHECK(!parseBytes("<warning/>")->r.accepted);
    CHECK(!parseBytes("<alert><identifier>")->r.accepted);
  }
  SECTION("senderCode that is not 12 digits is a warning") {
    std::string s = minimal("Red");
    s.insert(s.find("<info>"), "<senderCode>3302</senderCode>");
    auto p = parseBytes(s);
    CHECK(p->r.accepted);
    CHECK(hasProblem(p->r, "alert/senderCode", "12-digit"));
  }
}
