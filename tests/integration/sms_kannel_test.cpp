// Black-box tests of the SMS outlet's senders and callbacks against a real Kannel 1.4.5 (bearerbox +
// smsbox) with Kannel's fakesmsc and an SMPP simulator behind it (tests/integration/kannel_process.h):
// Chinese text round trip (UTF-8 -> UCS-2 on the air), delivery reports with our delivery id, concatenated
// messages, failed receipts and submit rejections, replies, and Kannel's refusals and absence.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "outlets/sms/callbacks.h"
#include "outlets/sms/kannel_sender.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/kannel_process.h"

using namespace alertbus::sms;
using namespace alertbus::test;

namespace {

const std::string kWarning =
    "【宁波市防汛防台指挥部】台风红色预警：第12号台风“梅花”将于今夜在象山至舟山一带登陆，请立即到岗。回复1确认";

// The outlet's callback endpoints, on a port the OS chooses: /dlr and /mo parsed with callbacks.h.
class CallbackServer {
 public:
  CallbackServer() {
    server_.Get("/dlr", [this](const httplib::Request& req, httplib::Response& res) {
      DeliveryReport r;
      CallbackError err;
      std::lock_guard<std::mutex> lock(mutex_);
      if (parseDeliveryReport(req.params, r, err))
        reports_.push_back(r);
      else
        errors_.push_back(err.message("dlr " + req.target));
      res.set_content("ok", "text/plain");
    });
    server_.Get("/mo", [this](const httplib::Request& req, httplib::Response& res) {
      InboundSms in;
      CallbackError err;
      std::lock_guard<std::mutex> lock(mutex_);
      if (parseInboundSms(req.params, in, err))
        replies_.push_back(in);
      else
        errors_.push_back(err.message("mo " + req.target));
      res.set_content("", "text/plain");  // empty: smsbox sends nothing back to the handset
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~CallbackServer() {
    server_.stop();
    thread_.join();
  }
  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<DeliveryReport> reportsFor(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<DeliveryReport> v;
    for (auto& r : reports_)
      if (r.deliveryId == id) v.push_back(r);
    return v;
  }
  bool has(const std::string& id, int type) {
    for (auto& r : reportsFor(id))
      if (r.type == type) return true;
    return false;
  }
  std::vector<InboundSms> replies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return replies_;
  }
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(mutex_);
    return errors_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<DeliveryReport> reports_;
  std::vector<InboundSms> replies_;
  std::vector<std::string> errors_;
};

KannelOptions senderOptions(const KannelProcess& k, const std::string& smsc, const std::string& callbackBase) {
  KannelOptions o;
  o.port = k.sendsmsPort();
  o.username = k.setup().username;
  o.password = k.setup().password;
  o.from = "12110";
  o.smsc = smsc;
  o.callbackBaseUrl = callbackBase;
  return o;
}

SmsRequest request(const std::string& id, const std::string& to, const std::string& text, int maxParts = 1) {
  SmsRequest r;
  r.deliveryId = id;
  r.to = to;
  r.text = text;
  r.maxParts = maxParts;
  r.wantReports = true;
  return r;
}

std::string repeat(const std::string& s, int n) {
  std::string r;
  for (int i = 0; i < n; ++i) r += s;
  return r;
}

}  // namespace

TEST_CASE("sms-kannel: sendsms answers are classified and the request is encoded once", "[sms][kannel]") {
  using K = SubmitResult::Kind;
  CHECK(classifyKannelAnswer(202, "0: Accepted for delivery").kind == K::accepted);
  CHECK(classifyKannelAnswer(202, "Sent.").kind == K::accepted);
  CHECK(classifyKannelAnswer(202, "3: Queued for later delivery").kind == K::accepted);
  CHECK(classifyKannelAnswer(503, "Temporal failure, try again later.").kind == K::temporary);
  CHECK(classifyKannelAnswer(403, "Not routable. Do not try again.").kind == K::permanent);
  CHECK(classifyKannelAnswer(403, "Authorization failed for sendsms").kind == K::permanent);
  CHECK(classifyKannelAnswer(400, "Number(s) has/have been denied by white- and/or black-lists.").kind ==
        K::permanent);
  CHECK(classifyKannelAnswer(429, "").kind == K::temporary);
  auto r = classifyKannelAnswer(403, "Not routable. Do not try again.\n   ");
  CHECK(r.detail == "kannel HTTP 403: Not routable. Do not try again.");
  CHECK(r.httpStatus == 403);

  CHECK(chooseKannelCoding("Typhoon warning: reply 1\n") == 0);
  CHECK(chooseKannelCoding("reply `1`") == 2);
  CHECK(chooseKannelCoding(kWarning) == 2);

  KannelOptions o;
  o.username = "u";
  o.password = "p&w";
  o.from = "12110";
  o.callbackBaseUrl = "http://10.0.0.5:8088";
  KannelSender s(o);
  std::string t = s.requestTarget(request("d-7", "+8613800000001", "确认", 3));
  CHECK(t ==
        "/cgi-bin/sendsms?username=u&password=p%26w&to=%2B8613800000001&text=%E7%A1%AE%E8%AE%A4&coding=2"
        "&charset=UTF-8&max-messages=3&from=12110&dlr-mask=27&dlr-url=http%3A%2F%2F10.0.0.5%3A8088%2Fdlr%3Fid%3Dd-7"
        "%26type%3D%25d%26reply%3D%25A%26to%3D%25p%26ts%3D%25T");
  SECTION("invalid requests are permanent without contacting Kannel") {
    CHECK(s.submit(request("a b", "+8613800000001", "x")).kind == K::permanent);
    CHECK(s.submit(request("d-1", "abc", "x")).kind == K::permanent);
    CHECK(s.submit(request("d-1", "+8613800000001", "")).kind == K::permanent);
  }
}

TEST_CASE("sms-kannel: a Chinese typhoon warning reaches the fake SMSC intact and its reports carry our id",
          "[sms][kannel]") {
  TempDir dir;
  CallbackServer callbacks;
  KannelSetup setup;
  setup.moUrl = callbacks.baseUrl() + moUrlPath();
  KannelProcess kannel(dir, setup);
  kannel.start();
  KannelSender sender(senderOptions(kannel, "fake", callbacks.baseUrl()));

  SECTION("one part: UCS-2 on the air, SMSC ack (8) then delivered (1)") {
    auto r = sender.submit(request("d-1", "+8613800000001", kWarning, 3));
    INFO(r.detail);
    REQUIRE(r.kind == SubmitResult::Kind::accepted);
    CHECK(r.httpStatus == 202);
    CHECK(r.detail == "kannel HTTP 202: 0: Accepted for delivery");

    REQUIRE(waitFor([&] { return !kannel.fakeSmscMessages().empty(); }, 10000));
    auto mt = kannel.fakeSmscMessages();
    REQUIRE(mt.size() == 1);
    CHECK(mt[0].from == "12110");
    CHECK(mt[0].to == "+8613800000001");
    CHECK(mt[0].type == "ucs-2");  // coding=2: fakesmsc prints the UCS-2 bytes url-encoded
    CHECK(ucs2ToUtf8(mt[0].data) == kWarning);

    INFO(kannel.logs());
    REQUIRE(waitFor([&] { return callbacks.has("d-1", 1) && callbacks.has("d-1", 8); }, 10000));
    PartReports parts(kKannelFinalReportsPerMessage);
    for (auto& rep : callbacks.reportsFor("d-1")) {
      CHECK(rep.to == "+8613800000001");
      CHECK(rep.timeMs > 0);
      if (rep.type == 8) CHECK(rep.smscStatus == "ACK");
      parts.add(rep);
    }
    CHECK(parts.state() == PartReports::State::delivered);
    CHECK(callbacks.errors().empty());
  }

  SECTION("three parts: Kannel concatenates, but asks a receipt for part 1 only") {
    std::string longText = repeat("台风红色预警，请立即到岗。", 14);  // 182 UCS-2 units: 3 parts of <= 67
    auto r = sender.submit(request("d-2", "+8613800000002", longText, 3));
    INFO(r.detail);
    REQUIRE(r.kind == SubmitResult::Kind::accepted);

    REQUIRE(waitFor([&] { return kannel.fakeSmscMessages().size() == 3; }, 10000));
    auto mt = kannel.fakeSmscMessages();
    std::string joined;
    for (int i = 0; i < 3; ++i) {
      INFO(mt[i].line);
      CHECK(mt[i].type == "udh");
      CHECK(mt[i].partCount() == 3);
      CHECK(mt[i].partIndex() == i + 1);
      CHECK(mt[i].udh[3] == mt[0].udh[3]);  // same concatenation reference
      joined += mt[i].data;
    }
    CHECK(ucs2ToUtf8(joined) == longText);

    INFO(kannel.logs());
    REQUIRE(waitFor([&] { return callbacks.has("d-2", 1) && callbacks.has("d-2", 8); }, 10000));
    // Parts 2 and 3 carry no dlr-mask (gw/sms.c sms_split): give stray reports a second to show up.
    waitFor([&] { return callbacks.reportsFor("d-2").size() > 2; }, 1000);
    auto reports = callbacks.reportsFor("d-2");
    CHECK(reports.size() == 2);
    PartReports kannelWay(kKannelFinalReportsPerMessage), perPart(3);
    for (auto& rep : reports) {
      kannelWay.add(rep);
      perPart.add(rep);
    }
    CHECK(kannelWay.state() == PartReports::State::delivered);
    CHECK(perPart.state() == PartReports::State::pending);  // what per-part counting would wrongly wait for
  }

  SECTION("a pool of four sender threads shares one KannelSender") {
    std::vector<std::thread> pool;
    std::atomic<int> accepted{0};
    for (int t = 0; t < 4; ++t)
      pool.emplace_back([&, t] {
        for (int i = 0; i < 3; ++i) {
          auto r = sender.submit(request("p-" + std::to_string(t) + "-" + std::to_string(i),
                                         "+861380000010" + std::to_string(t), kWarning, 3));
          if (r.kind == SubmitResult::Kind::accepted) ++accepted;
        }
      });
    for (auto& th : pool) th.join();
    CHECK(accepted == 12);
    INFO(kannel.logs());
    REQUIRE(waitFor(
        [&] {
          for (int t = 0; t < 4; ++t)
            for (int i = 0; i < 3; ++i)
              if (!callbacks.has("p-" + std::to_string(t) + "-" + std::to_string(i), 1)) return false;
          return true;
        },
        15000));
    // fakesmsc reads bearerbox's socket only between its 1 s polls of stdin: the reports (generated when
    // bearerbox writes) can be ahead of its log.
    CHECK(waitFor([&] { return kannel.fakeSmscMessages().size() == 12; }, 5000));
  }

  SECTION("the SMSC is down: Kannel queues the message, which is accepted") {
    kannel.disconnectFakeSmsc();
    REQUIRE(waitFor([&] { return kannel.status().find("(online") == std::string::npos; }, 10000));
    auto r = sender.submit(request("d-3", "+8613800000003", kWarning));
    CHECK(r.kind == SubmitResult::Kind::accepted);
    CHECK(r.detail == "kannel HTTP 202: 3: Queued for later delivery");
  }

  SECTION("a reply typed on the handset reaches the sms-service get-url with its Chinese text") {
    kannel.injectReply("+8613800000001", "12110", "1确认，已到岗");
    INFO(kannel.logs());
    REQUIRE(waitFor([&] { return !callbacks.replies().empty() || !callbacks.errors().empty(); }, 10000));
    INFO((callbacks.errors().empty() ? "" : callbacks.errors()[0]));
    REQUIRE(callbacks.replies().size() == 1);
    auto in = callbacks.replies()[0];
    CHECK(in.from == "+8613800000001");
    CHECK(in.to == "12110");
    CHECK(in.text == "1确认，已到岗");
    CHECK(in.timeMs > 0);
  }
}

TEST_CASE("sms-kannel: the SMPP SMSC's undeliverable receipt and submit rejection come back as final failures",
          "[sms][kannel]") {
  TempDir dir;
  CallbackServer callbacks;
  KannelSetup setup;
  setup.fakeSmsc = false;
  setup.smppSmsc = true;
  setup.smppRules = {{"+8613900000002", "undeliverable"}, {"+8613900000003", "rejected"}};
  KannelProcess kannel(dir, setup);
  kannel.start();
  KannelSender sender(senderOptions(kannel, "smpp", callbacks.baseUrl()));

  // Kannel answers sendsms before the SMSC does: all three are accepted; the outcome comes as reports.
  for (auto [id, to] : {std::pair<std::string, std::string>{"s-1", "+8613900000001"},
                        {"s-2", "+8613900000002"},
                        {"s-3", "+8613900000003"}}) {
    auto r = sender.submit(request(id, to, kWarning, 3));
    INFO(id << ": " << r.detail);
    CHECK(r.kind == SubmitResult::Kind::accepted);
  }
  INFO(kannel.logs());
  REQUIRE(waitFor([&] { return callbacks.has("s-1", 1) && callbacks.has("s-2", 2) && callbacks.has("s-3", 16); },
                  10000));

  auto final = [&](const std::string& id) {
    for (auto& r : callbacks.reportsFor(id))
      if (isFinal(r.status)) return r;
    FAIL("no final report for " << id);
    return DeliveryReport{};
  };
  auto delivered = final("s-1");
  CHECK(delivered.status == DlrStatus::delivered);
  CHECK(delivered.smscStatus == "DELIVRD");
  CHECK(delivered.errorCode == "000");
  CHECK(!delivered.smscMessageId.empty());

  auto undeliverable = final("s-2");
  CHECK(undeliverable.status == DlrStatus::failed);
  CHECK(undeliverable.smscStatus == "UNDELIV");
  CHECK(undeliverable.errorCode == "001");

  auto rejected = final("s-3");
  CHECK(rejected.status == DlrStatus::smscRejected);
  CHECK(rejected.smscStatus == "NACK");
  CHECK(rejected.errorCode == "0x0000000b");  // ESME_RINVDSTADR from submit_sm_resp
  CHECK(callbacks.has("s-3", 8) == false);

  for (auto id : {"s-2", "s-3"}) {
    PartReports p(kKannelFinalReportsPerMessage);
    for (auto& r : callbacks.reportsFor(id)) p.add(r);
    CHECK(p.state() == PartReports::State::failed);
  }
  // A three-part message through SMPP: three submit_sm with UDH (esm_class 0x43), receipt asked for part 1.
  auto r4 = sender.submit(request("s-4", "+8613900000004", repeat("台风红色预警，请立即到岗。", 14), 3));
  CHECK(r4.kind == SubmitResult::Kind::accepted);
  REQUIRE(waitFor([&] { return callbacks.has("s-4", 1) && callbacks.has("s-4", 8); }, 10000));
  {
    std::istringstream lines(kannel.smppLog());
    int parts = 0, asking = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.find("submit_sm from=12110 to=8613900000004 data_coding=8 esm_class=67") == std::string::npos)
        continue;
      ++parts;
      if (line.find("registered_delivery=1") != std::string::npos) ++asking;
    }
    CHECK(parts == 3);
    CHECK(asking == 1);
    CHECK(callbacks.reportsFor("s-4").size() == 2);  // one SMSC ack (8) for the whole message, one receipt (1)
  }

  // What the SMSC got: UCS-2 (data_coding 8) with our text, asking a receipt.
  std::string log = kannel.smppLog();
  CHECK(log.find("to=8613900000001 data_coding=8 esm_class=3 registered_delivery=1 outcome=delivered") !=
        std::string::npos);
  CHECK(callbacks.errors().empty());
}

TEST_CASE("sms-kannel: Kannel's refusals are permanent while Kannel down or silent is temporary", "[sms][kannel]") {
  using K = SubmitResult::Kind;
  TempDir dir;
  CallbackServer callbacks;
  KannelProcess kannel(dir, KannelSetup{});
  kannel.start();
  auto options = senderOptions(kannel, "fake", callbacks.baseUrl());

  SECTION("wrong sendsms password") {
    auto o = options;
    o.password = "wrong";
    auto r = KannelSender(o).submit(request("k-1", "+8613800000001", kWarning));
    CHECK(r.kind == K::permanent);
    CHECK(r.httpStatus == 403);
    CHECK(r.detail == "kannel HTTP 403: Authorization failed for sendsms");
  }
  SECTION("no SMSC by that id") {
    auto o = options;
    o.smsc = "nosuch";
    auto r = KannelSender(o).submit(request("k-2", "+8613800000001", kWarning));
    CHECK(r.kind == K::permanent);
    CHECK(r.httpStatus == 403);
    CHECK(r.detail == "kannel HTTP 403: Not routable. Do not try again.");
  }
  SECTION("no sender id (from) and no default") {
    auto o = options;
    o.from = "";
    auto r = KannelSender(o).submit(request("k-3", "+8613800000001", kWarning));
    CHECK(r.kind == K::permanent);
    CHECK(r.httpStatus == 400);
  }
  SECTION("Kannel stopped: connection refused") {
    kannel.stop();
    auto r = KannelSender(options).submit(request("k-4", "+8613800000001", kWarning));
    CHECK(r.kind == K::temporary);
    CHECK(r.httpStatus == 0);
    CHECK(r.detail.find("127.0.0.1:" + std::to_string(options.port)) != std::string::npos);
  }
  SECTION("a gateway that does not answer in time") {
    httplib::Server silent;
    silent.Get("/cgi-bin/sendsms", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("0: Accepted for delivery", "text/plain");
    });
    int port = silent.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread th([&] { silent.listen_after_bind(); });
    auto o = options;
    o.port = port;
    o.ioTimeoutMs = 300;
    auto started = std::chrono::steady_clock::now();
    auto r = KannelSender(o).submit(request("k-5", "+8613800000001", kWarning));
    auto tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                      .count();
    silent.stop();
    th.join();
    CHECK(r.kind == K::temporary);
    CHECK(r.detail.find("Read") != std::string::npos);
    CHECK(tookMs < 1400);
  }
}
