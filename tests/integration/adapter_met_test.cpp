// alertbus-met as a partner agency runs it, against a real alertbusd: the watched directory (done/,
// failed/, reason files), duplicates and expired alerts, an HTTP feed polled with conditional requests
// and reported down when it fails, stdin, --dry-run without a broker, config errors.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <chrono>
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

// A CAP 1.2 typhoon warning for Beilun, expiring `expiresIn` seconds from now.
std::string cap(const std::string& id, int64_t expiresIn = 6 * 3600, const std::string& msgType = "Alert",
                const std::string& references = "") {
  std::string refs = references.empty() ? "" : "  <references>" + references + "</references>\n";
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
         "  <identifier>" + id + "</identifier>\n  <sender>nbqx@nbmb.gov.cn</sender>\n"
         "  <sent>" + isoIn(-60) + "</sent>\n  <status>Actual</status>\n  <msgType>" + msgType + "</msgType>\n"
         "  <scope>Public</scope>\n" + refs +
         "  <info>\n    <language>zh-CN</language>\n    <category>Met</category>\n    <event>台风</event>\n"
         "    <urgency>Immediate</urgency>\n    <severity>Severe</severity>\n    <certainty>Observed</certainty>\n"
         "    <eventCode><valueName>alertbus</valueName><value>typhoon</value></eventCode>\n"
         "    <expires>" + isoIn(expiresIn) + "</expires>\n    <headline>台风橙色预警</headline>\n"
         "    <area><areaDesc>北仑区</areaDesc><geocode><valueName>GB2260</valueName><value>330206</value></geocode>"
         "</area>\n  </info>\n</alert>\n";
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp", std::ios::binary) << text;
  fs::rename(path + ".tmp", path);  // the documented way to drop a file: write elsewhere, rename in
}

std::string readText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("met: watched directory publishes once, moves files to done/ or failed/ with reasons", "[adapters][met]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  std::string inbox = dir.file("inbox");
  std::string config = writeAdapterConfig(dir, broker, "met", "met",
                                          "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n");
  ChildProcess met({kMet, "--config", config}, dir.file("met.log"));
  REQUIRE(waitForFile(inbox + "/done"));

  writeFile(inbox + "/a.xml", cap("NB-TY-1"));
  writeFile(inbox + "/expired.xml", cap("NB-TY-OLD", -3600));
  writeFile(inbox + "/broken.xml", "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</ident");
  writeFile(inbox + "/xxe.xml",
            "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><alert>&x;</alert>");
  REQUIRE(tail.waitFor([&] { return tail.count("NB-TY-1") == 1; }, 15000));
  REQUIRE(waitForFile(inbox + "/failed/xxe.xml.reason"));
  REQUIRE(waitForFile(inbox + "/failed/broken.xml.reason"));
  REQUIRE(waitForFile(inbox + "/done/expired.xml.reason"));
  CHECK(fs::exists(inbox + "/done/a.xml"));
  CHECK_FALSE(fs::exists(inbox + "/done/a.xml.reason"));  // all of it taken: nothing to explain
  CHECK(readText(inbox + "/failed/xxe.xml.reason").find("refused") != std::string::npos);
  CHECK(readText(inbox + "/failed/broken.xml.reason").find("broken.xml") != std::string::npos);
  CHECK(readText(inbox + "/done/expired.xml.reason").find("already expired") != std::string::npos);

  // The same alert dropped again (another file name) and an update of it: the update is published,
  // the repeat is not.
  writeFile(inbox + "/a-again.xml", cap("NB-TY-1"));
  writeFile(inbox + "/b.xml", cap("NB-TY-2", 6 * 3600, "Update", "nbqx@nbmb.gov.cn,NB-TY-1," + isoIn(-60)));
  REQUIRE(tail.waitFor([&] { return tail.count("NB-TY-2") == 1; }, 15000));
  REQUIRE(waitForFile(inbox + "/done/a-again.xml"));
  // Flush anything in flight: the adapter is idle once both files are in done/.
  tail.waitFor([] { return false; }, 300);
  CHECK(tail.count("NB-TY-1") == 1);
  CHECK(tail.count("NB-TY-OLD") == 0);
  CHECK(tail.json("NB-TY-2").find("\"msgType\":\"update\"") != std::string::npos);
  CHECK(tail.json("NB-TY-2").find("\"id\":\"NB-TY-1\"") != std::string::npos);  // references what it updates
  // Provenance: the original bytes and content type travel with the message.
  CHECK(tail.json("NB-TY-1").find("\"contentType\":\"application/cap+xml\"") != std::string::npos);

  // The broker knows the adapter's watched directory is up.
  CHECK(feedState(tail.status(), "met", "watch:" + inbox) == "up: ");
  // And an operator sees it in `alertbus status`.
  auto st = runCommand(std::string(ALERTBUS_CLI_BIN) + " status --endpoint " + broker.endpoint() + " --server-key " +
                       dir.file("broker.pub") + " --key " + broker.keyFileOf("admin"));
  INFO(st.out);
  CHECK(st.status == 0);
  CHECK(st.out.find("up    watch:" + inbox) != std::string::npos);
  CHECK(met.stop() == 0);
}

TEST_CASE("met: a restarted adapter does not publish again what it already published", "[adapters][met]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  std::string config = writeAdapterConfig(dir, broker, "met", "met", "");
  writeFile(dir.file("one.xml"), cap("NB-RS-1"));
  auto first = runCommand(kMet + " --config " + config + " --once " + dir.file("one.xml"));
  INFO(first.out);
  REQUIRE(first.status == 0);
  auto second = runCommand(kMet + " --config " + config + " --once " + dir.file("one.xml"));
  INFO(second.out);
  REQUIRE(second.status == 0);
  CHECK(second.out.find("0 published, 1 already published") != std::string::npos);
  REQUIRE(tail.waitFor([&] { return tail.count("NB-RS-1") == 1; }, 10000));
  tail.waitFor([] { return false; }, 300);
  CHECK(tail.count("NB-RS-1") == 1);
}

TEST_CASE("met: an HTTP feed is polled with conditional requests and reported down when it fails",
          "[adapters][met]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);

  // The agency's feed: an Atom feed with one embedded CAP alert, served with an ETag.
  std::mutex mu;
  int status = 200, requests = 0, notModified = 0;
  std::string etag = "\"v1\"";
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>nbmb</title><id>urn:feed</id>"
                     "<updated>" + isoIn(-60) + "</updated><entry><id>urn:e1</id><title>台风</title>"
                     "<updated>" + isoIn(-60) + "</updated><content type=\"application/cap+xml\">" +
                     cap("NB-FEED-1").substr(39) + "</content></entry></feed>\n";
  httplib::Server server;
  server.Get("/atom.xml", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    ++requests;
    if (status != 200) {
      res.status = status;
      return;
    }
    if (req.get_header_value("If-None-Match") == etag) {
      ++notModified;
      res.status = 304;
      return;
    }
    res.set_header("ETag", etag);
    res.set_content(body, "application/atom+xml");
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

  std::string config = writeAdapterConfig(
      dir, broker, "met", "met",
      "[[feed]]\nname = \"nbmb-atom\"\nurl = \"http://127.0.0.1:" + std::to_string(port) +
          "/atom.xml\"\ninterval_s = 1\ntimeout_s = 2\n");
  ChildProcess met({kMet, "--config", config}, dir.file("met.log"));
  REQUIRE(tail.waitFor([&] { return tail.count("NB-FEED-1") == 1; }, 15000));
  REQUIRE(tail.waitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return notModified >= 2;
      },
      15000));
  CHECK(tail.count("NB-FEED-1") == 1);
  std::string st;
  CHECK(tail.waitFor([&] { st = tail.status(1000); return feedState(st, "met", "nbmb-atom") == "up: "; }, 5000));
  INFO(st);

  // The feed fails: the broker hears "down" with the reason, never "no alerts".
  {
    std::lock_guard<std::mutex> lock(mu);
    status = 503;
  }
  CHECK(tail.waitFor(
      [&] {
        st = feedState(tail.status(1000), "met", "nbmb-atom");
        return st == "down: HTTP 503";
      },
      15000));
  INFO(st);
  // And recovers.
  {
    std::lock_guard<std::mutex> lock(mu);
    status = 200;
  }
  CHECK(tail.waitFor([&] { return feedState(tail.status(1000), "met", "nbmb-atom") == "up: "; }, 15000));
  CHECK(met.stop() == 0);
  CHECK(met.log().find("nbmb-atom") != std::string::npos);
}

TEST_CASE("met: --dry-run prints JSON without a broker and stdin is read to its end", "[adapters][met]") {
  TempDir dir;
  std::ofstream(dir.file("met.toml")) << "[broker]\nendpoint = \"tcp://127.0.0.1:1\"\n[state]\ndir = \""
                                      << dir.file("state") << "\"\n";
  writeFile(dir.file("a.xml"), cap("NB-DRY-1"));
  auto r = runCommand(kMet + " --config " + dir.file("met.toml") + " --dry-run --stdin < " + dir.file("a.xml"));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out.find("\"id\":\"NB-DRY-1\"") != std::string::npos);
  CHECK(r.out.find("\"source\":\"stdin\"") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("state")));  // a dry run changes nothing
}

TEST_CASE("met: config errors name file and line and stop the adapter before it reads anything",
          "[adapters][met]") {
  TempDir dir;
  std::ofstream(dir.file("met.toml")) << "[broker]\nendpoint = \"tcp://127.0.0.1:1\"\nheartbeat = 5\n"
                                         "[input]\nscan_interval_ms = 0\n[[feed]]\nname = \"x\"\nurl = \"ftp://a\"\n";
  auto r = runCommand(kMet + " --config " + dir.file("met.toml") + " --dry-run");
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK(r.out.find("met.toml:3: unknown key 'broker.heartbeat'") != std::string::npos);
  CHECK(r.out.find("met.toml:5: input.scan_interval_ms = 0: must be in 50..3600000") != std::string::npos);
  CHECK(r.out.find("url 'ftp://a' is not an http:// or https:// URL") != std::string::npos);
}

TEST_CASE("met: --check prints per file what is accepted and rejected and why", "[adapters][met]") {
  TempDir dir;
  std::ofstream(dir.file("met.toml")) << "[state]\ndir = \"" << dir.file("state") << "\"\n";
  fs::create_directories(dir.file("corpus"));
  writeFile(dir.file("corpus/good.xml"), cap("NB-C-1"));
  writeFile(dir.file("corpus/bad.xml"), "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"></alert>");
  auto r = runCommand(kMet + " --config " + dir.file("met.toml") + " --check " + dir.file("corpus"));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out.find("good.xml: 1 input(s) accepted, 0 rejected; 1 message(s) accepted") != std::string::npos);
  CHECK(r.out.find("bad.xml: 0 input(s) accepted, 1 rejected; 0 message(s) accepted") != std::string::npos);
  CHECK(r.out.find("identifier") != std::string::npos);
  CHECK(r.out.find("2 file(s): 1 message(s) accepted, 1 rejected; inputs (records, lines, documents): 1 accepted, 1 rejected") != std::string::npos);
}

TEST_CASE("met: an alert dropped while the broker is down is delivered when it is back", "[adapters][met]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  std::string inbox = dir.file("inbox");
  std::string config = writeAdapterConfig(dir, broker, "met", "met",
                                          "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n");
  ChildProcess met({kMet, "--config", config}, dir.file("met.log"));
  REQUIRE(waitForFile(inbox + "/done"));
  {
    JournalTail tail(broker);
    writeFile(inbox + "/first.xml", cap("NB-OUT-1"));
    REQUIRE(tail.waitFor([&] { return tail.count("NB-OUT-1") == 1; }, 15000));
  }
  broker.kill9();
  writeFile(inbox + "/second.xml", cap("NB-OUT-2"));
  // Taken from the directory (into the adapter's outbox) although nobody acknowledges it yet.
  REQUIRE(waitForFile(inbox + "/done/second.xml"));
  broker.restart();
  JournalTail tail(broker);
  REQUIRE(tail.waitFor([&] { return tail.count("NB-OUT-2") == 1; }, 20000));
  CHECK(tail.count("NB-OUT-1") == 1);
  CHECK(met.stop() == 0);
}

TEST_CASE("met: a watched directory that disappears is reported down, not as no alerts", "[adapters][met]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  std::string inbox = dir.file("inbox");
  std::string config = writeAdapterConfig(dir, broker, "met", "met",
                                          "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n");
  ChildProcess met({kMet, "--config", config}, dir.file("met.log"));
  REQUIRE(tail.waitFor([&] { return feedState(tail.status(1000), "met", "watch:" + inbox) == "up: "; }, 15000));
  fs::remove_all(inbox);
  std::string st;
  CHECK(tail.waitFor(
      [&] {
        st = feedState(tail.status(1000), "met", "watch:" + inbox);
        return st.rfind("down: ", 0) == 0;
      },
      15000));
  INFO(st);
  CHECK(st.find("cannot read") != std::string::npos);
  CHECK(met.stop() == 0);
}
