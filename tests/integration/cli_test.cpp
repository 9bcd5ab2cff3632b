// The CLI and alertbusd as an operator runs them: exit codes and messages for good and bad input.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/integration/broker_process.h"

using namespace alertbus;
using namespace alertbus::test;

namespace {

using Run = CommandResult;
Run run(const std::string& cmd) { return runCommand(cmd); }

const std::string kCli = ALERTBUS_CLI_BIN;
const std::string kBroker = ALERTBUSD_BIN;
const std::string kSrc = ALERTBUS_SOURCE_DIR;

}  // namespace

TEST_CASE("cli: rules check accepts the sample rules and reports every error of a bad file", "[cli]") {
  auto good = run(kCli + " rules check " + kSrc + "/config/rules.toml");
  INFO(good.out);
  CHECK(good.status == 0);
  CHECK(good.out.find("OK") != std::string::npos);
  TempDir dir;
  std::ofstream(dir.file("bad.toml")) << "[[rule]]\nname = \"a\"\nevnt = [\"x\"]\nto = [\"nocolon\"]\n";
  auto bad = run(kCli + " rules check " + dir.file("bad.toml"));
  INFO(bad.out);
  CHECK(bad.status == 1);
  CHECK(bad.out.find(dir.file("bad.toml") + ":3:") != std::string::npos);
  CHECK(bad.out.find("evnt") != std::string::npos);
  CHECK(bad.out.find(dir.file("bad.toml") + ":4:") != std::string::npos);
}

TEST_CASE("cli: rules test explains which rules match an orange typhoon warning and where it goes", "[cli]") {
  auto r = run(kCli + " rules test " + kSrc + "/config/rules.toml " + kSrc +
               "/config/samples/typhoon-orange.json --sender met --at 2026-08-10T10:00:00+08:00");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out.find("MATCH typhoon-orange-to-typhoon-command") != std::string::npos);
  CHECK(r.out.find("event typhoon in [typhoon, 11B01]: yes") != std::string::npos);
  CHECK(r.out.find("destinations:") != std::string::npos);
  CHECK(r.out.find("sms:typhoon-command") != std::string::npos);
  // At 10:00 local time the night-duty rule does not match.
  CHECK(r.out.find("MATCH night-severe-to-duty-leaders") == std::string::npos);
}

TEST_CASE("cli: send refuses a message file with an unknown field, naming the file", "[cli]") {
  TempDir dir;
  std::ofstream(dir.file("m.json")) << R"({"id": "x", "status": "actual", "msgTyp": "alert"})";
  auto r = run(kCli + " rules test " + kSrc + "/config/rules.toml " + dir.file("m.json") + " --sender met");
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK(r.out.find(dir.file("m.json")) != std::string::npos);
  CHECK(r.out.find("msgTyp") != std::string::npos);
}

TEST_CASE("cli: alertbusd refuses a bad configuration before binding, listing every error", "[cli]") {
  TempDir dir;
  std::ofstream(dir.file("alertbusd.toml")) << "[broker]\nendpont = \"tcp://127.0.0.1:*\"\n[journal]\nsync = \"x\"\n";
  auto r = run(kBroker + " --config " + dir.file("alertbusd.toml"));
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK(r.out.find(dir.file("alertbusd.toml") + ":2: unknown key 'broker.endpont'") != std::string::npos);
  CHECK(r.out.find(dir.file("alertbusd.toml") + ":4: journal.sync = 'x'") != std::string::npos);
  CHECK(r.out.find("not starting") != std::string::npos);
}

TEST_CASE("cli: send, tail and status against a running broker", "[cli]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  for (auto name : {"met", "admin"}) writeKeyFiles(dir.path(), std::string("cli-") + name, broker.keysOf(name), true);
  // Z85 keys contain shell metacharacters: pass the broker key as its .pub file.
  std::string conn = " --endpoint " + broker.endpoint() + " --server-key " + dir.file("broker.pub") + " --key ";
  auto sent = run(kCli + " send" + conn + dir.file("cli-met.key") + " " + kSrc + "/config/samples/typhoon-orange.json");
  INFO(sent.out);
  CHECK(sent.status == 0);
  CHECK(sent.out.find("accepted, seq 1") != std::string::npos);
  auto again = run(kCli + " send" + conn + dir.file("cli-met.key") + " " + kSrc + "/config/samples/typhoon-orange.json");
  CHECK(again.out.find("duplicate") != std::string::npos);
  auto tail = run(kCli + " tail --from 1 -n 1" + conn + dir.file("cli-admin.key"));
  INFO(tail.out);
  CHECK(tail.status == 0);
  CHECK(tail.out.find("seq 1 ") != std::string::npos);
  CHECK(tail.out.find("met/met-typhoon-2019-09-orange-1") != std::string::npos);
  CHECK(tail.out.find("URGENT") != std::string::npos);
  auto status = run(kCli + " status" + conn + dir.file("cli-admin.key"));
  INFO(status.out);
  CHECK(status.status == 0);
  CHECK(status.out.find("messages: accepted 1, duplicates 1") != std::string::npos);
  CHECK(status.out.find("dashboard") != std::string::npos);
  // A key the registry does not know gets no answer, and the CLI says so instead of hanging.
  writeKeyFiles(dir.path(), "stranger", generateKeyPair(), true);
  auto refused = run(kCli + " status --timeout-ms 2000" + conn + dir.file("stranger.key"));
  INFO(refused.out);
  CHECK(refused.status == 3);
  CHECK(refused.out.find("timeout") != std::string::npos);
}

TEST_CASE("cli: tail shows the destinations a cancel follows; rules check warns about alert-only rules",
          "[cli][follow]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  setup.rulesToml = kAlertsOnlySmsRules;
  std::ofstream(dir.file("alerts-only.toml")) << setup.rulesToml;
  auto check = run(kCli + " rules check " + dir.file("alerts-only.toml"));
  INFO(check.out);
  CHECK(check.status == 0);  // advice, not an error
  CHECK(check.out.find("warning: " + dir.file("alerts-only.toml") + ":1: rule 'typhoon-alerts-to-duty' lets alerts through to "
                       "sms:duty but no rule lets their cancels through") != std::string::npos);
  CHECK(check.out.find("1 warning(s)") != std::string::npos);

  BrokerProcess broker(dir, setup);
  broker.start();
  for (auto name : {"met", "admin"}) writeKeyFiles(dir.path(), std::string("cli-") + name, broker.keysOf(name), true);
  std::string conn = " --endpoint " + broker.endpoint() + " --server-key " + dir.file("broker.pub") + " --key ";
  // The sample alert and its sample cancel, re-sent with a suffix that the cancel's reference gets too.
  auto sent = run(kCli + " send --id-suffix -x" + conn + dir.file("cli-met.key") + " " + kSrc +
                  "/config/samples/typhoon-orange.json " + kSrc + "/config/samples/typhoon-orange-cancel.json");
  INFO(sent.out);
  REQUIRE(sent.status == 0);
  auto tail = run(kCli + " tail --from 1 -n 2" + conn + dir.file("cli-admin.key"));
  INFO(tail.out);
  CHECK(tail.status == 0);
  CHECK(tail.out.find("met/met-typhoon-2019-09-orange-1-x actual alert warning typhoon orange URGENT -> sms:duty "
                      "dashboard:city-desk |") != std::string::npos);
  CHECK(tail.out.find("met/met-typhoon-2019-09-orange-1-cancel-x actual cancel warning typhoon -> "
                      "dashboard:city-desk (follows seq 1) sms:duty (follows seq 1)") != std::string::npos);
}
