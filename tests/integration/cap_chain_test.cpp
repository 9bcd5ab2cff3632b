// A CAP alert -> update -> cancel chain written as real ones are (references "sender,identifier,sent"
// naming the CAP sender, not the bus agency), read by the real alertbus-met, the cancel through another
// agency's adapter: every message of the chain reaches every destination the alert reached.
#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>
#include <map>

#include "tests/integration/adapter_harness.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

const std::string kMet = ALERTBUS_MET_BIN;

// A CAP 1.2 typhoon document as Ningbo's observatory (or `sender`) writes it.
std::string cap(const std::string& id, const std::string& sender, const std::string& sent, const std::string& msgType,
                const std::string& references, const std::string& headline) {
  std::string refs = references.empty() ? "" : "  <references>" + references + "</references>\n";
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
         "  <identifier>" + id + "</identifier>\n  <sender>" + sender + "</sender>\n"
         "  <sent>" + sent + "</sent>\n  <status>Actual</status>\n  <msgType>" + msgType + "</msgType>\n"
         "  <scope>Public</scope>\n" + refs +
         "  <info>\n    <language>zh-CN</language>\n    <category>Met</category>\n    <event>台风</event>\n"
         "    <urgency>Immediate</urgency>\n    <severity>Severe</severity>\n    <certainty>Observed</certainty>\n"
         "    <eventCode><valueName>alertbus</valueName><value>typhoon</value></eventCode>\n"
         "    <expires>" + isoIn(6 * 3600) + "</expires>\n    <headline>" + headline + "</headline>\n"
         "    <area><areaDesc>北仑区</areaDesc><geocode><valueName>GB2260</valueName><value>330206</value></geocode>"
         "</area>\n  </info>\n</alert>\n";
}

}  // namespace

TEST_CASE("cap chain: a real alert -> update -> cancel chain, the cancel from another agency, follows the alert",
          "[adapters][met][follow]") {
  TempDir dir, provinceDir;
  BrokerSetup setup = defaultSetup();
  setup.agencies.push_back({"province", "adapter", {"warning"}, {}, {}});  // a provincial observatory's adapter
  setup.rulesToml = kAlertsOnlySmsRules;
  BrokerProcess broker(dir, setup);
  broker.start();
  // What `alertbus tail` shows: per message id, its destinations and what each follows.
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<uint64_t>>> seen;
  std::map<std::string, uint64_t> seqOf;
  Client admin(broker.clientOptions("admin"));
  admin.onDeliver = [&](const Delivery& d) {
    std::string id(d.message.getId().cStr());
    seen[id] = {d.targets, d.follows};
    seqOf[id] = d.seq;
    admin.ack(d.seq);
  };
  admin.subscribe("*", 100, 1);

  const std::string sent1 = isoIn(-600), sent2 = isoIn(-300), sent3 = isoIn(-60);
  const std::string city = "nbqx@nbmb.gov.cn";
  std::ofstream(dir.file("1.xml")) << cap("NB-TY-CHAIN-1", city, sent1, "Alert", "", "台风橙色预警");
  std::ofstream(dir.file("2.xml")) << cap("NB-TY-CHAIN-2", city, sent2, "Update",
                                          city + ",NB-TY-CHAIN-1," + sent1, "台风橙色预警（更新）");
  std::ofstream(dir.file("3.xml")) << cap("ZJ-TY-CHAIN-3", "zjqx@zjmb.gov.cn", sent3, "Cancel",
                                          city + ",NB-TY-CHAIN-1," + sent1 + " " + city + ",NB-TY-CHAIN-2," + sent2,
                                          "解除台风橙色预警");
  std::string metConfig = writeAdapterConfig(dir, broker, "met", "met", "");
  std::string provinceConfig = writeAdapterConfig(provinceDir, broker, "met", "province", "");
  for (auto [config, file] : {std::pair{metConfig, "1.xml"}, {metConfig, "2.xml"}, {provinceConfig, "3.xml"}}) {
    auto r = runCommand(kMet + " --config " + config + " --once " + dir.file(file));
    INFO(file << ": " << r.out);
    REQUIRE(r.status == 0);
  }
  REQUIRE(waitFor([&] { return seen.size() == 3; }, 15000, &admin));
  uint64_t alert = seqOf["NB-TY-CHAIN-1"], update = seqOf["NB-TY-CHAIN-2"];
  CHECK(seen["NB-TY-CHAIN-1"].first == std::vector<std::string>{"sms:duty", "dashboard:city-desk"});
  // The update names the alert by its CAP sender: it follows the alert to SMS.
  CHECK(seen["NB-TY-CHAIN-2"].first == std::vector<std::string>{"dashboard:city-desk", "sms:duty"});
  CHECK(seen["NB-TY-CHAIN-2"].second == std::vector<uint64_t>{alert, alert});
  // The provincial cancel, through another adapter and agency, resolves both and reaches SMS too.
  CHECK(seen["ZJ-TY-CHAIN-3"].first == std::vector<std::string>{"dashboard:city-desk", "sms:duty"});
  CHECK(seen["ZJ-TY-CHAIN-3"].second == std::vector<uint64_t>{alert, alert});
  CHECK(update > alert);
}
