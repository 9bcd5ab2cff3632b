// Feed health that tells the whole truth, with the real alertbusd and real adapters: a watched directory
// or stdin quiet for stale_after_s is stale, an HTTP 200 whose body cannot be read is down with the reason,
// a killed adapter's feeds show as unknown since it went, and every such change (and each recovery) is a
// system message from the reserved sender `broker`, routed by the sample rules to the operations monitor.
#include <catch2/catch.hpp>
#include <capnp/serialize.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/integration/adapter_harness.h"

using namespace alertbus;
using namespace alertbus::test;
namespace fs = std::filesystem;

namespace {

const std::string kMet = ALERTBUS_MET_BIN;
const std::string kMaritime = ALERTBUS_MARITIME_BIN;

std::string readText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The default test agencies (plus a maritime adapter) with the sample rules of config/rules.toml, so the
// broker's system messages are routed the way a bureau's would be.
BrokerSetup sampleRulesSetup() {
  BrokerSetup s = defaultSetup();
  s.agencies.push_back({"maritime", "adapter", {"*"}, {}, {"maritime-watch"}});
  s.rulesToml = readText(std::string(ALERTBUS_SOURCE_DIR) + "/config/rules.toml");
  return s;
}

// An admin client that keeps every system message the broker journals as sender `broker` (with the
// destinations the rules gave it) and asks for the broker's status.
class SystemTail {
 public:
  struct Msg {
    std::string id, narrative, incident;
    std::vector<std::string> targets;  // every "outlet:target" (a tail sees them all)
  };

  explicit SystemTail(const BrokerProcess& broker) {
    client_ = std::make_unique<Client>(broker.clientOptions("admin"));
    client_->onDeliver = [this](const Delivery& d) {
      if (d.sender == "broker") {
        auto m = d.message;
        Msg x;
        x.id = m.getId().cStr();
        x.incident = m.getIncident().cStr();
        if (m.getPayload().isSitrep()) x.narrative = m.getPayload().getSitrep().getNarrative().cStr();
        x.targets = d.targets;
        messages.push_back(std::move(x));
      }
      client_->ack(d.seq);
    };
    client_->onAdminReply = [this](uint64_t token, bool, const std::string& json) {
      if (token == statusToken_) lastStatus_ = json;
    };
    client_->subscribe("*", 1000, 1);
  }

  bool waitFor(const std::function<bool()>& cond, int timeoutMs) { return test::waitFor(cond, timeoutMs, client_.get()); }

  // The first system message whose narrative contains every one of `parts`; nullptr if none yet.
  const Msg* find(std::initializer_list<std::string> parts) const {
    for (auto& m : messages) {
      bool all = true;
      for (auto& p : parts) all = all && m.narrative.find(p) != std::string::npos;
      if (all) return &m;
    }
    return nullptr;
  }

  std::string status(int timeoutMs = 2000) {
    lastStatus_.clear();
    if (!waitFor([&] { return client_->connected(); }, timeoutMs)) return "";
    statusToken_ = client_->adminRequest("status", "{}");
    waitFor([&] { return !lastStatus_.empty(); }, timeoutMs);
    return lastStatus_;
  }

  // The status entry of one feed of `agency` ({} if not reported).
  nlohmann::json feedOf(const std::string& agency, const std::string& feed) {
    auto j = nlohmann::json::parse(status(), nullptr, false);
    if (j.is_discarded()) return {};
    for (auto& a : j["agencies"])
      if (a.value("agency", "") == agency && a.contains("feeds"))
        for (auto& f : a["feeds"])
          if (f.value("name", "") == feed) return f;
    return {};
  }
  std::string stateOf(const std::string& agency, const std::string& feed) {
    auto f = feedOf(agency, feed);
    return f.is_null() ? "" : f.value("state", "") + ": " + f.value("detail", "");
  }

  std::vector<Msg> messages;

 private:
  std::unique_ptr<Client> client_;
  std::string lastStatus_;
  uint64_t statusToken_ = 0;
};

// A CAP 1.2 typhoon warning for Beilun.
std::string cap(const std::string& id) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
         "  <identifier>" + id + "</identifier>\n  <sender>nbqx@nbmb.gov.cn</sender>\n"
         "  <sent>" + isoIn(-60) + "</sent>\n  <status>Actual</status>\n  <msgType>Alert</msgType>\n"
         "  <scope>Public</scope>\n"
         "  <info>\n    <language>zh-CN</language>\n    <category>Met</category>\n    <event>台风</event>\n"
         "    <urgency>Immediate</urgency>\n    <severity>Severe</severity>\n    <certainty>Observed</certainty>\n"
         "    <eventCode><valueName>alertbus</valueName><value>typhoon</value></eventCode>\n"
         "    <expires>" + isoIn(6 * 3600) + "</expires>\n    <headline>台风橙色预警</headline>\n"
         "    <area><areaDesc>北仑区</areaDesc><geocode><valueName>GB2260</valueName><value>330206</value></geocode>"
         "</area>\n  </info>\n</alert>\n";
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp", std::ios::binary) << text;
  fs::rename(path + ".tmp", path);
}

}  // namespace

TEST_CASE("feed health: a watched directory quiet for stale_after_s is stale, a file brings it back, and the "
          "operations monitor hears both", "[feed-health][adapters]") {
  TempDir dir;
  BrokerProcess broker(dir, sampleRulesSetup());
  broker.start();
  SystemTail sys(broker);
  std::string inbox = dir.file("inbox");
  std::string feed = "watch:" + inbox;
  std::string config = writeAdapterConfig(dir, broker, "met", "met",
                                          "[input]\nwatch_dir = \"" + inbox +
                                              "\"\nscan_interval_ms = 100\nstale_after_s = 1\n");
  ChildProcess met({kMet, "--config", config}, dir.file("met.log"));

  std::string st;
  REQUIRE(sys.waitFor([&] { st = sys.stateOf("met", feed); return st.rfind("stale: ", 0) == 0; }, 15000));
  CHECK_THAT(st, Catch::Contains("no input since start") && Catch::Contains("(stale_after_s = 1)"));
  REQUIRE(sys.waitFor([&] { return sys.find({"adapter met, feed " + feed + ": ", " -> stale since "}); }, 5000));
  const auto* stale = sys.find({"adapter met, feed " + feed + ": ", " -> stale since "});
  INFO(stale->narrative);
  CHECK(stale->narrative.find("no input since start") != std::string::npos);
  CHECK(stale->incident == "feed-health:met/" + feed);
  CHECK(stale->targets == std::vector<std::string>{"dashboard:ops-monitor"});

  writeFile(inbox + "/a.xml", cap("NB-STALE-1"));
  REQUIRE(sys.waitFor([&] { return sys.find({"adapter met, feed " + feed + ": stale -> up since "}); }, 15000));
  const auto* up = sys.find({"adapter met, feed " + feed + ": stale -> up since "});
  CHECK(up->targets == std::vector<std::string>{"dashboard:ops-monitor"});
  CHECK(up->id != stale->id);
  CHECK(met.stop() == 0);
}

TEST_CASE("feed health: stdin quiet for stale_after_s is stale until a line arrives", "[feed-health][adapters]") {
  TempDir dir;
  BrokerProcess broker(dir, sampleRulesSetup());
  broker.start();
  SystemTail sys(broker);
  std::string fifo = dir.file("ais.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string config = writeAdapterConfig(dir, broker, "maritime", "maritime", "[input]\nstale_after_s = 1\n");
  // The receiver's stream as the README runs it (`nc receiver 4001 | alertbus-maritime --stdin`), held open.
  ChildProcess maritime({"/bin/sh", "-c", "exec " + kMaritime + " --config " + config + " --stdin < " + fifo},
                        dir.file("maritime.log"));
  int writer = ::open(fifo.c_str(), O_WRONLY);  // returns once the adapter's shell has opened it
  REQUIRE(writer >= 0);

  std::string st;
  REQUIRE(sys.waitFor([&] { st = sys.stateOf("maritime", "stdin"); return st.rfind("stale: ", 0) == 0; }, 15000));
  CHECK_THAT(st, Catch::Contains("(stale_after_s = 1)"));
  REQUIRE(sys.waitFor([&] { return sys.find({"adapter maritime, feed stdin: ", " -> stale since "}); }, 5000));

  std::string line = "!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\n";
  REQUIRE(::write(writer, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  CHECK(sys.waitFor([&] { return sys.stateOf("maritime", "stdin") == "up: "; }, 15000));
  CHECK(sys.waitFor([&] { return sys.find({"adapter maritime, feed stdin: stale -> up since "}) != nullptr; }, 5000));
  ::close(writer);
  CHECK(maritime.stop() == 0);
}

TEST_CASE("feed health: an HTTP 200 whose body cannot be read is down with the reason, not no alerts",
          "[feed-health][adapters]") {
  TempDir dir;
  BrokerProcess broker(dir, sampleRulesSetup());
  broker.start();
  SystemTail sys(broker);

  // The agency's web server answers 200 with an error page (and an ETag, so a conditional request that
  // still carried it would hear 304 "not modified" and wrongly count as a success).
  std::mutex mu;
  bool garbage = true;
  int requests = 0, conditionalOnGarbage = 0;
  httplib::Server server;
  server.Get("/atom.xml", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    ++requests;
    std::string etag = garbage ? "\"err1\"" : "\"ok1\"";
    if (req.get_header_value("If-None-Match") == etag) {
      if (garbage) ++conditionalOnGarbage;
      res.status = 304;
      return;
    }
    res.set_header("ETag", etag);
    if (garbage)
      res.set_content("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", "text/html");
    else
      res.set_content("<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>nbmb</title>"
                      "<id>urn:feed</id></feed>",
                      "application/atom+xml");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serverThread([&] { server.listen_after_bind(); });
  struct Stop {
    httplib::Server& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stopServer{server, serverThread};

  std::string config = writeAdapterConfig(dir, broker, "met", "met",
                                          "[[feed]]\nname = \"nbmb-atom\"\nurl = \"http://127.0.0.1:" +
                                              std::to_string(port) + "/atom.xml\"\ninterval_s = 1\ntimeout_s = 2\n");
  ChildProcess met({kMet, "--config", config}, dir.file("met.log"));

  std::string st;
  REQUIRE(sys.waitFor([&] { st = sys.stateOf("met", "nbmb-atom"); return st.rfind("down: ", 0) == 0; }, 15000));
  INFO(st);
  CHECK_THAT(st, Catch::StartsWith("down: HTTP 200 body unreadable: ") && Catch::Contains("unsupported format"));
  REQUIRE(sys.waitFor([&] { return sys.find({"adapter met, feed nbmb-atom: ", " -> down since "}); }, 5000));
  const auto* down = sys.find({"adapter met, feed nbmb-atom: ", " -> down since "});
  INFO(down->narrative);
  CHECK(down->narrative.find("HTTP 200 body unreadable") != std::string::npos);
  CHECK(down->narrative.find("; never read") != std::string::npos);
  CHECK(down->targets == std::vector<std::string>{"dashboard:ops-monitor"});

  // It stays down poll after poll: the validators of an unreadable body are never sent back.
  REQUIRE(sys.waitFor([&] { std::lock_guard<std::mutex> lock(mu); return requests >= 4; }, 15000));
  CHECK(sys.stateOf("met", "nbmb-atom").rfind("down: HTTP 200 body unreadable: ", 0) == 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(conditionalOnGarbage == 0);
    garbage = false;  // the feed is repaired: an Atom feed with no entries is "no alerts", up
  }
  CHECK(sys.waitFor([&] { return sys.stateOf("met", "nbmb-atom") == "up: "; }, 15000));
  CHECK(sys.waitFor([&] { return sys.find({"adapter met, feed nbmb-atom: down -> up since "}) != nullptr; }, 5000));
  CHECK(met.stop() == 0);
  CHECK(met.log().find("HTTP 200 body unreadable") != std::string::npos);
}

TEST_CASE("feed health: a killed adapter's feeds are unknown since it went, the monitor hears it go and come "
          "back", "[feed-health][adapters]") {
  TempDir dir;
  BrokerProcess broker(dir, sampleRulesSetup());
  broker.start();
  SystemTail sys(broker);
  std::string inbox = dir.file("inbox");
  std::string feed = "watch:" + inbox;
  std::string config = writeAdapterConfig(dir, broker, "met", "met",
                                          "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n");
  auto met = std::make_unique<ChildProcess>(std::vector<std::string>{kMet, "--config", config}, dir.file("met.log"));
  REQUIRE(sys.waitFor([&] { return sys.stateOf("met", feed) == "up: "; }, 15000));
  CHECK(sys.messages.empty());  // a first connection and a working input are no news

  met->kill9();
  nlohmann::json f;
  REQUIRE(sys.waitFor([&] { f = sys.feedOf("met", feed); return f.value("state", "") == "unknown"; }, 15000));
  INFO(f.dump());
  CHECK(f.value("lastState", "") == "up");
  CHECK_THAT(f.value("detail", ""), Catch::StartsWith("adapter disconnected ") && Catch::EndsWith("; last reported up"));
  auto j = nlohmann::json::parse(sys.status());
  for (auto& a : j["agencies"])
    if (a.value("agency", "") == "met") {
      CHECK_FALSE(a.value("connected", true));
      CHECK(a.value("disconnectedMs", int64_t(0)) == f.value("sinceMs", int64_t(-1)));
    }
  REQUIRE(sys.waitFor([&] { return sys.find({"adapter met: up -> down since "}); }, 5000));
  const auto* down = sys.find({"adapter met: up -> down since "});
  CHECK(down->narrative.find("session closed: silent for more than 3 heartbeats") != std::string::npos);
  CHECK(down->incident == "feed-health:met");
  CHECK(down->targets == std::vector<std::string>{"dashboard:ops-monitor"});
  // `alertbus status` says so too.
  auto cli = runCommand(std::string(ALERTBUS_CLI_BIN) + " status --endpoint " + broker.endpoint() + " --server-key " +
                        dir.file("broker.pub") + " --key " + broker.keyFileOf("admin"));
  INFO(cli.out);
  CHECK(cli.status == 0);
  CHECK(cli.out.find("unknown " + feed) != std::string::npos);
  CHECK(cli.out.find("adapter disconnected ") != std::string::npos);

  // Nobody may speak as the broker: a publish claiming sender `broker` is refused.
  {
    Client water(broker.clientOptions("water"));
    std::string code;
    water.onReject = [&](uint64_t, const RejectInfo& r) { code = r.code + " " + r.field + "=" + r.value; };
    auto bytes = sampleWarning("SPOOF-1", "flood");
    capnp::FlatArrayMessageReader reader(bytes);
    capnp::MallocMessageBuilder b;
    b.setRoot(reader.getRoot<schema::Message>());
    b.getRoot<schema::Message>().setSender("broker");
    water.publish(b);
    CHECK(waitFor([&] { return !code.empty(); }, 10000, &water));
    CHECK(code == "invalid sender=broker");
  }

  met = std::make_unique<ChildProcess>(std::vector<std::string>{kMet, "--config", config}, dir.file("met2.log"));
  REQUIRE(sys.waitFor([&] { return sys.find({"adapter met: down -> up since "}); }, 15000));
  const auto* up = sys.find({"adapter met: down -> up since "});
  CHECK(up->targets == std::vector<std::string>{"dashboard:ops-monitor"});
  CHECK(sys.waitFor([&] { return sys.stateOf("met", feed) == "up: "; }, 15000));
  CHECK(sys.messages.size() == 2);  // the feed was up before and after: no feed message
  CHECK(met->stop() == 0);
}
