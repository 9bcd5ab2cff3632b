// A partner agency can speak the protocol without our client library: every frame sent here is built
// by the stock `capnp` tool from the text files in tests/integration/raw_frames/ (docs/protocol.md,
// "Worked example"), sent over a bare libzmq DEALER with the agency's CURVE keys, and every answer is
// read back with `capnp decode`. The `capnp` tool is a declared dependency (package capnproto): if it
// is missing this test fails, it does not skip.
#include <catch2/catch.hpp>
#include <zmq.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/broker_process.h"

using namespace alertbus;
using namespace alertbus::test;
namespace fs = std::filesystem;

namespace {

using Bytes = std::string;

const std::string kSource = ALERTBUS_SOURCE_DIR;
const std::string kFrames = kSource + "/tests/integration/raw_frames/";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void writeFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// The `capnp` executable on PATH, or "" if there is none.
std::string capnpTool() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/capnp";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Where /capnp/c++.capnp lives (the schemas import it): <prefix>/include next to <prefix>/bin/capnp.
std::string capnpIncludeDir(const std::string& tool) {
  fs::path prefix = fs::path(tool).parent_path().parent_path();
  for (fs::path dir : {prefix / "include", fs::path("/usr/include"), fs::path("/usr/local/include")})
    if (fs::exists(dir / "capnp" / "c++.capnp")) return dir.string();
  return "/usr/include";
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `capnp <args>` with `input` on stdin; returns stdout. FAILs the test with stderr on error.
class CapnpCli {
 public:
  CapnpCli(std::string tool, const TempDir& dir) : tool_(std::move(tool)), dir_(dir) {
    include_ = capnpIncludeDir(tool_);
  }

  Bytes run(const std::string& args, const Bytes& input) {
    std::string in = dir_.file("capnp.in"), out = dir_.file("capnp.out"), err = dir_.file("capnp.err");
    writeFile(in, input);
    std::string cmd = quote(tool_) + " " + args + " < " + quote(in) + " > " + quote(out) + " 2> " + quote(err);
    int status = std::system(cmd.c_str());
    if (status != 0) FAIL("`" << cmd << "` failed (status " << status << "):\n" << readFile(err));
    return readFile(out);
  }
  // Text -> wire bytes of a Frame (protocol.capnp) or a Message (message.capnp).
  Bytes encodeFrame(const std::string& text, const std::string& extraArgs = "") {
    return run("encode " + extraArgs + " -I" + quote(include_) + " " + quote(kSource + "/schemas/protocol.capnp") +
                   " Frame",
               text);
  }
  Bytes encodeMessage(const std::string& text) {
    return run("encode -I" + quote(include_) + " " + quote(kSource + "/schemas/message.capnp") + " Message", text);
  }
  // Wire bytes of a Frame -> one line of text.
  std::string decodeFrame(const Bytes& bytes) {
    std::string s = run("decode --short -I" + quote(include_) + " " + quote(kSource + "/schemas/protocol.capnp") +
                            " Frame",
                        bytes);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

 private:
  std::string tool_, include_;
  const TempDir& dir_;
};

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

// The publish.frame.template with a token and a message filled in.
std::string publishText(uint64_t token, const Bytes& message) {
  return replaceAll(replaceAll(readFile(kFrames + "publish.frame.template"), "@TOKEN@", std::to_string(token)),
                    "@MESSAGE_HEX@", hex(message));
}

// A bare DEALER with CURVE client keys, as a partner would set it up (docs/protocol.md, section 1).
class RawDealer {
 public:
  RawDealer(zmq::context_t& ctx, const BrokerProcess& broker, const std::string& agency)
      : sock_(ctx, zmq::socket_type::dealer) {
    KeyPair keys = broker.keysOf(agency);
    sock_.set(zmq::sockopt::curve_serverkey, broker.serverPublicKey());
    sock_.set(zmq::sockopt::curve_publickey, keys.publicKey);
    sock_.set(zmq::sockopt::curve_secretkey, keys.secretKey);
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::immediate, 1);
    sock_.set(zmq::sockopt::sndhwm, 1000);
    sock_.set(zmq::sockopt::rcvhwm, 1000);
    sock_.set(zmq::sockopt::sndtimeo, 5000);  // a send that cannot complete fails instead of hanging
    sock_.connect(broker.endpoint());
  }
  void send(const Bytes& frame) {
    auto r = sock_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::none);
    REQUIRE(r.has_value());
  }
  // The next frame, or nullopt when the deadline passes first.
  std::optional<Bytes> recv(int timeoutMs) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeoutMs));
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    if (!sock_.recv(m, zmq::recv_flags::dontwait)) return std::nullopt;
    return m.to_string();
  }

 private:
  zmq::socket_t sock_;
};

// Receives until a frame that is not a heartbeat arrives (the broker heartbeats idle sessions) and
// returns it as `capnp decode --short` text; FAILs after the deadline.
std::string nextAnswer(RawDealer& d, CapnpCli& capnp, int timeoutMs = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) FAIL("no answer from the broker within " << timeoutMs << " ms");
    auto frame = d.recv(left);
    if (!frame) continue;
    std::string text = capnp.decodeFrame(*frame);
    if (text.rfind("(heartbeat = ", 0) == 0) continue;
    return text;
  }
}

uint64_t matchSeq(const std::string& answer, uint64_t token, bool duplicate) {
  std::smatch m;
  std::regex re("^\\(publishAck = \\(token = " + std::to_string(token) + ", seq = ([0-9]+), duplicate = " +
                (duplicate ? "true" : "false") + "\\)\\)$");
  INFO(answer);
  REQUIRE(std::regex_match(answer, m, re));
  return std::stoull(m[1].str());
}

}  // namespace

TEST_CASE("raw protocol: a partner speaks it with the capnp tool and bare libzmq", "[raw][protocol]") {
  std::string tool = capnpTool();
  INFO("the `capnp` command-line tool is a declared dependency (Debian package capnproto)");
  REQUIRE_FALSE(tool.empty());

  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  CapnpCli capnp(tool, dir);
  zmq::context_t ctx;

  Bytes hello = capnp.encodeFrame(readFile(kFrames + "hello.frame.txt"));
  Bytes warning = capnp.encodeMessage(readFile(kFrames + "warning.message.txt"));
  Bytes publish = capnp.encodeFrame(publishText(1, warning));

  RawDealer met(ctx, broker, "met");
  met.send(hello);
  std::string welcome = nextAnswer(met, capnp);
  INFO(welcome);
  CHECK(welcome.rfind("(welcome = (protocolVersion = 1, agency = \"met\", role = adapter, heartbeatMs = 500, "
                      "brokerId = \"test\", maxFrameBytes = 1048576",
                      0) == 0);

  met.send(publish);
  uint64_t seq = matchSeq(nextAnswer(met, capnp), 1, false);
  CHECK(seq > 0);

  // The same message again (a publisher retrying after a lost ack): acknowledged, not stored twice.
  met.send(publish);
  CHECK(matchSeq(nextAnswer(met, capnp), 1, true) == seq);
  // Same Message.id under another token: still the original seq.
  met.send(capnp.encodeFrame(publishText(2, warning)));
  CHECK(matchSeq(nextAnswer(met, capnp), 2, true) == seq);

  SECTION("Publish without Hello on a fresh connection is rejected notReady") {
    RawDealer fresh(ctx, broker, "met");
    fresh.send(capnp.encodeFrame(publishText(5, warning)));
    std::string answer = nextAnswer(fresh, capnp);
    INFO(answer);
    CHECK(answer.rfind("(reject = (token = 5, code = notReady, field = \"frame\", value = \"publish\", reason = ", 0) ==
          0);
    // Any other frame before Hello: Error notReady; a heartbeat: Error sessionExpired ("send Hello").
    fresh.send(capnp.encodeFrame("(credit = (credit = 5))"));
    answer = nextAnswer(fresh, capnp);
    CHECK(answer.rfind("(error = (code = notReady", 0) == 0);
    fresh.send(capnp.encodeFrame(readFile(kFrames + "heartbeat.frame.txt")));
    answer = nextAnswer(fresh, capnp);
    CHECK(answer.rfind("(error = (code = sessionExpired, field = \"frame\", value = \"heartbeat\"", 0) == 0);
  }

  SECTION("a heartbeat in a session is answered with a heartbeat") {
    met.send(capnp.encodeFrame(readFile(kFrames + "heartbeat.frame.txt")));
    auto hb = met.recv(5000);
    REQUIRE(hb);
    std::string hbText = capnp.decodeFrame(*hb);
    INFO(hbText);
    CHECK(hbText.rfind("(heartbeat = (timeMs = ", 0) == 0);
  }

  SECTION("an unsupported protocol version is refused with Error protocolVersion") {
    RawDealer fresh(ctx, broker, "met");
    fresh.send(capnp.encodeFrame(readFile(kFrames + "hello-v2.frame.txt")));
    std::string answer = nextAnswer(fresh, capnp);
    INFO(answer);
    CHECK(answer.rfind("(error = (code = protocolVersion, field = \"hello.protocolVersion\", value = \"2\"", 0) == 0);
  }

  SECTION("a multi-segment encoding is as good as a single segment") {
    RawDealer fresh(ctx, broker, "met");
    fresh.send(capnp.encodeFrame(readFile(kFrames + "hello.frame.txt"), "--segment-size=2"));
    CHECK(nextAnswer(fresh, capnp).rfind("(welcome = ", 0) == 0);
    fresh.send(capnp.encodeFrame(publishText(9, warning), "--segment-size=2"));
    CHECK(matchSeq(nextAnswer(fresh, capnp), 9, true) == seq);
  }

  SECTION("another agency, a refusal with field and value, and the outlet side") {
    RawDealer water(ctx, broker, "water");
    water.send(hello);
    CHECK(nextAnswer(water, capnp).rfind("(welcome = (protocolVersion = 1, agency = \"water\"", 0) == 0);
    water.send(capnp.encodeFrame(publishText(1, capnp.encodeMessage(readFile(kFrames + "observation.message.txt")))));
    uint64_t obsSeq = matchSeq(nextAnswer(water, capnp), 1, false);
    CHECK(obsSeq > seq);
    // Idempotency is per agency: water's id space is its own.
    water.send(capnp.encodeFrame(publishText(2, capnp.encodeMessage(readFile(kFrames + "not-permitted.message.txt")))));
    std::string answer = nextAnswer(water, capnp);
    INFO(answer);
    CHECK(answer.rfind("(reject = (token = 2, code = notPermitted, field = \"permission.publish_events\", "
                       "value = \"typhoon\", reason = ",
                       0) == 0);
    water.send(capnp.encodeFrame(publishText(3, capnp.encodeMessage(readFile(kFrames + "invalid.message.txt")))));
    answer = nextAnswer(water, capnp);
    CHECK(answer.rfind("(reject = (token = 3, code = invalid, field = \"payload.warning[0].areas[0].polygons[0]\"", 0) ==
          0);

    // The dashboard outlet receives both messages, the urgent (orange) warning flagged, and acks them.
    RawDealer dashboard(ctx, broker, "dashboard");
    dashboard.send(hello);
    CHECK(nextAnswer(dashboard, capnp).rfind("(welcome = (protocolVersion = 1, agency = \"dashboard\", role = outlet",
                                             0) == 0);
    dashboard.send(capnp.encodeFrame(readFile(kFrames + "subscribe.frame.txt")));
    answer = nextAnswer(dashboard, capnp);
    INFO(answer);
    CHECK(answer.rfind("(subscribed = (outlet = \"dashboard\", cursor = 0, backlog = 2))", 0) == 0);
    // Both deliveries arrive in one `deliveries` frame (the broker batches a subscriber's deliveries),
    // urgent first.
    std::string batch = nextAnswer(dashboard, capnp);
    INFO(batch);
    REQUIRE(batch.rfind("(deliveries = [(seq = ", 0) == 0);
    size_t split = batch.find("), (seq = ");
    REQUIRE(split != std::string::npos);
    std::string first = batch.substr(0, split), second = batch.substr(split);
    std::string wantWarning = "(deliveries = [(seq = " + std::to_string(seq) + ", sender = \"met\", receivedMs = ";
    std::string wantObs = "), (seq = " + std::to_string(obsSeq) + ", sender = \"water\", receivedMs = ";
    CHECK(first.rfind(wantWarning, 0) == 0);
    CHECK(first.find("targets = [\"city-desk\", \"training-desk\"], urgent = true, message = ") != std::string::npos);
    CHECK(second.rfind(wantObs, 0) == 0);
    CHECK(second.find("urgent = false") != std::string::npos);
    dashboard.send(capnp.encodeFrame("(deliverAck = (seqs = [" + std::to_string(seq) + ", " + std::to_string(obsSeq) +
                                     "]))"));

    // An admin sees it all in "status".
    RawDealer admin(ctx, broker, "admin");
    admin.send(hello);
    CHECK(nextAnswer(admin, capnp).rfind("(welcome = (protocolVersion = 1, agency = \"admin\", role = admin", 0) == 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool acked = false;
    while (!acked && std::chrono::steady_clock::now() < deadline) {  // the outlet's acks are processed async
      admin.send(capnp.encodeFrame(readFile(kFrames + "admin-status.frame.txt")));
      answer = nextAnswer(admin, capnp);
      REQUIRE(answer.rfind("(adminReply = (token = 9, ok = true, json = ", 0) == 0);
      acked = answer.find("\\\"acknowledged\\\":2") != std::string::npos;
    }
    INFO(answer);
    CHECK(acked);
    CHECK(answer.find("\\\"accepted\\\":2") != std::string::npos);
    CHECK(answer.find("\\\"duplicates\\\":2") != std::string::npos);
  }
}
