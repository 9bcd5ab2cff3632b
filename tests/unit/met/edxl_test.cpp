// EDXL-DE 1.0 envelopes (adapters/met/edxl.h): several CAP alerts per envelope, envelope identity, skipped
// non-CAP content objects, hostile and wrong roots.
#include "adapters/met/edxl.h"

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

const std::string kDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/edxl/";

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

std::string problems(const std::vector<CapProblem>& ps) {
  std::string s;
  for (auto& p : ps) s += p.str() + "\n";
  return s;
}

}  // namespace

TEST_CASE("edxl: envelope with two CAP alerts a map and a non-CAP element", "[edxl]") {
  auto e = parseEdxl(readFile(kDir + "de-two-alerts.xml"), "de-two-alerts.xml");
  INFO(problems(e.problems));
  CHECK(e.envelope);
  CHECK(e.errorCount() == 0);
  CHECK(e.distributionId == "NB-EDXL-2026-0728-001");
  CHECK(e.senderId == "nbqx@nbmb.gov.cn");
  CHECK(e.distributionStatus == "Actual");
  CHECK(e.distributionType == "Report");
  CHECK(e.sentMs == 1785200700000LL);
  CHECK(e.describe().find("distributionID=NB-EDXL-2026-0728-001 senderID=nbqx@nbmb.gov.cn") != std::string::npos);
  REQUIRE(e.alerts.size() == 2);
  CHECK(e.alerts[0].key == "contentObject[1]");
  CHECK(e.alerts[1].key == "contentObject[3]");
  CHECK(e.alerts[1].position == "EDXLDistribution/contentObject[3]/xmlContent/embeddedXMLContent/alert[1]");
  // Skipped, as warnings: the PNG map and the sitrep element.
  REQUIRE(e.problems.size() == 2);
  CHECK(e.problems[0].level == CapProblem::Level::warning);
  CHECK(e.problems[0].value == "image/png");
  CHECK(e.problems[1].field == "sitrep");
  CHECK(e.problems[1].value == "urn:example:sitrep");

  for (size_t i = 0; i < e.alerts.size(); ++i) {
    capnp::MallocMessageBuilder b;
    auto r = parseCap(e.alerts[i].xml, "x#" + e.alerts[i].key, 0, b);
    INFO(e.alerts[i].xml << "\n" << problems(r.problems));
    REQUIRE(r.accepted);
    auto m = b.getRoot<Message>().asReader();
    CHECK(!validateMessage(m, m.getSentMs()));
    if (i == 1) {
      // The prefixed alert got the envelope's xmlns:cap and carries its update reference.
      CHECK(m.getMsgType() == schema::MsgType::UPDATE);
      CHECK(text(m.getReferences()[0].getId()) == "NB-EDXL-GALE-1");
      CHECK(text(m.getReferences()[0].getSender()) == "nbqx@nbmb.gov.cn");
    }
  }
}

TEST_CASE("edxl: problems and refusals", "[edxl]") {
  const std::string ns = "xmlns='urn:oasis:names:tc:emergency:EDXL:DE:1.0'";
  SECTION("DOCTYPE refused") {
    auto e = parseEdxl("<!DOCTYPE EDXLDistribution [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><EDXLDistribution " + ns +
                           "><distributionID>&x;</distributionID></EDXLDistribution>",
                       "t");
    REQUIRE(e.errorCount() == 1);
    CHECK(e.problems[0].field == "DOCTYPE");
    CHECK(!e.envelope);
  }
  SECTION("EDXL-DE 2.0 or other root is refused") {
    auto e = parseEdxl("<EDXLDistribution xmlns='urn:oasis:names:tc:emergency:EDXL:DE:2.0'/>", "t");
    REQUIRE(e.errorCount() == 1);
    CHECK(e.problems[0].reason.find("EDXL-DE 1.0") != std::string::npos);
  }
  SECTION("missing ids, bad time, empty objects, no alert: warnings only") {
    auto e = parseEdxl("<EDXLDistribution " + ns +
                           "><dateTimeSent>yesterday</dateTimeSent><contentObject/><contentObject><xmlContent>"
                           "<keyXMLContent/></xmlContent></contentObject><contentObject><xmlContent><embeddedXMLContent/>"
                           "</xmlContent></contentObject></EDXLDistribution>",
                       "t");
    CHECK(e.envelope);
    CHECK(e.errorCount() == 0);
    CHECK(e.alerts.empty());
    CHECK(e.problems.size() == 7);  // distributionID, senderID, dateTimeSent, 3 objects, no CAP alert
    CHECK(e.sentMs == 0);
  }
  SECTION("two alerts in one embeddedXMLContent get distinct keys") {
    std::string alert =
        "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>A</identifier></alert>";
    auto e = parseEdxl("<EDXLDistribution " + ns +
                           "><distributionID>d</distributionID><senderID>s</senderID><contentObject><xmlContent>"
                           "<embeddedXMLContent>" + alert + alert + "</embeddedXMLContent></xmlContent></contentObject>"
                           "</EDXLDistribution>",
                       "t");
    REQUIRE(e.alerts.size() == 2);
    CHECK(e.alerts[0].key == "contentObject[1]/alert[1]");
    CHECK(e.alerts[1].key == "contentObject[1]/alert[2]");
  }
  SECTION("malformed") {
    auto e = parseEdxl("<EDXLDistribution " + ns + "><contentObject>", "t");
    REQUIRE(e.errorCount() == 1);
    CHECK(e.problems[0].reason.find("malformed") != std::string::npos);
  }
}
