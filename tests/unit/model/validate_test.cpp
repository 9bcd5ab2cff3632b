// Field rules for published messages (model/validate.h). One test per rule in validate.cpp: each starts
// from a valid message, breaks exactly one thing and checks the code, the field path and the value, so
// removing any check makes a test fail. Boundary values that must pass are checked beside them.
#include "model/validate.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>

using namespace alertbus;
using schema::Message;

namespace {

constexpr int64_t kNowMs = 1700000000000LL;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

void fillArea(schema::Area::Builder a) {
  a.setDescription("北仑区");
  auto ring = a.initPolygons(1)[0].initPoints(4);
  const double pts[4][2] = {{29.9, 121.8}, {29.9, 122.0}, {30.0, 121.9}, {29.9, 121.8}};
  for (unsigned i = 0; i < 4; ++i) {
    ring[i].setLat(pts[i][0]);
    ring[i].setLon(pts[i][1]);
  }
  auto c = a.initCircles(1)[0];
  c.getCenter().setLat(29.95);
  c.getCenter().setLon(121.85);
  c.setRadiusKm(10);
  auto codes = a.initAdminCodes(2);
  codes.set(0, "330212");
  codes.set(1, "330212001000");
}

// A valid orange typhoon warning; `edit` breaks one thing before validation.
std::optional<Problem> check(const std::function<void(Message::Builder)>& edit, int64_t nowMs = kNowMs) {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<Message>();
  m.setId("urn:oid:2.49.0.1.156.0.2023.11.14.10.30.1");
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::ALERT);
  m.setSentMs(kNowMs - 1000);
  m.setIncident("typhoon-2023-15");
  auto info = m.getPayload().initWarning(1)[0];
  info.setLanguage("zh-CN");
  info.setEventCode("typhoon");
  info.setEvent("台风");
  info.setColour(schema::Colour::ORANGE);
  info.setHeadline("宁波市气象台发布台风橙色预警");
  info.setDescription("line one\nline two\twith a tab\r\n");
  info.setInstruction("停止室外作业");
  info.setOnsetMs(kNowMs);
  info.setExpiresMs(kNowMs + 3600000);
  fillArea(info.initAreas(1)[0]);
  edit(m);
  return validateMessage(m.asReader(), nowMs);
}

schema::Info::Builder info0(Message::Builder m) { return m.getPayload().getWarning()[0]; }
schema::Area::Builder area0(Message::Builder m) { return info0(m).getAreas()[0]; }

// REQUIREs a problem with that code, field and value.
void expectProblem(const std::optional<Problem>& p, const std::string& code, const std::string& field,
                   const std::string& value) {
  REQUIRE(p.has_value());
  INFO(p->field << " = '" << p->value << "': " << p->reason);
  CHECK(p->code == code);
  CHECK(p->field == field);
  CHECK(p->value == value);
  CHECK_FALSE(p->reason.empty());
}
void expectInvalid(const std::optional<Problem>& p, const std::string& field, const std::string& value) {
  expectProblem(p, "invalid", field, value);
}
void expectOk(const std::optional<Problem>& p) {
  if (p) UNSCOPED_INFO(p->code << " " << p->field << " = '" << p->value << "': " << p->reason);
  CHECK_FALSE(p.has_value());
}

}  // namespace

TEST_CASE("validate: the baseline warning is valid", "[validate]") { expectOk(check([](Message::Builder) {})); }

TEST_CASE("validate: id", "[validate]") {
  SECTION("required") { expectInvalid(check([](Message::Builder m) { m.setId(""); }), "id", ""); }
  SECTION("200 bytes pass, 201 fail") {
    expectOk(check([](Message::Builder m) { m.setId(std::string(200, 'a')); }));
    expectInvalid(check([](Message::Builder m) { m.setId(std::string(201, 'a')); }), "id", std::string(200, 'a'));
  }
  SECTION("CAP identifier characters") {
    for (std::string bad : {"a b", "a,b", "a<b", "a&b", "a\tb", "a\x7f" "b"}) {
      INFO("id '" << bad << "'");
      auto p = check([&](Message::Builder m) { m.setId(bad); });
      REQUIRE(p.has_value());
      CHECK(p->field == "id");
      CHECK(p->code == "invalid");
    }
    // The echoed value never carries control characters.
    auto p = check([](Message::Builder m) { m.setId("a\tb"); });
    REQUIRE(p);
    CHECK(p->value == "a?b");
    CHECK_THAT(p->reason, Catch::Contains("whitespace"));
  }
  SECTION("not UTF-8") {
    auto p = check([](Message::Builder m) { m.setId("urn:\xc3\x28"); });
    expectInvalid(p, "id", "urn:\xc3\x28");
    CHECK_THAT(p->reason, Catch::Contains("UTF-8"));
    expectOk(check([](Message::Builder m) { m.setId("urn:气象:1"); }));
  }
}

TEST_CASE("validate: origin (the CAP sender) is optional, clean and bounded", "[validate]") {
  expectOk(check([](Message::Builder m) { m.setOrigin("nbqx@nbmb.gov.cn"); }));
  expectOk(check([](Message::Builder m) { m.setOrigin("宁波市气象台"); }));
  expectInvalid(check([](Message::Builder m) { m.setOrigin("nbqx@nbmb, gov"); }), "origin", "nbqx@nbmb, gov");
  expectInvalid(check([](Message::Builder m) { m.setOrigin(std::string(201, 'a')); }), "origin",
                std::string(200, 'a'));
  expectInvalid(check([](Message::Builder m) { m.setOrigin("\xc3\x28"); }), "origin", "\xc3\x28");
}

TEST_CASE("validate: status and msgType are required", "[validate]") {
  expectInvalid(check([](Message::Builder m) { m.setStatus(schema::Status::UNSPECIFIED); }), "status", "unspecified");
  expectInvalid(check([](Message::Builder m) { m.setMsgType(schema::MsgType::UNSPECIFIED); }), "msgType",
                "unspecified");
}

TEST_CASE("validate: references", "[validate]") {
  SECTION("update, cancel and ack need references; alert and error do not") {
    for (auto t : {schema::MsgType::UPDATE, schema::MsgType::CANCEL, schema::MsgType::ACK}) {
      INFO("msgType " << static_cast<int>(t));
      expectInvalid(check([&](Message::Builder m) { m.setMsgType(t); }), "references", "[]");
      expectOk(check([&](Message::Builder m) {
        m.setMsgType(t);
        m.initReferences(1)[0].setId("urn:earlier");
      }));
    }
    expectOk(check([](Message::Builder m) { m.setMsgType(schema::MsgType::ERROR); }));
  }
  SECTION("a reference needs an id") {
    expectInvalid(check([](Message::Builder m) {
                    m.setMsgType(schema::MsgType::UPDATE);
                    auto r = m.initReferences(2);
                    r[0].setId("urn:earlier");
                    r[1].setSender("met");
                  }),
                  "references[1].id", "");
  }
}

TEST_CASE("validate: incident must be clean text", "[validate]") {
  expectInvalid(check([](Message::Builder m) { m.setIncident("inc\x01"); }), "incident", "inc?");
}

TEST_CASE("validate: payload is required; unknown kinds are refused", "[validate]") {
  expectInvalid(check([](Message::Builder m) { m.getPayload().setUnspecified(); }), "payload", "unspecified");

  // A newer schema's payload member: set the union tag to 99 by hand.
  auto p = check([](Message::Builder m) {
    auto offset = capnp::Schema::from<Message::Payload>().getProto().getStruct().getDiscriminantOffset();
    auto data = capnp::AnyStruct::Builder(kj::mv(m)).getDataSection();
    data[offset * 2] = 99;
    data[offset * 2 + 1] = 0;
  });
  expectInvalid(p, "payload", "99");
}

TEST_CASE("validate: warning and forecast infos", "[validate]") {
  SECTION("at least one info") {
    expectInvalid(check([](Message::Builder m) { m.getPayload().initWarning(0); }), "payload.warning", "[]");
    expectInvalid(check([](Message::Builder m) { m.getPayload().initForecast(0); }), "payload.forecast", "[]");
  }
  SECTION("a cancel may have no info") {
    expectOk(check([](Message::Builder m) {
      m.setMsgType(schema::MsgType::CANCEL);
      auto r = m.initReferences(1)[0];
      r.setSender("met");
      r.setId("earlier");
      m.getPayload().initWarning(0);
    }));
  }
  SECTION("eventCode required, at most 64 bytes, clean") {
    expectInvalid(check([](Message::Builder m) { info0(m).setEventCode(""); }), "payload.warning[0].eventCode", "");
    expectOk(check([](Message::Builder m) { info0(m).setEventCode(std::string(64, 'e')); }));
    expectInvalid(check([](Message::Builder m) { info0(m).setEventCode(std::string(65, 'e')); }),
                  "payload.warning[0].eventCode", std::string(65, 'e'));
    expectInvalid(check([](Message::Builder m) { info0(m).setEventCode("ty\x02phoon"); }),
                  "payload.warning[0].eventCode", "ty?phoon");
  }
  SECTION("headline, description, instruction and event must be clean UTF-8") {
    expectInvalid(check([](Message::Builder m) { info0(m).setHeadline("bad\xff"); }), "payload.warning[0].headline",
                  "bad\xff");
    expectInvalid(check([](Message::Builder m) { info0(m).setDescription("bell\x07"); }),
                  "payload.warning[0].description", "bell?");
    expectInvalid(check([](Message::Builder m) { info0(m).setInstruction("\xed\xa0\x80"); }),
                  "payload.warning[0].instruction", "\xed\xa0\x80");
    expectInvalid(check([](Message::Builder m) { info0(m).setEvent("esc\x1b"); }), "payload.warning[0].event",
                  "esc?");
  }
  SECTION("the second info is checked too, and named by its index") {
    expectInvalid(check([](Message::Builder m) {
                    auto w = m.getPayload().initWarning(2);
                    w[0].setEventCode("typhoon");
                    w[1].setEventCode("");
                  }),
                  "payload.warning[1].eventCode", "");
  }
  SECTION("times") {
    auto neg = check([](Message::Builder m) {
      info0(m).setOnsetMs(0);
      info0(m).setExpiresMs(-5);
    });
    expectInvalid(neg, "payload.warning[0].expiresMs", "-5");
    CHECK_THAT(neg->reason, Catch::Contains("negative"));
    auto p = check([](Message::Builder m) { info0(m).setExpiresMs(kNowMs - 1); });  // onset is kNowMs
    expectInvalid(p, "payload.warning[0].expiresMs", std::to_string(kNowMs - 1));
    CHECK_THAT(p->reason, Catch::Contains("before onset"));
    expectOk(check([](Message::Builder m) {  // no onset: expiry alone is fine
      info0(m).setOnsetMs(0);
      info0(m).setExpiresMs(kNowMs + 1);
    }));
  }
  SECTION("forecast infos are checked like warnings") {
    expectInvalid(check([](Message::Builder m) { m.getPayload().initForecast(1)[0].setEventCode(""); }),
                  "payload.forecast[0].eventCode", "");
  }
}

TEST_CASE("validate: expiry", "[validate]") {
  auto expireAll = [](Message::Builder m) {
    info0(m).setOnsetMs(0);
    info0(m).setExpiresMs(kNowMs - 1);
  };
  SECTION("an alert whose every info expired is 'expired'") {
    expectProblem(check(expireAll), "expired", "payload.warning[0].expiresMs", std::to_string(kNowMs - 1));
    // expiresMs == now counts as expired (must be in the future)
    expectProblem(check([](Message::Builder m) {
                    info0(m).setOnsetMs(0);
                    info0(m).setExpiresMs(kNowMs);
                  }),
                  "expired", "payload.warning[0].expiresMs", std::to_string(kNowMs));
  }
  SECTION("an update expires too") {
    expectProblem(check([&](Message::Builder m) {
                    expireAll(m);
                    m.setMsgType(schema::MsgType::UPDATE);
                    m.initReferences(1)[0].setId("urn:earlier");
                  }),
                  "expired", "payload.warning[0].expiresMs", std::to_string(kNowMs - 1));
  }
  SECTION("one live info keeps the message") {
    expectOk(check([](Message::Builder m) {
      auto w = m.getPayload().initWarning(2);
      w[0].setEventCode("typhoon");
      w[0].setExpiresMs(kNowMs - 1);
      w[1].setEventCode("typhoon");
      w[1].setExpiresMs(0);  // absent = no expiry
    }));
  }
  SECTION("cancels and acks never expire") {
    for (auto t : {schema::MsgType::CANCEL, schema::MsgType::ACK}) {
      expectOk(check([&](Message::Builder m) {
        expireAll(m);
        m.setMsgType(t);
        m.initReferences(1)[0].setId("urn:earlier");
      }));
    }
  }
}

TEST_CASE("validate: areas", "[validate]") {
  const std::string a = "payload.warning[0].areas[0]";
  SECTION("description must be clean") {
    expectInvalid(check([](Message::Builder m) { area0(m).setDescription("\xc0\xaf"); }), a + ".description",
                  "\xc0\xaf");
  }
  SECTION("a polygon needs 4 points") {
    expectInvalid(check([](Message::Builder m) {
                    auto p = area0(m).getPolygons()[0].initPoints(3);
                    p[0].setLat(1);
                    p[2].setLat(1);
                  }),
                  a + ".polygons[0]", "3 points");
  }
  SECTION("latitude and longitude ranges, NaN and infinity") {
    expectInvalid(check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[1].setLat(90.5); }),
                  a + ".polygons[0].points[1].lat", "90.5");
    expectInvalid(check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[2].setLat(-91); }),
                  a + ".polygons[0].points[2].lat", "-91");
    expectInvalid(check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[1].setLat(kNaN); }),
                  a + ".polygons[0].points[1].lat", "nan");
    expectInvalid(check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[1].setLon(180.5); }),
                  a + ".polygons[0].points[1].lon", "180.5");
    expectInvalid(check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[1].setLon(-kInf); }),
                  a + ".polygons[0].points[1].lon", "-inf");
    expectOk(check([](Message::Builder m) {  // the edges are inside
      auto p = area0(m).getPolygons()[0].getPoints();
      p[1].setLat(90);
      p[1].setLon(180);
      p[2].setLat(-90);
      p[2].setLon(-180);
    }));
  }
  SECTION("a ring must be closed") {
    auto p = check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[3].setLon(121.7); });
    expectInvalid(p, a + ".polygons[0]", "29.9,121.8 != 29.9,121.7");
    CHECK_THAT(p->reason, Catch::Contains("ring not closed"));
    expectInvalid(check([](Message::Builder m) { area0(m).getPolygons()[0].getPoints()[3].setLat(29.8); }),
                  a + ".polygons[0]", "29.9,121.8 != 29.8,121.8");
  }
  SECTION("circles: centre and radius") {
    expectInvalid(check([](Message::Builder m) { area0(m).getCircles()[0].getCenter().setLat(100); }),
                  a + ".circles[0].center.lat", "100");
    expectInvalid(check([](Message::Builder m) { area0(m).getCircles()[0].setRadiusKm(-1); }),
                  a + ".circles[0].radiusKm", "-1");
    expectInvalid(check([](Message::Builder m) { area0(m).getCircles()[0].setRadiusKm(20001); }),
                  a + ".circles[0].radiusKm", "20001");
    expectInvalid(check([](Message::Builder m) { area0(m).getCircles()[0].setRadiusKm(kNaN); }),
                  a + ".circles[0].radiusKm", "nan");
    expectOk(check([](Message::Builder m) { area0(m).getCircles()[0].setRadiusKm(0); }));
    expectOk(check([](Message::Builder m) { area0(m).getCircles()[0].setRadiusKm(20000); }));
  }
  SECTION("GB/T 2260 codes: 6 or 12 digits") {
    for (std::string bad : {"33021", "3302120", "33021a", "330212001", "", "３３０２１２"}) {
      INFO("code '" << bad << "'");
      expectInvalid(check([&](Message::Builder m) { area0(m).getAdminCodes().set(1, bad); }), a + ".adminCodes[1]",
                    bad);
    }
  }
  SECTION("the second area is named by its index") {
    expectInvalid(check([](Message::Builder m) {
                    auto areas = info0(m).initAreas(2);
                    fillArea(areas[0]);
                    fillArea(areas[1]);
                    areas[1].getAdminCodes().set(0, "x");
                  }),
                  "payload.warning[0].areas[1].adminCodes[0]", "x");
  }
}

TEST_CASE("validate: observation", "[validate]") {
  auto obs = [](Message::Builder m) {
    auto o = m.getPayload().initObservation();
    o.setStation("63401200");
    o.setStationName("奉化江");
    o.setQuantity("waterLevel");
    o.setValue(3.42);
    o.setUnit("m");
    o.setEvent("river-level");
    return o;
  };
  expectOk(check([&](Message::Builder m) { obs(m); }));
  expectInvalid(check([&](Message::Builder m) { obs(m).setStation(""); }), "payload.observation.station", "");
  expectInvalid(check([&](Message::Builder m) { obs(m).setValue(kNaN); }), "payload.observation.value", "nan");
  expectInvalid(check([&](Message::Builder m) { obs(m).setValue(kInf); }), "payload.observation.value", "inf");
  expectInvalid(check([&](Message::Builder m) { obs(m).setQuantity(""); }), "payload.observation.quantity", "");
  expectInvalid(check([&](Message::Builder m) { obs(m).setStationName("\x01x"); }),
                "payload.observation.stationName", "?x");
}

TEST_CASE("validate: sitrep, instruction, fused alert and ack", "[validate]") {
  SECTION("sitrep areas are checked") {
    expectOk(check([](Message::Builder m) { fillArea(m.getPayload().initSitrep().initAreas(1)[0]); }));
    expectInvalid(check([](Message::Builder m) {
                    auto a = m.getPayload().initSitrep().initAreas(1)[0];
                    fillArea(a);
                    a.getAdminCodes().set(0, "12");
                  }),
                  "payload.sitrep.areas[0].adminCodes[0]", "12");
  }
  SECTION("instruction needs a headline or text; its areas are checked") {
    expectInvalid(check([](Message::Builder m) { m.getPayload().initInstruction(); }), "payload.instruction.text", "");
    expectOk(check([](Message::Builder m) { m.getPayload().initInstruction().setHeadline("启动IV级应急响应"); }));
    expectOk(check([](Message::Builder m) { m.getPayload().initInstruction().setText("各单位做好防御"); }));
    expectInvalid(check([](Message::Builder m) {
                    auto i = m.getPayload().initInstruction();
                    i.setText("x");
                    i.initAreas(1)[0].initCircles(1)[0].setRadiusKm(-3);
                  }),
                  "payload.instruction.areas[0].circles[0].radiusKm", "-3");
  }
  SECTION("fused alert needs an incident; its areas are checked") {
    expectInvalid(check([](Message::Builder m) { m.getPayload().initFusedAlert(); }), "payload.fusedAlert.incident",
                  "");
    expectInvalid(check([](Message::Builder m) {
                    auto f = m.getPayload().initFusedAlert();
                    f.setIncident("inc-1");
                    f.initAreas(1)[0].initPolygons(1)[0].initPoints(2);
                  }),
                  "payload.fusedAlert.areas[0].polygons[0]", "2 points");
  }
  SECTION("ack must name what it answers") {
    expectInvalid(check([](Message::Builder m) { m.getPayload().initAck(); }), "payload.ack.ref.id", "");
    expectOk(check([](Message::Builder m) { m.getPayload().initAck().initRef().setId("urn:x"); }));
  }
}

TEST_CASE("validate: echoed values are clipped to 200 bytes", "[validate]") {
  auto p = check([](Message::Builder m) { info0(m).setEventCode(std::string(300, 'x')); });
  REQUIRE(p);
  CHECK(p->value.size() == 200);
}

TEST_CASE("isCleanUtf8", "[validate][utf8]") {
  auto clean = [](const std::string& s) { return isCleanUtf8(s.data(), s.size()); };
  CHECK(clean(""));
  CHECK(clean("plain ASCII\t\r\n"));
  CHECK(clean("台风橙色预警"));            // 3-byte sequences
  CHECK(clean("29.9\xc2\xb0N caf\xc3\xa9"));  // 2-byte sequences: degree sign, e acute
  CHECK(clean("\xf0\x9f\x8c\x80"));        // U+1F300, 4 bytes
  CHECK(clean("\xf4\x8f\xbf\xbf"));        // U+10FFFF, the last code point
  CHECK_FALSE(clean(std::string("a\0b", 3)));  // NUL
  CHECK_FALSE(clean("\x01"));
  CHECK_FALSE(clean("\x1f"));
  CHECK_FALSE(clean("\x7f"));              // DEL
  CHECK_FALSE(clean("\x80"));              // lone continuation byte
  CHECK_FALSE(clean("\xff"));
  CHECK_FALSE(clean("\xc0\x80"));          // overlong NUL
  CHECK_FALSE(clean("\xe0\x80\xaf"));      // overlong '/'
  CHECK_FALSE(clean("\xf0\x80\x80\xaf"));  // overlong, 4 bytes
  CHECK_FALSE(clean("\xed\xa0\x80"));      // UTF-16 surrogate D800
  CHECK_FALSE(clean("\xf4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(clean("\xe5\x8f"));          // truncated sequence at the end
  CHECK_FALSE(isCleanUtf8("\xe5\x8f\x80", 2));  // ... even when the byte after the end would complete it
  CHECK_FALSE(clean("\xe5\x41\x41"));      // bad continuation byte
}
