// Unit tests of the Kannel callback parsing (delivery reports, replies) and of PartReports aggregation.
// The inputs are what Kannel 1.4.5 actually sent in the integration runs (tests/integration/sms_kannel_test).
#include "outlets/sms/callbacks.h"

#include <catch2/catch.hpp>

using namespace alertbus::sms;

namespace {
DeliveryReport dlr(const std::string& query) {
  DeliveryReport r;
  CallbackError err;
  INFO(query);
  bool ok = parseDeliveryReport(parseQueryString(query), r, err);
  INFO(err.message("dlr"));
  REQUIRE(ok);
  return r;
}
CallbackError dlrError(const std::string& query) {
  DeliveryReport r;
  CallbackError err;
  INFO(query);
  REQUIRE_FALSE(parseDeliveryReport(parseQueryString(query), r, err));
  return err;
}
}  // namespace

TEST_CASE("callbacks: query strings decode '+' and %XX and keep malformed escapes", "[sms][callbacks]") {
  auto q = parseQueryString("a=1&text=%E7%A1%AE%E8%AE%A4+ok&bad=%G1%4&empty=&flag");
  CHECK(q.find("a")->second == "1");
  CHECK(q.find("text")->second == "确认 ok");
  CHECK(q.find("bad")->second == "%G1%4");
  CHECK(q.find("empty")->second == "");
  CHECK(q.count("flag") == 1);
  CHECK(percentEncode("http://x/dlr?id=d1&type=%d") == "http%3A%2F%2Fx%2Fdlr%3Fid%3Dd1%26type%3D%25d");
  CHECK(percentEncode("确") == "%E7%A1%AE");
}

TEST_CASE("callbacks: delivery ids are restricted to characters that survive Kannel's dlr-url", "[sms][callbacks]") {
  CHECK(isValidDeliveryId("d-42"));
  CHECK(isValidDeliveryId("7f3a.b_c~1"));
  CHECK_FALSE(isValidDeliveryId(""));
  CHECK_FALSE(isValidDeliveryId("a b"));
  CHECK_FALSE(isValidDeliveryId("a%41"));  // Kannel would read %A as its reply escape
  CHECK_FALSE(isValidDeliveryId("../x"));
  CHECK_FALSE(isValidDeliveryId(std::string(129, 'a')));
  CHECK(dlrUrlPath("d-42") == "/dlr?id=d-42&type=%d&reply=%A&to=%p&ts=%T");
}

TEST_CASE("callbacks: delivery reports as Kannel sends them", "[sms][callbacks]") {
  SECTION("SMPP receipt stat:DELIVRD (type 1)") {
    auto r = dlr("id=s1&type=1&reply=id%3A1000+sub%3A001+dlvrd%3A001+submit+date%3A2611291833+done+date%3A"
                 "2611291833+stat%3ADELIVRD+err%3A000+text%3A&to=%2B8613900000001&ts=1795969999");
    CHECK(r.deliveryId == "s1");
    CHECK(r.type == 1);
    CHECK(r.status == DlrStatus::delivered);
    CHECK(isFinal(r.status));
    CHECK(r.smscStatus == "DELIVRD");
    CHECK(r.errorCode == "000");
    CHECK(r.smscMessageId == "1000");
    CHECK(r.to == "+8613900000001");
    CHECK(r.timeMs == 1795969999000LL);
    CHECK(r.raw.rfind("id:1000 sub:001", 0) == 0);
  }
  SECTION("SMPP receipt stat:UNDELIV (type 2)") {
    auto r = dlr("id=s2&type=2&reply=id%3A1001+sub%3A001+dlvrd%3A000+submit+date%3A2611291833+done+date%3A"
                 "2611291833+stat%3AUNDELIV+err%3A001+text%3A&to=%2B8613900000002");
    CHECK(r.status == DlrStatus::failed);
    CHECK(r.smscStatus == "UNDELIV");
    CHECK(r.errorCode == "001");
    CHECK(r.timeMs == 0);
  }
  SECTION("submit rejected by the SMSC (type 16, NACK with the SMPP status)") {
    auto r = dlr("id=s3&type=16&reply=NACK%2F0x0000000b%2FInvalid+Destination+Address&to=%2B8613900000003");
    CHECK(r.status == DlrStatus::smscRejected);
    CHECK(isFinal(r.status));
    CHECK(r.smscStatus == "NACK");
    CHECK(r.errorCode == "0x0000000b");
  }
  SECTION("no route in Kannel (type 16, NACK/no SMSC)") {
    auto r = dlr("id=s5&type=16&reply=NACK%2Fno+SMSC&to=%2B8613900000005");
    CHECK(r.smscStatus == "NACK");
    CHECK(r.errorCode == "");
  }
  SECTION("SMSC accepted (type 8, ACK/)") {
    auto r = dlr("id=d1&type=8&reply=ACK%2F&to=%2B8613800000001");
    CHECK(r.status == DlrStatus::smscAccepted);
    CHECK_FALSE(isFinal(r.status));
    CHECK(r.smscStatus == "ACK");
  }
  SECTION("fake SMSC delivered (type 1, empty reply)") {
    auto r = dlr("id=d1&type=1&reply=&to=%2B8613800000001");
    CHECK(r.status == DlrStatus::delivered);
    CHECK(r.smscStatus == "");
    CHECK(r.raw == "");
  }
  SECTION("buffered (type 4) and a receipt with unusual capitals") {
    auto r = dlr("id=d9&type=4&reply=id%3AAB12+Stat%3Aenroute+err%3A000");
    CHECK(r.status == DlrStatus::buffered);
    CHECK(r.smscStatus == "ENROUTE");
    CHECK(r.smscMessageId == "AB12");
  }
}

TEST_CASE("callbacks: malformed delivery reports name the field and the value", "[sms][callbacks]") {
  auto e = dlrError("type=1");
  CHECK(e.field == "id");
  CHECK(e.reason == "missing");
  e = dlrError("id=a%20b&type=1");
  CHECK(e.field == "id");
  CHECK(e.value == "a b");
  e = dlrError("id=d1");
  CHECK(e.field == "type");
  e = dlrError("id=d1&type=3");
  CHECK(e.field == "type");
  CHECK(e.value == "3");
  CHECK(e.message("dlr") == "dlr: type: 3: not one of 1, 2, 4, 8, 16");
  e = dlrError("id=d1&type=%25d");  // Kannel did not substitute: dlr-url was double-encoded somewhere
  CHECK(e.field == "type");
  CHECK(e.value == "%d");
  e = dlrError("id=d1&type=1&ts=yesterday");
  CHECK(e.field == "ts");
  e = dlrError("id=d1&type=" + std::string(100, '1'));
  CHECK(e.value.size() == 67);  // truncated to 64 bytes + "..."
}

TEST_CASE("callbacks: PartReports decides a message's state from its reports", "[sms][callbacks]") {
  auto delivered = [](const std::string& smscId) {
    DeliveryReport r;
    r.type = 1;
    r.status = DlrStatus::delivered;
    r.smscMessageId = smscId;
    return r;
  };
  auto ofType = [](DlrStatus s) {
    DeliveryReport r;
    r.status = s;
    return r;
  };
  SECTION("Kannel: one final report per message, whatever the parts") {
    PartReports p(kKannelFinalReportsPerMessage);
    CHECK(p.add(ofType(DlrStatus::smscAccepted)) == PartReports::State::pending);
    CHECK(p.add(delivered("")) == PartReports::State::delivered);
  }
  SECTION("per-part reports: delivered only when all three parts are") {
    PartReports p(3);
    CHECK(p.add(delivered("a")) == PartReports::State::pending);
    CHECK(p.add(ofType(DlrStatus::buffered)) == PartReports::State::pending);
    CHECK(p.add(delivered("b")) == PartReports::State::pending);
    CHECK(p.add(delivered("b")) == PartReports::State::pending);  // the same receipt twice counts once
    CHECK(p.deliveredCount() == 2);
    CHECK(p.add(delivered("c")) == PartReports::State::delivered);
    CHECK(partStateName(p.state()) == std::string("delivered"));
  }
  SECTION("any failed or rejected part fails the message, and failure is sticky") {
    PartReports p(3);
    p.add(delivered("a"));
    CHECK(p.add(ofType(DlrStatus::failed)) == PartReports::State::failed);
    CHECK(p.add(delivered("b")) == PartReports::State::failed);
    CHECK(p.add(delivered("c")) == PartReports::State::failed);
    PartReports q(2);
    CHECK(q.add(ofType(DlrStatus::smscRejected)) == PartReports::State::failed);
  }
  SECTION("expected reports below 1 are clamped") {
    PartReports p(0);
    CHECK(p.expectedReports() == 1);
    CHECK(p.add(delivered("")) == PartReports::State::delivered);
  }
}

TEST_CASE("callbacks: replies (MO) keep Chinese text intact", "[sms][callbacks]") {
  InboundSms in;
  CallbackError err;
  SECTION("mo-recode = true: UTF-8, coding 0") {
    REQUIRE(parseInboundSms(parseQueryString("from=%2B8613800000001&to=12110&text=1%E7%A1%AE%E8%AE%A4&coding=0"
                                             "&charset=UTF-8&ts=&time=2026-11-29+18:33:30"),
                            in, err));
    CHECK(in.from == "+8613800000001");
    CHECK(in.to == "12110");
    CHECK(in.text == "1确认");
    CHECK(in.timeMs == 1795977210000LL);  // 2026-11-29 18:33:30 UTC
  }
  SECTION("without mo-recode: UCS-2 bytes, coding 2") {
    REQUIRE(parseInboundSms(parseQueryString("from=%2B8613800000001&to=12110&text=%001xn%8B%A4&coding=2&ts=1795977210"),
                            in, err));
    CHECK(in.text == "1确认");
    CHECK(in.timeMs == 1795977210000LL);
  }
  SECTION("UTF-16 surrogate pair") {
    REQUIRE(parseInboundSms(parseQueryString("from=1&to=2&text=%D8%3D%DE%00&coding=2"), in, err));
    CHECK(in.text == "\xF0\x9F\x98\x80");  // U+1F600
  }
  SECTION("ISO-8859-1") {
    REQUIRE(parseInboundSms(parseQueryString("from=1&to=2&text=caf%E9&charset=ISO-8859-1"), in, err));
    CHECK(in.text == "café");
  }
  SECTION("empty text is a reply too") {
    REQUIRE(parseInboundSms(parseQueryString("from=1&to=2&text="), in, err));
    CHECK(in.text.empty());
    CHECK(in.timeMs == 0);
  }
  SECTION("malformed") {
    CHECK_FALSE(parseInboundSms(parseQueryString("to=2&text=x"), in, err));
    CHECK(err.field == "from");
    CHECK_FALSE(parseInboundSms(parseQueryString("from=1&text=x"), in, err));
    CHECK(err.field == "to");
    CHECK_FALSE(parseInboundSms(parseQueryString("from=1&to=2"), in, err));
    CHECK(err.field == "text");
    CHECK_FALSE(parseInboundSms(parseQueryString("from=1&to=2&text=%001x&coding=2"), in, err));
    CHECK(err.field == "text");
    CHECK(err.reason.find("UCS-2") != std::string::npos);
    CHECK_FALSE(parseInboundSms(parseQueryString("from=1&to=2&text=%E7%A1"), in, err));
    CHECK(err.field == "text");
    CHECK(err.value == "%E7%A1");
    CHECK_FALSE(parseInboundSms(parseQueryString("from=1&to=2&text=x&time=yesterday"), in, err));
    CHECK(err.field == "time");
    CHECK(err.message("mo") == "mo: time: yesterday: not YYYY-MM-DD HH:MM:SS");
  }
}

TEST_CASE("callbacks: UTF-8 validation rejects overlongs, surrogates and truncation", "[sms][callbacks]") {
  CHECK(isValidUtf8("【宁波市防汛防台指挥部】"));
  CHECK_FALSE(isValidUtf8("\xC0\xAF"));
  CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));
  CHECK_FALSE(isValidUtf8("\xE7\xA1"));
  CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));
  std::string out;
  CHECK_FALSE(utf16beToUtf8(std::string("\x00", 1), out));
  CHECK_FALSE(utf16beToUtf8(std::string("\xDC\x00", 2), out));
}
