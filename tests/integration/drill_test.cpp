// Drills never leave their lane, end to end with the sample configuration (config/rules.toml and
// config/sms-roster.csv as shipped): an exercise typhoon warning read by the real alertbus-met goes through
// the real alertbusd to the real alertbus-sms (spool sender), reaches the drill participants only, is
// answered over the outlet's /mo callback, and comes back as an exercise ack and exercise summaries; the
// broker's journal then holds nothing actual and no actual-only destination was given anything. Also: every
// adapter executable takes [publish] status and refuses a value it does not know, naming file and line.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "model/codec.h"
#include "model/facts.h"
#include "tests/integration/adapter_harness.h"

using namespace alertbus;
using namespace alertbus::test;
namespace fs = std::filesystem;

namespace {

const std::string kSrc = ALERTBUS_SOURCE_DIR;
const std::string kSms = ALERTBUS_SMS_BIN;
const std::string kMet = ALERTBUS_MET_BIN;

// The drill participants of config/sms-roster.csv (group drill-participants), as the outlet normalises them.
const std::set<std::string> kDrillMobiles = {"+8613605740901", "+8613605740902", "+8613605740903"};

std::string readText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void drop(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp", std::ios::binary) << text;
  fs::rename(path + ".tmp", path);  // write elsewhere, rename in: the watched directory's contract
}

// An orange typhoon warning for Beilun (330206) as the met bureau writes it. It says Actual: the adapter's
// [publish] status decides its lane. Were it published as actual, the sample rules would text the typhoon
// command, the flood duty officers and the coastal district duty.
std::string typhoonCap(const std::string& id, const std::string& status) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
         "  <identifier>" + id + "</identifier>\n  <sender>nbqx@nbmb.gov.cn</sender>\n"
         "  <sent>" + isoIn(-60) + "</sent>\n  <status>" + status + "</status>\n  <msgType>Alert</msgType>\n"
         "  <scope>Public</scope>\n"
         "  <info>\n    <language>zh-CN</language>\n    <category>Met</category>\n    <event>台风</event>\n"
         "    <urgency>Immediate</urgency>\n    <severity>Severe</severity>\n    <certainty>Observed</certainty>\n"
         "    <eventCode><valueName>alertbus</valueName><value>typhoon</value></eventCode>\n"
         "    <expires>" + isoIn(6 * 3600) + "</expires>\n    <senderName>宁波市气象台</senderName>\n"
         "    <headline>宁波市气象台发布台风橙色预警信号</headline>\n"
         "    <parameter><valueName>预警级别</valueName><value>橙色</value></parameter>\n"
         "    <area><areaDesc>北仑区</areaDesc><geocode><valueName>GB2260</valueName><value>330206</value></geocode>"
         "</area>\n  </info>\n</alert>\n";
}

std::string smsConfig(const TempDir& dir, const BrokerProcess& broker) {
  std::string path = dir.file("sms.toml");
  std::ofstream(path) << "[broker]\nendpoint = \"" << broker.endpoint() << "\"\nserver_key = \""
                      << broker.serverPublicKey() << "\"\nkey_file = \"" << broker.keyFileOf("sms")
                      << "\"\nheartbeat_ms = 200\n[state]\ndir = \"" << dir.file("sms-state")
                      << "\"\n[templates]\nfile = \"" << kSrc << "/config/sms-templates.toml\"\n"
                      << "[summaries]\ninterval_ms = 300\n";
  return path;
}

// Every SMS the spool sender wrote: deliveryId -> (to, text).
std::map<std::string, std::pair<std::string, std::string>> spool(const std::string& dir) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream f(e.path());
    auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded()) continue;
    out[j.value("deliveryId", "")] = {j.value("to", ""), j.value("text", "")};
  }
  return out;
}

std::string firstWithPrefix(const JournalTail& tail, const std::string& prefix) {
  for (auto& id : tail.ids())
    if (id.rfind(prefix, 0) == 0) return id;
  return "";
}

// What the broker journaled, read from its SQLite file: each message's status and the destinations it was
// routed to.
struct JournalRow {
  uint64_t seq = 0;
  std::string sender, id;
  schema::Status status = schema::Status::UNSPECIFIED;
  std::vector<std::string> dests;
};

std::vector<JournalRow> readJournal(const std::string& path) {
  std::vector<JournalRow> rows;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT seq, sender, msg_id, dests, body FROM messages ORDER BY seq", -1, &q,
                             nullptr) == SQLITE_OK);
  while (sqlite3_step(q) == SQLITE_ROW) {
    JournalRow r;
    r.seq = static_cast<uint64_t>(sqlite3_column_int64(q, 0));
    r.sender = reinterpret_cast<const char*>(sqlite3_column_text(q, 1));
    r.id = reinterpret_cast<const char*>(sqlite3_column_text(q, 2));
    std::string dests = reinterpret_cast<const char*>(sqlite3_column_text(q, 3));
    for (size_t start = 0; start < dests.size();) {
      size_t nl = dests.find('\n', start);
      if (nl == std::string::npos) nl = dests.size();
      if (nl > start) r.dests.push_back(dests.substr(start, nl - start));
      start = nl + 1;
    }
    auto* body = static_cast<const kj::byte*>(sqlite3_column_blob(q, 4));
    DecodedMessage m;
    DecodeError err;
    auto bytes = kj::arrayPtr(body, static_cast<size_t>(sqlite3_column_bytes(q, 4)));
    bool ok = decodeMessage(bytes, DecodeLimits{}, m, err);
    INFO("journal seq " << r.seq << ": " << err.code);
    CHECK(ok);
    if (ok) r.status = m.message().getStatus();
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return rows;
}

// The destinations a rules file lets non-actual traffic reach, with the statuses each accepts. Every other
// destination accepts only actual (the broker's default).
std::map<std::string, std::set<std::string>> nonActualDestinations(const std::string& rulesText) {
  std::map<std::string, std::set<std::string>> out;
  toml::table t = toml::parse(rulesText);
  if (auto* d = t["destinations"].as_table())
    for (auto& [name, v] : *d) {
      std::set<std::string> statuses;
      if (auto* a = v.as_table() ? (*v.as_table())["accept_status"].as_array() : nullptr)
        for (auto& s : *a)
          if (s.is_string()) statuses.insert(**s.as_string());
      if (statuses != std::set<std::string>{"actual"}) out[std::string(name.str())] = statuses;
    }
  return out;
}

}  // namespace

TEST_CASE("drill: an exercise typhoon warning reaches the drill participants only, answers come back as exercise, "
          "nothing actual is journaled",
          "[drill][sms][adapters]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  setup.agencies.push_back({"maritime", "adapter", {"*"}, {}, {"maritime-watch"}});
  setup.rulesToml = readText(kSrc + "/config/rules.toml");  // the sample rules as shipped
  REQUIRE_FALSE(setup.rulesToml.empty());
  const auto lanes = nonActualDestinations(setup.rulesToml);
  REQUIRE(lanes.count("sms:drill-participants"));
  BrokerProcess broker(dir, setup);
  broker.start();
  JournalTail tail(broker);

  std::string smsToml = smsConfig(dir, broker);
  auto imp = runCommand(kSms + " --config " + smsToml + " roster import " + kSrc + "/config/sms-roster.csv");
  INFO(imp.out);
  REQUIRE(imp.status == 0);
  ChildProcess sms({kSms, "--config", smsToml}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));

  // The met adapter of a drill: everything it publishes is an exercise, whatever the CAP says.
  std::string inbox = dir.file("inbox");
  std::string metToml = writeAdapterConfig(dir, broker, "met", "met",
                                           "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n"
                                           "[publish]\nstatus = \"exercise\"\n");
  ChildProcess met({kMet, "--config", metToml}, dir.file("met.log"));
  REQUIRE(waitForFile(inbox + "/done"));
  drop(inbox + "/drill.xml", typhoonCap("NB-DRILL-TY-1", "Actual"));
  REQUIRE(tail.waitFor([&] { return tail.count("NB-DRILL-TY-1") == 1; }, 15000));
  CHECK(tail.json("NB-DRILL-TY-1").find("\"status\":\"exercise\"") != std::string::npos);

  // The drill participants get it, marked as a drill, with an answer code.
  std::string spoolDir = dir.file("sms-state/spool");
  REQUIRE(waitFor([&] { return spool(spoolDir).size() >= kDrillMobiles.size(); }, 15000));
  std::string text;
  std::set<std::string> reached;
  for (auto& [id, v] : spool(spoolDir)) {
    reached.insert(v.first);
    INFO(v.second);
    CHECK(v.second.rfind("【演练】", 0) == 0);
    if (v.first == "+8613605740901") text = v.second;
  }
  CHECK(reached == kDrillMobiles);
  REQUIRE(text.find("回复") != std::string::npos);
  std::string code;
  for (size_t i = text.find("回复") + 6; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i)
    code += text[i];
  REQUIRE(code.size() == 4);

  // x0901 answers, as Kannel's sms-service would pass the reply on.
  std::string base = readText(dir.file("sms-state/callbacks.url"));
  httplib::Client http(base.substr(0, base.find('\n')));
  auto res = http.Get(("/mo?from=%2B8613605740901&to=12379&text=" + code + "%20%E6%94%B6%E5%88%B0").c_str());
  REQUIRE(res);
  CHECK(res->status == 200);
  std::string ackId;
  REQUIRE(tail.waitFor([&] { return !(ackId = firstWithPrefix(tail, "sms-ack-NB-DRILL-TY-1-")).empty(); }, 15000));
  INFO(tail.json(ackId));
  CHECK(tail.json(ackId).find("\"status\":\"exercise\"") != std::string::npos);
  CHECK(tail.json(ackId).find("\"by\":\"sms:+8613605740901/x0901\"") != std::string::npos);
  std::string summary;
  REQUIRE(tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("sms-summary-NB-DRILL-TY-1-", 0) == 0) summary = tail.json(id);
        return summary.find("\"kind\":\"sms-answered\",\"count\":1") != std::string::npos;
      },
      15000));
  INFO(summary);
  CHECK(summary.find("\"status\":\"exercise\"") != std::string::npos);
  CHECK(met.stop() == 0);
  CHECK(sms.stop() == 0);
  CHECK(spool(spoolDir).size() == kDrillMobiles.size());  // nobody else, nothing twice

  // The journal: no message with status actual; each destination accepted the status it was given, so no
  // destination that takes only actual traffic received anything.
  auto rows = readJournal(dir.file("journal.db"));
  std::set<std::string> ids, smsDests;
  for (auto& r : rows) {
    INFO("seq " << r.seq << " " << r.sender << "/" << r.id << " status " << statusName(r.status));
    ids.insert(r.id);
    CHECK(r.status != schema::Status::ACTUAL);
    for (auto& d : r.dests) {
      INFO("destination " << d);
      auto it = lanes.find(d);
      REQUIRE(it != lanes.end());
      CHECK(it->second.count(std::string(statusName(r.status))) == 1);
      if (d.rfind("sms:", 0) == 0) smsDests.insert(d);
    }
  }
  CHECK(ids.count("NB-DRILL-TY-1") == 1);
  CHECK(ids.count(ackId) == 1);
  CHECK(smsDests == std::set<std::string>{"sms:drill-participants"});
}

TEST_CASE("drill: every adapter publishes everything in its [publish] status lane and refuses an unknown one",
          "[drill][adapters]") {
  TempDir dir;
  drop(dir.file("actual.xml"), typhoonCap("NB-LANE-1", "Actual"));
  struct Case {
    std::string adapter, bin, own, input;
  };
  const std::vector<Case> cases = {
      {"met", kMet, "", dir.file("actual.xml")},
      {"water", ALERTBUS_WATER_BIN, "[water]\nstations_file = \"" + kSrc + "/tests/data/water/stations.csv\"\n",
       kSrc + "/tests/data/water/readings.csv"},
      {"fire", ALERTBUS_FIRE_BIN, "", kSrc + "/tests/data/fire/dispatch-single.json"},
      {"maritime", ALERTBUS_MARITIME_BIN, "",
       kSrc + "/tests/data/navtex/cn-NB12-guangzhou-gale-warning-cr.txt"},
  };
  for (auto& c : cases) {
    for (std::string lane : {"exercise", "test"}) {
      INFO(c.adapter << " [publish] status = " << lane);
      std::string toml = dir.file(c.adapter + "-" + lane + ".toml");
      std::ofstream(toml) << "[state]\ndir = \"" << dir.file("state") << "\"\n\n[publish]\nstatus = \"" << lane
                          << "\"\n\n" << c.own;
      auto r = runCommand(c.bin + " --config " + toml + " --dry-run " + c.input + " 2>/dev/null");
      INFO(r.out);
      CHECK(r.status == 0);
      size_t messages = 0, inLane = 0;
      for (size_t start = 0; start < r.out.size();) {
        size_t nl = r.out.find('\n', start);
        if (nl == std::string::npos) nl = r.out.size();
        std::string line = r.out.substr(start, nl - start);
        start = nl + 1;
        if (line.empty() || line[0] != '{') continue;
        ++messages;
        inLane += line.find("\"status\":\"" + lane + "\"") != std::string::npos;
      }
      CHECK(messages > 0);
      CHECK(inLane == messages);
    }
    INFO(c.adapter);
    std::string bad = dir.file(c.adapter + "-bad.toml");
    std::ofstream(bad) << "[state]\ndir = \"" << dir.file("state") << "\"\n\n[publish]\nstatus = \"drill\"\n\n"
                       << c.own;
    auto r = runCommand(c.bin + " --config " + bad + " --dry-run " + c.input);
    INFO(r.out);
    CHECK(r.status == 2);
    CHECK(r.out.find(bad + ":5: publish.status = 'drill': expected actual") != std::string::npos);
    CHECK(r.out.find("{\"id\"") == std::string::npos);  // nothing read
  }
  // The water adapter's former key is not silently ignored.
  std::ofstream(dir.file("water-old.toml")) << "[state]\ndir = \"" << dir.file("state")
                                            << "\"\n[water]\nstations_file = \"" << kSrc
                                            << "/tests/data/water/stations.csv\"\nstatus = \"exercise\"\n";
  auto r = runCommand(std::string(ALERTBUS_WATER_BIN) + " --config " + dir.file("water-old.toml") + " --dry-run");
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK(r.out.find("water-old.toml:5: water.status has moved: set status in [publish]") != std::string::npos);
}
