// Vessels at risk fed with CAP as the meteorological bureau writes it, through the met adapter's parseCap:
// an alert, its update and its cancel name each other by "<CAP sender>,<identifier>,<sent>", not by the bus
// agency, and the cancel may come through another agency's adapter. Also the status lane of real CAP input.
#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <string>

#include "adapters/maritime/risk.h"
#include "adapters/met/cap.h"
#include "model/validate.h"

using namespace alertbus;
using namespace alertbus::maritime;

namespace {

constexpr int64_t kNowMs = 1785286400000LL;  // 2026-07-29T00:53Z: after every CAP <sent> below
constexpr uint32_t kAtSea = 412000001;

// A CAP 1.2 typhoon warning over the sea east of Zhoushan (29.5..30.5 N, 122..123 E), or its Update/Cancel.
std::string cap(const std::string& sender, const std::string& identifier, const std::string& sent,
                const std::string& msgType, const std::string& references, const std::string& status = "Actual") {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
                    "  <identifier>" + identifier + "</identifier>\n"
                    "  <sender>" + sender + "</sender>\n"
                    "  <sent>" + sent + "</sent>\n"
                    "  <status>" + status + "</status>\n"
                    "  <msgType>" + msgType + "</msgType>\n"
                    "  <scope>Public</scope>\n";
  if (!references.empty()) xml += "  <references>" + references + "</references>\n";
  xml += "  <info>\n"
         "    <language>zh-CN</language>\n"
         "    <category>Met</category>\n"
         "    <event>台风</event>\n"
         "    <urgency>Immediate</urgency>\n"
         "    <severity>Severe</severity>\n"
         "    <certainty>Likely</certainty>\n"
         "    <eventCode><valueName>CMA</valueName><value>11B01</value></eventCode>\n"
         "    <expires>2036-07-29T09:00:00+08:00</expires>\n"
         "    <headline>台风橙色预警</headline>\n"
         "    <area><areaDesc>舟山东部海域</areaDesc>"
         "<polygon>29.5,122.0 29.5,123.0 30.5,123.0 30.5,122.0 29.5,122.0</polygon></area>\n"
         "  </info>\n"
         "</alert>\n";
  return xml;
}

// What the maritime adapter gets from the broker: parseCap's message with the publishing agency stamped.
WarningIntake deliver(RiskMonitor& rm, const std::string& agency, const std::string& xml, int64_t at) {
  capnp::MallocMessageBuilder b;
  auto r = met::parseCap(xml, "test", at, b);
  std::string problems;
  for (auto& p : r.problems) problems += p.str() + "\n";
  INFO(problems);
  REQUIRE(r.accepted);
  auto m = b.getRoot<schema::Message>();
  m.setSender(agency);
  return rm.onMessage(m.asReader(), at);
}

VesselRegistry oneVesselAtSea() {
  VesselRegistryOptions o;
  VesselRegistry reg(o);
  AisPosition p;
  p.type = 1;
  p.mmsi = kAtSea;
  p.latDeg = 30.2;
  p.lonDeg = 122.6;
  p.sogKnots = 3.5;
  p.cogDeg = 270.0;
  reg.updatePosition(p, kNowMs);
  return reg;
}

std::string str(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

const char* kAlertId = "urn:oid:2.49.0.1.156.0.2026.07.28.001";
const char* kUpdateId = "urn:oid:2.49.0.1.156.0.2026.07.28.002";
const char* kCancelId = "urn:oid:2.49.0.1.156.0.2026.07.29.001";

}  // namespace

TEST_CASE("risk with real CAP: alert -> update -> cancel by CAP sender keep one vessels-at-risk series",
          "[risk][cap]") {
  RiskMonitor rm;
  auto reg = oneVesselAtSea();
  const std::string alert = cap("nbqx@nbmb.gov.cn", kAlertId, "2026-07-28T09:00:00+08:00", "Alert", "");
  REQUIRE(deliver(rm, "met", alert, kNowMs).outcome == WarningOutcome::Taken);
  auto first = rm.evaluate(reg, kNowMs);
  REQUIRE(first.messages.size() == 1);
  CHECK(first.messages[0]->getRoot<schema::Message>().getMsgType() == schema::MsgType::ALERT);

  const std::string update =
      cap("nbqx@nbmb.gov.cn", kUpdateId, "2026-07-28T15:00:00+08:00", "Update",
          std::string("nbqx@nbmb.gov.cn,") + kAlertId + ",2026-07-28T09:00:00+08:00");
  auto up = deliver(rm, "met", update, kNowMs + 60000);
  CHECK(up.outcome == WarningOutcome::Taken);
  CHECK(up.reason == std::string("updated warning ") + kAlertId);  // not a new series
  CHECK(rm.activeWarnings() == 1);

  std::string cancelAgency = "met";
  std::string cancelSender = "nbqx@nbmb.gov.cn";
  std::string references;
  SECTION("the cancel names the update (CAP: the message it cancels)") {
    references = std::string("nbqx@nbmb.gov.cn,") + kUpdateId + ",2026-07-28T15:00:00+08:00";
  }
  SECTION("the cancel names the whole chain, whitespace-separated") {
    references = std::string("nbqx@nbmb.gov.cn,") + kAlertId + ",2026-07-28T09:00:00+08:00\n    nbqx@nbmb.gov.cn," +
                 kUpdateId + ",2026-07-28T15:00:00+08:00";
  }
  SECTION("the cancel names only the first alert") {
    references = std::string("nbqx@nbmb.gov.cn,") + kAlertId + ",2026-07-28T09:00:00+08:00";
  }
  SECTION("the provincial observatory cancels through its own adapter (another bus agency)") {
    cancelAgency = "met-province";
    cancelSender = "zjqx@zjmb.gov.cn";
    references = std::string("nbqx@nbmb.gov.cn,") + kUpdateId + ",2026-07-28T15:00:00+08:00";
  }
  const std::string cancel = cap(cancelSender, kCancelId, "2026-07-29T08:00:00+08:00", "Cancel", references);
  auto in = deliver(rm, cancelAgency, cancel, kNowMs + 120000);
  INFO(in.reason);
  CHECK(in.outcome == WarningOutcome::Taken);
  auto fin = rm.evaluate(reg, kNowMs + 120000);
  REQUIRE(fin.messages.size() == 1);
  auto m = fin.messages[0]->getRoot<schema::Message>().asReader();
  CHECK_FALSE(validateMessage(m, kNowMs + 120000).has_value());
  CHECK(m.getStatus() == schema::Status::ACTUAL);
  CHECK(str(m.getId()).rfind(std::string("vessels-at-risk-") + "urn:oid:2.49.0.1.156.0.2026.07.28.001", 0) == 0);
  CHECK(m.getPayload().getSitrep().getReportNumber() == 2);  // first report, then this final one
  CHECK(m.getPayload().getSitrep().getVessels().size() == 0);
  CHECK(str(m.getPayload().getSitrep().getNarrative()).find("已取消") != std::string::npos);
  CHECK(str(m.getReferences()[1].getSender()) == cancelAgency);
  CHECK(rm.activeWarnings() == 0);
}

TEST_CASE("risk with real CAP: an Exercise typhoon warning gives exercise reports, its cancel ends only it",
          "[risk][cap]") {
  RiskMonitor rm;
  auto reg = oneVesselAtSea();
  const std::string drillId = "urn:oid:2.49.0.1.156.0.2026.07.28.901";
  REQUIRE(deliver(rm, "met", cap("nbqx@nbmb.gov.cn", kAlertId, "2026-07-28T09:00:00+08:00", "Alert", ""), kNowMs)
              .outcome == WarningOutcome::Taken);
  REQUIRE(deliver(rm, "met",
                  cap("nbqx@nbmb.gov.cn", drillId, "2026-07-28T09:30:00+08:00", "Alert", "", "Exercise"), kNowMs)
              .outcome == WarningOutcome::Taken);
  auto out = rm.evaluate(reg, kNowMs);
  REQUIRE(out.messages.size() == 2);
  CHECK(out.messages[0]->getRoot<schema::Message>().getStatus() == schema::Status::ACTUAL);
  CHECK(out.messages[1]->getRoot<schema::Message>().getStatus() == schema::Status::EXERCISE);

  // The drill's cancel, as CAP writes it, names the drill: only the exercise series ends.
  auto in = deliver(rm, "met",
                    cap("nbqx@nbmb.gov.cn", kCancelId, "2026-07-28T11:00:00+08:00", "Cancel",
                        "nbqx@nbmb.gov.cn," + drillId + ",2026-07-28T09:30:00+08:00", "Exercise"),
                    kNowMs + 60000);
  CHECK(in.outcome == WarningOutcome::Taken);
  auto fin = rm.evaluate(reg, kNowMs + 60000);
  REQUIRE(fin.messages.size() == 1);
  CHECK(fin.messages[0]->getRoot<schema::Message>().getStatus() == schema::Status::EXERCISE);
  CHECK(rm.activeWarnings() == 1);
  // A drill cancel that names the real warning by mistake ends nothing.
  auto wrong = deliver(rm, "met",
                       cap("nbqx@nbmb.gov.cn", "urn:oid:2.49.0.1.156.0.2026.07.28.902", "2026-07-28T11:30:00+08:00",
                           "Cancel", std::string("nbqx@nbmb.gov.cn,") + kAlertId + ",2026-07-28T09:00:00+08:00",
                           "Exercise"),
                       kNowMs + 90000);
  CHECK(wrong.outcome == WarningOutcome::Ignored);
  CHECK(rm.activeWarnings() == 1);
}
