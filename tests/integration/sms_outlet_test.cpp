// alertbus-sms against a real alertbusd with the spool sender (the embedded default): roster import,
// fan-out of a routed warning to a roster group, the Chinese text with its answer code, a reply over the
// callback HTTP endpoint published back as an ack, escalation of a non-answer to the deputy, summaries,
// a cancel that withdraws what has not gone out, and exactly-once across a SIGKILL mid fan-out.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "outlets/sms/callbacks.h"
#include "tests/integration/adapter_harness.h"
#include "tests/integration/kannel_process.h"

using namespace alertbus;
using namespace alertbus::test;
using alertbus::sms::moUrlPath;
namespace fs = std::filesystem;

namespace {

const std::string kSms = ALERTBUS_SMS_BIN;
const std::string kSrc = ALERTBUS_SOURCE_DIR;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A roster: `n` duty officers in group "duty" (c0..), each with deputy d<i> (not in the group); c3 reads
// English.
std::string roster(int n) {
  std::string csv = "id,name,mobile,roles,admin_code,groups,deputy,superior,language\n";
  char line[256];
  for (int i = 0; i < n; ++i) {
    snprintf(line, sizeof line, "c%d,值班员%d,1380574%04d,duty-officer,330212,duty,d%d,,%s\n", i, i, i, i,
             i == 3 ? "en" : "");
    csv += line;
    snprintf(line, sizeof line, "d%d,副职%d,1390574%04d,deputy,330212,deputies,,,\n", i, i, i);
    csv += line;
  }
  return csv;
}

std::string writeConfig(const TempDir& dir, const BrokerProcess& broker, const std::string& extra) {
  std::string path = dir.file("sms.toml");
  std::ofstream(path) << "[broker]\nendpoint = \"" << broker.endpoint() << "\"\nserver_key = \""
                      << broker.serverPublicKey() << "\"\nkey_file = \"" << broker.keyFileOf("sms")
                      << "\"\nheartbeat_ms = 200\n[state]\ndir = \"" << dir.file("sms-state")
                      << "\"\n[templates]\nfile = \"" << kSrc << "/config/sms-templates.toml\"\n"
                      << "[summaries]\ninterval_ms = 300\n" << extra;
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

std::string readFile(const std::string& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  return s;
}

// The [sender] and [callbacks] config for sending through `kannel` to its SMSC `smsc`, with reports and
// replies to the outlet on `callbackPort`.
std::string kannelSender(const KannelProcess& kannel, const std::string& smsc, int concurrency, int callbackPort) {
  return "[sender]\nkind = \"kannel\"\nrate_per_s = 200\nconcurrency = " + std::to_string(concurrency) +
         "\n[sender.kannel]\nhost = \"127.0.0.1\"\nport = " + std::to_string(kannel.sendsmsPort()) +
         "\nusername = \"" + kannel.setup().username + "\"\npassword = \"" + kannel.setup().password +
         "\"\nfrom = \"12379\"\nsmsc = \"" + smsc + "\"\n[callbacks]\nport = " + std::to_string(callbackPort) +
         "\n";
}

void publishWarning(const BrokerProcess& broker, const std::string& id, schema::Colour colour) {
  Client met(broker.clientOptions("met"));
  auto w = sampleWarning(id, "typhoon", colour, "330212", nowMs() + 3600000);
  met.publish(kj::arrayPtr(reinterpret_cast<const kj::byte*>(w.begin()), w.size() * sizeof(capnp::word)));
  REQUIRE(waitFor([&] { return met.pending() == 0; }, 10000, &met));
}

}  // namespace

TEST_CASE("sms: a warning reaches every duty officer once, answers come back, silence escalates",
          "[sms]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());  // warnings -> sms:duty
  broker.start();
  JournalTail tail(broker);
  std::string config = writeConfig(dir, broker,
                                   "[answers]\nwave_minutes = 0.02\nmax_wave = 1\n"
                                   "deadline_minutes = { orange = 0.03 }\n");
  std::ofstream(dir.file("roster.csv")) << roster(5) << "x1,坏号码,12345,duty-officer,330212,duty,,,\n";
  auto imp = runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv"));
  INFO(imp.out);
  CHECK(imp.status == 3);  // imported, with one line refused
  CHECK(imp.out.find("line 12: mobile=12345") != std::string::npos);
  CHECK(imp.out.find("10 persons") != std::string::npos);

  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  publishWarning(broker, "TY-SMS-1", schema::Colour::ORANGE);
  std::string spoolDir = dir.file("sms-state/spool");
  REQUIRE(waitFor([&] { return spool(spoolDir).size() >= 5; }, 15000));
  auto sent = spool(spoolDir);
  std::set<std::string> to;
  std::string text;
  for (auto& [id, v] : sent) {
    to.insert(v.first);
    text = v.second;
  }
  CHECK(to.size() == 5);
  CHECK(to.count("+8613805740003") == 1);
  for (auto& [id, v] : sent)  // c3 reads English (roster language "en"): the English template
    if (v.first == "+8613805740003") CHECK(v.second.find("Reply") != std::string::npos);
  INFO(text);
  CHECK(text.find("回复") != std::string::npos);  // the answer instruction with its code
  std::string code;
  for (auto& [id, v] : sent)
    if (v.first == "+8613805740000") text = v.second;
  for (size_t i = text.find("回复") + 6; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i)
    code += text[i];
  REQUIRE(code.size() == 4);

  // c0 answers through the callback (as Kannel's sms-service would call it).
  std::string base = readFile(dir.file("sms-state/callbacks.url"));
  httplib::Client http(base);
  auto res = http.Get(("/mo?from=%2B8613805740000&to=12379&text=" + code + "%20%E6%94%B6%E5%88%B0").c_str());
  REQUIRE(res);
  CHECK(res->status == 200);
  // An unknown number and a malformed callback are logged, not fatal.
  CHECK(http.Get("/mo?from=%2B8613999999999&to=12379&text=1")->status == 200);
  CHECK(http.Get("/dlr?id=999999&type=1")->status == 200);
  CHECK(http.Get("/dlr?type=banana")->status == 200);
  auto counts = http.Get("/status");
  REQUIRE(counts);
  INFO(counts->body);
  CHECK(counts->body.find("count unknown_reports 1\n") != std::string::npos);
  CHECK(counts->body.find("count bad_callbacks 1\n") != std::string::npos);
  CHECK(counts->body.find("count unmatched_replies 1\n") != std::string::npos);
  REQUIRE(tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("sms-ack-TY-SMS-1-", 0) == 0) return true;
        return false;
      },
      15000));
  // The others do not answer: after the deadline their deputies get it (wave 1), c0's deputy does not.
  REQUIRE(waitFor(
      [&] {
        std::set<std::string> deputies;
        for (auto& [id, v] : spool(spoolDir))
          if (v.first.rfind("+86139", 0) == 0) deputies.insert(v.first);
        return deputies.size() == 4;
      },
      20000));
  for (auto& [id, v] : spool(spoolDir)) {
    CHECK(v.first != "+8613905740000");
    if (v.first.rfind("+86139", 0) == 0) CHECK(v.second.find("未回复提醒") != std::string::npos);
  }
  // Summaries: who has answered and who has not.
  std::string summary;
  REQUIRE(tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("sms-summary-TY-SMS-1-", 0) == 0) summary = tail.json(id);
        return summary.find("\"kind\":\"sms-answered\",\"count\":1") != std::string::npos &&
               summary.find("\"kind\":\"sms-escalated\",\"count\":4") != std::string::npos;
      },
      15000));
  CHECK(summary.find("未回复") != std::string::npos);
  CHECK(sms.stop() == 0);
  std::string log = sms.log();
  CHECK(log.find("unknown number") != std::string::npos);
  CHECK(log.find("unknown delivery id 999999") != std::string::npos);
  CHECK(log.find("delivery report refused") != std::string::npos);
}

TEST_CASE("sms: SIGKILL in the middle of a large fan-out: nobody twice, nobody forgotten", "[sms]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  const int n = 3000;
  std::string config = writeConfig(dir, broker,
                                   "[sender]\nrate_per_s = 2000\nconcurrency = 4\nin_doubt_grace_ms = 300\n");
  std::ofstream(dir.file("roster.csv")) << roster(n);
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  std::string spoolDir = dir.file("sms-state/spool");
  {
    ChildProcess sms({kSms, "--config", config}, dir.file("sms1.log"));
    REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
    publishWarning(broker, "TY-BIG-1", schema::Colour::YELLOW);
    REQUIRE(waitFor([&] { return spool(spoolDir).size() >= 300; }, 30000));
    sms.kill9();
  }
  size_t before = spool(spoolDir).size();
  INFO("sent before the kill: " << before);
  CHECK(before < static_cast<size_t>(n));  // really killed mid fan-out
  ChildProcess sms({kSms, "--config", config}, dir.file("sms2.log"));
  REQUIRE(waitFor([&] { return spool(spoolDir).size() >= static_cast<size_t>(n); }, 60000));
  waitFor([] { return false; }, 500);  // anything more would be a duplicate
  auto sent = spool(spoolDir);
  std::map<std::string, int> perNumber;
  for (auto& [id, v] : sent) ++perNumber[v.first];
  CHECK(sent.size() == static_cast<size_t>(n));
  CHECK(perNumber.size() == static_cast<size_t>(n));
  for (auto& [number, count] : perNumber) REQUIRE(count == 1);
  CHECK(sms.stop() == 0);
}

TEST_CASE("sms: through real Kannel: Chinese text on the air, delivery reports, a reply becomes an ack",
          "[sms][kannel]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  // The outlet's callback port must be known to Kannel's sms-service before either starts: take a free
  // port from the OS (the outlet binds it a moment later).
  int callbackPort = freePorts(1)[0];
  std::string base = "http://127.0.0.1:" + std::to_string(callbackPort);
  KannelSetup ks;
  ks.moUrl = base + moUrlPath();
  KannelProcess kannel(dir, ks);
  kannel.start();
  const int n = 12;
  std::string config = writeConfig(
      dir, broker,
      kannelSender(kannel, "fake", 4, callbackPort));
  std::ofstream(dir.file("roster.csv")) << roster(n);
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  publishWarning(broker, "TY-KANNEL-1", schema::Colour::ORANGE);

  // The fake SMSC receives the text for every duty officer, in Chinese (UCS-2; a long text as
  // concatenated parts), with the answer code.
  auto received = [&] {
    std::map<std::string, std::map<int, std::string>> parts;  // number -> part index -> UCS-2 bytes
    for (auto& m : kannel.fakeSmscMessages()) parts[m.to][m.partIndex()] = m.data;
    return parts;
  };
  REQUIRE(waitFor(
      [&] {
        auto r = received();
        size_t complete = 0;
        for (auto& [number, p] : r)
          if (!p.empty() && (p.begin()->first == 0 || static_cast<int>(p.size()) == kannel.fakeSmscMessages()[0].partCount()))
            ++complete;
        return complete >= static_cast<size_t>(n);
      },
      30000));
  std::set<std::string> numbers;
  std::string text;
  for (auto& [number, p] : received()) {
    numbers.insert(number);
    std::string ucs2;
    for (auto& [index, data] : p) ucs2 += data;
    if (number == "+8613805740002" || number == "8613805740002") text = ucs2ToUtf8(ucs2);
  }
  INFO(text);
  CHECK(numbers.size() == static_cast<size_t>(n));
  CHECK(text.find("TY-KANNEL-1") != std::string::npos);
  size_t at = text.find("回复");
  REQUIRE(at != std::string::npos);
  std::string code;
  for (size_t i = at + 6; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i) code += text[i];
  REQUIRE(code.size() == 4);

  // Delivery reports come back to the outlet: the summary counts every SMS delivered.
  std::string summary;
  REQUIRE(tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("sms-summary-TY-KANNEL-1-", 0) == 0) summary = tail.json(id);
        return summary.find("\"kind\":\"sms-delivered\",\"count\":" + std::to_string(n)) != std::string::npos;
      },
      30000));

  // A duty officer answers from the handset, in Chinese: the reply travels fakesmsc -> Kannel -> the
  // outlet's /mo and comes back to the bus as an ack naming the person.
  kannel.injectReply("+8613805740002", "12379", code + "收到，已到岗");
  std::string ack;
  REQUIRE(tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("sms-ack-TY-KANNEL-1-", 0) == 0) ack = tail.json(id);
        return !ack.empty();
      },
      30000));
  INFO(ack);
  CHECK(ack.find("\"by\":\"sms:+8613805740002/c2\"") != std::string::npos);
  CHECK(ack.find("已到岗") != std::string::npos);
  CHECK(sms.stop() == 0);
}

TEST_CASE("sms: a cancel withdraws what has not gone out and reaches those the alert reached", "[sms]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  const int n = 40;
  std::string config = writeConfig(dir, broker, "[sender]\nrate_per_s = 10\nconcurrency = 1\n");
  std::ofstream(dir.file("roster.csv")) << roster(n);
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  std::string spoolDir = dir.file("sms-state/spool");
  publishWarning(broker, "TY-CXL-1", schema::Colour::YELLOW);
  REQUIRE(waitFor([&] { return spool(spoolDir).size() >= 3; }, 15000));
  {
    Client met(broker.clientOptions("met"));
    capnp::MallocMessageBuilder b;
    auto m = b.initRoot<schema::Message>();
    m.setId("TY-CXL-2");
    m.setSentMs(nowMs());
    m.setStatus(schema::Status::ACTUAL);
    m.setMsgType(schema::MsgType::CANCEL);
    auto ref = m.initReferences(1)[0];
    ref.setSender("met");
    ref.setId("TY-CXL-1");
    auto info = m.getPayload().initWarning(1)[0];
    info.setEventCode("typhoon");
    info.setHeadline("解除台风预警");
    met.publish(b);
    REQUIRE(waitFor([&] { return met.pending() == 0; }, 10000, &met));
  }
  // Everyone the alert reached gets the cancel; nobody else gets anything more.
  std::map<std::string, int> perNumber;
  REQUIRE(waitFor(
      [&] {
        perNumber.clear();
        for (auto& [id, v] : spool(spoolDir)) ++perNumber[v.first];
        size_t twice = 0;
        for (auto& [number, count] : perNumber) twice += count == 2;
        return twice == perNumber.size();  // alert + cancel for each one reached
      },
      20000));
  waitFor([] { return false; }, 1500);  // would anything more go out?
  perNumber.clear();
  for (auto& [id, v] : spool(spoolDir)) ++perNumber[v.first];
  INFO("persons reached: " << perNumber.size());
  CHECK(perNumber.size() < static_cast<size_t>(n));  // the cancel came before the end of the fan-out
  for (auto& [number, count] : perNumber) CHECK(count == 2);
  CHECK(sms.stop() == 0);
  CHECK(sms.log().find("cancelled by met/TY-CXL-2") != std::string::npos);
}

TEST_CASE("sms: a target naming an unknown group is logged and the rest is delivered", "[sms]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  setup.rulesToml = "[[rule]]\nname = \"w\"\nkind = [\"warning\"]\nto = [\"sms:duty\", \"sms:no-such-group\"]\n";
  BrokerProcess broker(dir, setup);
  broker.start();
  std::string config = writeConfig(dir, broker, "");
  std::ofstream(dir.file("roster.csv")) << roster(3);
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  publishWarning(broker, "TY-UNK-1", schema::Colour::YELLOW);
  REQUIRE(waitFor([&] { return spool(dir.file("sms-state/spool")).size() == 3; }, 15000));
  CHECK(sms.stop() == 0);
  CHECK(sms.log().find("target sms:no-such-group: unknown group 'no-such-group'") != std::string::npos);
}

TEST_CASE("sms: through Kannel to an SMPP centre: undeliverable and rejected numbers are counted failed",
          "[sms][kannel]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  int callbackPort = freePorts(1)[0];
  KannelSetup ks;
  ks.fakeSmsc = false;
  ks.smppSmsc = true;
  ks.smppRules = {{"+8613805740001", "undeliverable"}, {"+8613805740002", "rejected"}};
  KannelProcess kannel(dir, ks);
  kannel.start();
  const int n = 5;
  std::string config = writeConfig(
      dir, broker,
      kannelSender(kannel, "smpp", 2, callbackPort));
  std::ofstream(dir.file("roster.csv")) << roster(n);
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  publishWarning(broker, "TY-SMPP-1", schema::Colour::YELLOW);
  std::string summary;
  bool done = tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("sms-summary-TY-SMPP-1-", 0) == 0) summary = tail.json(id);
        return summary.find("\"kind\":\"sms-delivered\",\"count\":3") != std::string::npos &&
               summary.find("\"kind\":\"sms-failed\",\"count\":2") != std::string::npos;
      },
      30000);
  INFO(summary);
  INFO(sms.log());
  CHECK(done);
  CHECK(sms.stop() == 0);
}

namespace {
// A warning-shaped update or cancel published by `agency`, naming its originals as CAP does: by the CAP
// sender and identifier. `origin` is its own CAP sender.
void publishReferencing(const BrokerProcess& broker, const std::string& agency, const std::string& id,
                        schema::MsgType type, const std::string& origin,
                        const std::vector<std::pair<std::string, std::string>>& refs) {
  Client c(broker.clientOptions(agency));
  auto w = edited(sampleWarning(id, "typhoon", schema::Colour::ORANGE, "330212", nowMs() + 3600000),
                  [&](schema::Message::Builder m) {
                    m.setMsgType(type);
                    m.setOrigin(origin);
                    auto list = m.initReferences(static_cast<unsigned>(refs.size()));
                    for (unsigned i = 0; i < refs.size(); ++i) {
                      list[i].setSender(refs[i].first);
                      list[i].setId(refs[i].second);
                    }
                  });
  c.publish(w.asBytes());
  REQUIRE(waitFor([&] { return c.pending() == 0; }, 10000, &c));
}

// The answer code in an SMS text ("回复1234...").
std::string answerCodeIn(const std::string& text) {
  std::string code;
  size_t at = text.find("回复");
  if (at == std::string::npos) return code;
  for (size_t i = at + 6; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i) code += text[i];
  return code;
}
}  // namespace

TEST_CASE("sms: an update and a cancel from another agency follow the warning to everyone it reached, deputies "
          "included, and the update keeps the answer code",
          "[sms][follow]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  // As the old sample rule did: SMS for alerts only. Updates and cancels reach SMS by following.
  setup.rulesToml = kAlertsOnlySmsRules;
  BrokerProcess broker(dir, setup);
  broker.start();
  std::string config = writeConfig(dir, broker,
                                   "[answers]\nwave_minutes = 0.02\nmax_wave = 1\n"
                                   "deadline_minutes = { orange = 0.03 }\n");
  std::ofstream(dir.file("roster.csv")) << roster(3);  // c0..c2 in duty, deputies d0..d2 outside it
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  std::string spoolDir = dir.file("sms-state/spool");
  // Texts each number got, in the order the spool files were written (delivery ids ascend).
  auto byNumber = [&] {
    std::map<std::string, std::vector<std::string>> out;
    std::map<long, std::pair<std::string, std::string>> ordered;
    for (auto& [id, v] : spool(spoolDir)) ordered[std::stol(id)] = v;
    for (auto& [id, v] : ordered) out[v.first].push_back(v.second);
    return out;
  };

  // The city observatory's orange warning, relayed by the met adapter.
  publishReferencing(broker, "met", "TY-F-1", schema::MsgType::ALERT, "nbqx@nbmb.gov.cn", {});
  REQUIRE(waitFor([&] { return byNumber().size() == 3; }, 15000));
  std::string code = answerCodeIn(byNumber()["+8613805740000"][0]);
  REQUIRE(code.size() == 4);
  // c0 answers; c1 and c2 do not, so their deputies d1 and d2 are reminded.
  httplib::Client http(readFile(dir.file("sms-state/callbacks.url")));
  REQUIRE(http.Get(("/mo?from=%2B8613805740000&to=12379&text=" + code).c_str()));
  REQUIRE(waitFor([&] { return byNumber().size() == 5; }, 20000));
  auto before = byNumber();
  CHECK(before.count("+8613905740001") == 1);
  CHECK(before.count("+8613905740002") == 1);
  CHECK(before.count("+8613905740000") == 0);

  // An update relayed through another agency's adapter names the warning by its CAP sender.
  publishReferencing(broker, "fire", "TY-F-2", schema::MsgType::UPDATE, "nbqx@nbmb.gov.cn",
                     {{"nbqx@nbmb.gov.cn", "TY-F-1"}});
  REQUIRE(waitFor(
      [&] {
        auto now = byNumber();
        for (auto& [number, texts] : before)
          if (now[number].size() != texts.size() + 1) return false;
        return true;
      },
      15000));
  auto afterUpdate = byNumber();
  CHECK(afterUpdate.size() == 5);  // nobody new: d0 is still not woken (c0 answered)
  for (auto number : {"+8613805740000", "+8613805740001", "+8613805740002"}) {
    INFO(number << ": " << afterUpdate[number].back());
    CHECK(afterUpdate[number].back().find("TY-F-2") != std::string::npos);
    CHECK(answerCodeIn(afterUpdate[number].back()) == code);  // the code they already have
  }

  // The provincial observatory cancels through yet another adapter (its own CAP sender), naming both.
  publishReferencing(broker, "fire", "TY-F-3", schema::MsgType::CANCEL, "zjqx@zjmb.gov.cn",
                     {{"nbqx@nbmb.gov.cn", "TY-F-1"}, {"nbqx@nbmb.gov.cn", "TY-F-2"}});
  REQUIRE(waitFor(
      [&] {
        auto now = byNumber();
        for (auto& [number, texts] : afterUpdate)
          if (now[number].size() != texts.size() + 1) return false;
        return true;
      },
      15000));
  // Would anybody get it twice, or somebody who never got the warning get it? Give the sender a moment.
  waitFor([] { return false; }, 1500);
  auto after = byNumber();
  CHECK(after.size() == 5);
  for (auto& [number, texts] : afterUpdate) {
    std::string all;
    for (auto& t : after[number]) all += t + "\n";
    INFO(number << " got:\n" << all);
    REQUIRE(after[number].size() == texts.size() + 1);  // exactly one cancel each, deputies included
    CHECK(after[number].back().find("TY-F-3") != std::string::npos);
  }
  CHECK(sms.stop() == 0);
  std::string log = sms.log();
  CHECK(log.find("cancelled by fire/TY-F-3") != std::string::npos);
}

TEST_CASE("sms: an unanswered drill never escalates to a deputy outside the drill", "[sms][drill]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  setup.rulesToml = R"(
[destinations."sms:drill"]
accept_status = ["exercise"]

[[rule]]
name = "drills"
status = ["exercise"]
kind = ["warning"]
to = ["sms:drill"]
)";
  BrokerProcess broker(dir, setup);
  broker.start();
  std::string config = writeConfig(dir, broker,
                                   "[answers]\nwave_minutes = 0.01\nmax_wave = 2\n"
                                   "deadline_minutes = { orange = 0.01 }\n");
  // p0's deputy is p1, inside the drill; p1's deputy and superior are real duty officers outside it.
  std::ofstream(dir.file("roster.csv")) << "id,name,mobile,roles,admin_code,groups,deputy,superior,language\n"
                                           "p0,演练甲,13805740100,duty-officer,330212,drill,p1,,\n"
                                           "p1,演练乙,13805740101,duty-officer,330212,drill,r0,r1,\n"
                                           "r0,值班员,13805740200,duty-officer,330212,duty,,,\n"
                                           "r1,带班领导,13805740201,duty-leader,330212,duty,,,\n";
  REQUIRE(runCommand(kSms + " --config " + config + " roster import " + dir.file("roster.csv")).status == 0);
  ChildProcess sms({kSms, "--config", config}, dir.file("sms.log"));
  REQUIRE(waitForFile(dir.file("sms-state/callbacks.url")));
  {
    Client met(broker.clientOptions("met"));
    auto w = edited(sampleWarning("EX-ESC-1", "typhoon", schema::Colour::ORANGE, "330212", nowMs() + 3600000),
                    [](schema::Message::Builder m) { m.setStatus(schema::Status::EXERCISE); });
    met.publish(w.asBytes());
    REQUIRE(waitFor([&] { return met.pending() == 0; }, 10000, &met));
  }
  // Nobody answers. p0's chain escalates to p1 (a participant, who already has it); p1's chain stops
  // at the edge of the drill, twice (deputy, then superior), and says so.
  REQUIRE(waitFor(
      [&] {
        std::string log = sms.log();
        return log.find("deputy r0 is not among its recipients: not escalated") != std::string::npos &&
               log.find("superior r1 is not among its recipients: not escalated") != std::string::npos;
      },
      20000));
  std::set<std::string> to;
  for (auto& [id, v] : spool(dir.file("sms-state/spool"))) to.insert(v.first);
  CHECK(to == std::set<std::string>{"+8613805740100", "+8613805740101"});
  CHECK(sms.stop() == 0);
}
