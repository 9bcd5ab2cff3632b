// alertbus: the command-line client. Subcommands: keys gen, send, tail, status, rules check, rules test.
// `rules check/test` and `keys gen` work offline; the others talk to a running alertbusd.
#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "broker/rules.h"
#include "cli/connect.h"
#include "client/client.h"
#include "client/keys.h"
#include "model/codec.h"
#include "model/decode_util.h"
#include "model/facts.h"
#include "model/json.h"
#include "model/validate.h"

using namespace alertbus;

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string readFileOrThrow(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "2026-11-29T08:00:00+08:00" / "...Z" -> UTC ms; throws on bad input.
int64_t parseIsoTime(const std::string& s) {
  struct tm tm = {};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) throw std::runtime_error("bad time '" + s + "': expected YYYY-MM-DDTHH:MM:SS followed by Z or +HH:MM");
  int64_t secs = timegm(&tm);
  std::string zone(rest);
  if (zone == "Z" || zone.empty()) return secs * 1000;
  int hh = 0, mm = 0;
  char sign = zone[0];
  if ((sign != '+' && sign != '-') || sscanf(zone.c_str() + 1, "%d:%d", &hh, &mm) != 2)
    throw std::runtime_error("bad time zone '" + zone + "' in '" + s + "'");
  int64_t off = (hh * 60 + mm) * 60;
  return (sign == '+' ? secs - off : secs + off) * 1000;
}

// Builds a Message from a JSON file; fills sentMs if absent.
void loadMessage(const std::string& path, capnp::MallocMessageBuilder& b, const std::string& idSuffix = "") {
  auto m = b.initRoot<schema::Message>();
  messageFromJson(readFileOrThrow(path), m, path);
  if (m.getSentMs() == 0) m.setSentMs(nowMs());
  if (!idSuffix.empty()) {
    m.setId(std::string(m.getId().cStr()) + idSuffix);
    // So a sample update or cancel names the sample it follows, re-sent with the same suffix.
    for (auto r : m.getReferences()) r.setId(std::string(r.getId().cStr()) + idSuffix);
  }
}

std::string summarize(const Delivery& d) {
  auto m = d.message;
  MessageFacts f = extractFacts(m, d.sender);
  std::string s = "seq " + std::to_string(d.seq) + " " + formatIsoUtc(d.receivedMs) + " " + d.sender + "/" +
                  std::string(m.getId().cStr()) + " " + std::string(statusName(f.status)) + " " +
                  std::string(msgTypeName(f.msgType)) + " " + std::string(kindName(f.kind));
  for (auto& e : f.events) s += " " + e;
  static const char* colours[] = {"", "blue", "yellow", "orange", "red"};
  if (f.colourRank) s += std::string(" ") + colours[f.colourRank];
  if (d.urgent) s += " URGENT";
  s += " ->";
  if (d.targets.empty()) s += " (no destinations)";
  for (size_t i = 0; i < d.targets.size(); ++i) {
    s += " " + d.targets[i];
    // Added because the message updates or cancels one that reached it (the broker follows originals).
    if (i < d.follows.size() && d.follows[i] != 0) s += " (follows seq " + std::to_string(d.follows[i]) + ")";
  }
  auto p = m.getPayload();
  if (p.isWarning() && p.getWarning().size()) s += " | " + std::string(p.getWarning()[0].getHeadline().cStr());
  return s;
}

// Polls until `done` or the deadline; returns false on timeout.
template <typename F>
bool pollUntil(Client& c, int timeoutMs, F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    c.poll(50);
  }
  return true;
}

int cmdKeysGen(const std::string& name, const std::string& dir, bool force) {
  KeyPair p = generateKeyPair();
  writeKeyFiles(dir, name, p, force);
  std::cout << "wrote " << dir << "/" << name << ".key (secret, mode 0600) and " << dir << "/" << name
            << ".pub\npublic key: " << p.publicKey << "\n";
  return 0;
}

int cmdSend(const ConnectFlags& cf, const std::vector<std::string>& files, const std::string& outbox,
            const std::string& idSuffix) {
  auto opts = clientOptionsFrom(cf, "alertbus-cli send");
  opts.outboxPath = outbox;
  Client c(opts);
  std::map<uint64_t, std::string> pending;
  int failures = 0;
  c.onAck = [&](uint64_t token, uint64_t seq, bool dup) {
    std::cout << pending[token] << ": accepted, seq " << seq << (dup ? " (duplicate of an earlier publish)" : "")
              << "\n";
    pending.erase(token);
  };
  c.onReject = [&](uint64_t token, const RejectInfo& r) {
    std::cerr << pending[token] << ": rejected " << r.code << ": " << r.field << " = '" << r.value << "': " << r.reason
              << "\n";
    pending.erase(token);
    ++failures;
  };
  c.onError = [&](const RejectInfo& r) { std::cerr << "broker error " << r.code << ": " << r.reason << "\n"; };
  for (auto& f : files) {
    capnp::MallocMessageBuilder b;
    loadMessage(f, b, idSuffix);
    pending[c.publish(b)] = f;
  }
  if (!pollUntil(c, cf.timeoutMs, [&] { return pending.empty(); })) {
    std::cerr << "timeout: " << pending.size() << " message(s) not acknowledged within " << cf.timeoutMs << " ms"
              << (outbox.empty() ? "" : " (kept in the outbox; they will be sent by the next run)") << "\n";
    return 3;
  }
  return failures ? 1 : 0;
}

int cmdTail(const ConnectFlags& cf, uint64_t fromSeq, int64_t count, bool json) {
  Client c(clientOptionsFrom(cf, "alertbus-cli tail"));
  int64_t seen = 0;
  c.onDeliver = [&](const Delivery& d) {
    if (json) {
      nlohmann::json j;
      j["seq"] = d.seq;
      j["sender"] = d.sender;
      j["receivedMs"] = d.receivedMs;
      j["destinations"] = d.targets;
      nlohmann::json follows = nlohmann::json::object();  // destination -> seq of the original it follows
      for (size_t i = 0; i < d.targets.size() && i < d.follows.size(); ++i)
        if (d.follows[i] != 0) follows[d.targets[i]] = d.follows[i];
      if (!follows.empty()) j["follows"] = follows;
      j["urgent"] = d.urgent;
      j["message"] = nlohmann::json::parse(messageToJson(d.message));
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << summarize(d) << std::endl;
    }
    c.ack(d.seq);
    ++seen;
  };
  c.onError = [&](const RejectInfo& r) { std::cerr << "broker error " << r.code << ": " << r.reason << "\n"; };
  c.subscribe("*", 100, fromSeq);
  while (count < 0 || seen < count) c.poll(200);
  c.poll(0);
  return 0;
}

int cmdStatus(const ConnectFlags& cf, bool json) {
  auto opts = clientOptionsFrom(cf, "alertbus-cli status");
  Client c(opts);
  bool got = false, ok = false;
  std::string body;
  if (!pollUntil(c, cf.timeoutMs, [&] { return c.connected(); })) {
    std::cerr << "timeout: no Welcome from " << opts.endpoint << " within " << cf.timeoutMs
              << " ms (broker not running, or this key is not in its agency registry)\n";
    return 3;
  }
  c.onAdminReply = [&](uint64_t, bool k, const std::string& j) {
    got = true;
    ok = k;
    body = j;
  };
  c.adminRequest("status", "{}");
  if (!pollUntil(c, cf.timeoutMs, [&] { return got; })) {
    std::cerr << "timeout: no answer from the broker within " << cf.timeoutMs << " ms\n";
    return 3;
  }
  if (!ok) {
    std::cerr << "status refused: " << body << "\n";
    return 1;
  }
  if (json) {
    std::cout << body << "\n";
    return 0;
  }
  auto j = nlohmann::json::parse(body);
  auto& b = j["broker"];
  std::cout << "broker " << b["id"].get<std::string>() << "  up " << b["uptimeMs"].get<int64_t>() / 1000 << " s  "
            << (b["curve"].get<bool>() ? "CURVE" : "INSECURE") << "  last seq " << b["lastSeq"] << "\n";
  auto& n = j["counts"];
  std::cout << "messages: accepted " << n["accepted"] << ", duplicates " << n["duplicates"] << ", awaiting fsync "
            << n["pendingAcks"] << "\n";
  std::cout << "rejections by reason:";
  if (n["rejectedByReason"].empty() && n["errorsByReason"].empty()) std::cout << " none";
  for (auto& [k, v] : n["rejectedByReason"].items()) std::cout << " " << k << "=" << v;
  for (auto& [k, v] : n["errorsByReason"].items()) std::cout << " " << k << "(frame)=" << v;
  std::cout << "\n\nconnected clients:\n";
  printf("  %-12s %-8s %-28s %14s %10s\n", "agency", "role", "client", "last heard", "subscribed");
  for (auto& cl : j["clients"])
    printf("  %-12s %-8s %-28s %11.1f s ago %10s\n", cl["agency"].get<std::string>().c_str(),
           cl["role"].get<std::string>().c_str(), cl["client"].get<std::string>().substr(0, 28).c_str(),
           cl["lastHeardAgoMs"].get<int64_t>() / 1000.0, cl["subscribed"].get<std::string>().c_str());
  std::cout << "\nagencies (last heard; an adapter's inputs as its last heartbeat reported them):\n";
  int64_t now = nowMs();
  for (auto& a : j["agencies"]) {
    std::string heard = a["lastHeardMs"].is_null() ? "never" : std::to_string((now - a["lastHeardMs"].get<int64_t>()) / 1000) + " s ago";
    bool connected = a.value("connected", false);
    printf("  %-12s %-8s %-12s %s\n", a["agency"].get<std::string>().c_str(), a["role"].get<std::string>().c_str(),
           heard.c_str(), connected ? "connected" : "not connected");
    if (!a.contains("feeds")) continue;
    for (auto& f : a["feeds"]) {
      // "down" and "stale" are not "no alerts": say why, and since when the input was last read.
      std::string lastOk = f.value("lastOkMs", int64_t(0)) == 0
                               ? "never read"
                               : "last read " + std::to_string((now - f.value("lastOkMs", int64_t(0))) / 1000) + " s ago";
      std::string detail = f.value("detail", std::string());
      printf("      %-5s %-40s %s, %llu accepted, %llu rejected%s%s\n", f.value("state", std::string("?")).c_str(),
             f.value("name", std::string()).c_str(), lastOk.c_str(),
             (unsigned long long)f.value("accepted", uint64_t(0)), (unsigned long long)f.value("rejected", uint64_t(0)),
             detail.empty() ? "" : ": ", detail.c_str());
    }
  }
  std::cout << "\noutlets:\n";
  printf("  %-12s %10s %10s %9s %10s %12s\n", "outlet", "cursor", "backlog", "in flight", "delivered", "subscribed");
  for (auto& o : j["outlets"])
    printf("  %-12s %10llu %10llu %9llu %10llu %12s\n", o["outlet"].get<std::string>().c_str(),
           (unsigned long long)o["cursor"].get<uint64_t>(), (unsigned long long)o["backlog"].get<uint64_t>(),
           (unsigned long long)o["inFlight"].get<uint64_t>(), (unsigned long long)o["delivered"].get<uint64_t>(),
           o["subscribed"].get<bool>() ? "yes" : "no");
  return 0;
}

int cmdRulesCheck(const std::string& file) {
  std::vector<RuleError> errors;
  auto rules = RuleSet::parseFile(file, errors);
  for (auto& e : errors) std::cerr << e.str() << "\n";
  if (!rules) {
    std::cerr << errors.size() << " error(s)\n";
    return 1;
  }
  auto warnings = rules->warnings();
  for (auto& w : warnings) std::cerr << "warning: " << w.str() << "\n";
  std::cout << file << ": OK, " << rules->size() << " rules";
  if (!warnings.empty()) std::cout << ", " << warnings.size() << " warning(s)";
  std::cout << ", outlets:";
  for (auto& o : rules->outlets()) std::cout << " " << o;
  std::cout << "\n";
  return 0;
}

int cmdRulesTest(const std::string& file, const std::string& messageFile, std::string sender, const std::string& at) {
  std::vector<RuleError> errors;
  auto rules = RuleSet::parseFile(file, errors);
  for (auto& e : errors) std::cerr << e.str() << "\n";
  if (!rules) return 1;
  capnp::MallocMessageBuilder b;
  loadMessage(messageFile, b);
  auto m = b.getRoot<schema::Message>().asReader();
  if (sender.empty()) sender = m.getSender().cStr();
  if (sender.empty()) {
    std::cerr << messageFile << ": no sender in the message; pass --sender AGENCY\n";
    return 2;
  }
  int64_t when = at.empty() ? nowMs() : parseIsoTime(at);
  if (auto p = validateMessage(m, when))
    std::cout << "note: the broker would reject this message: " << p->code << " " << p->field << " = '" << p->value
              << "': " << p->reason << "\n";
  MessageFacts f = extractFacts(m, sender);
  std::vector<Destination> dests;
  auto verdicts = rules->explain(f, when, dests);
  for (auto& v : verdicts) {
    std::cout << (v.evaluated ? (v.matched ? "MATCH " : "no    ") : "skip  ") << v.name << " (line " << v.line << ")\n";
    if (!v.evaluated) {
      std::cout << "      not evaluated: an earlier matching rule stopped evaluation (continue = false)\n";
      continue;
    }
    for (auto& r : v.reasons) std::cout << "      " << r << "\n";
    for (auto& r : v.refused) std::cout << "      refused destination: " << r << "\n";
  }
  std::cout << "destinations:";
  if (dests.empty()) std::cout << " none";
  for (auto& d : dests) std::cout << " " << d.str();
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"alertbus: command-line client of the alertbus broker"};
  app.require_subcommand(1);

  auto* keys = app.add_subcommand("keys", "CURVE key pairs");
  keys->require_subcommand(1);
  auto* keysGen = keys->add_subcommand("gen", "generate NAME.key and NAME.pub");
  std::string keyName, keyDir = "var/keys";
  bool force = false;
  keysGen->add_option("name", keyName, "agency or broker name")->required();
  keysGen->add_option("--dir", keyDir, "output directory")->capture_default_str();
  keysGen->add_flag("--force", force, "overwrite existing files");

  ConnectFlags cf;
  auto* send = app.add_subcommand("send", "publish messages (JSON files in the message.capnp JSON form)");
  std::vector<std::string> files;
  std::string outbox, idSuffix;
  send->add_option("--id-suffix", idSuffix, "append this to every message id and reference id (e.g. to re-send samples)");
  send->add_option("files", files, "message JSON files")->required()->check(CLI::ExistingFile);
  send->add_option("--outbox", outbox, "SQLite outbox file: unacknowledged messages survive and are re-sent");
  addConnectFlags(*send, cf);

  auto* tail = app.add_subcommand("tail", "print messages as the broker journals them (admin key)");
  uint64_t fromSeq = 0;
  int64_t count = -1;
  bool tailJson = false;
  tail->add_option("--from", fromSeq, "first journal seq to print (default: only new messages)");
  tail->add_option("-n,--count", count, "exit after this many messages");
  tail->add_flag("--json", tailJson, "one JSON object per line");
  addConnectFlags(*tail, cf);

  auto* status = app.add_subcommand("status", "clients, outlet backlogs, counts (admin key)");
  bool statusJson = false;
  status->add_flag("--json", statusJson, "raw JSON");
  addConnectFlags(*status, cf);

  auto* rules = app.add_subcommand("rules", "routing rules");
  rules->require_subcommand(1);
  auto* check = rules->add_subcommand("check", "validate a rules file");
  std::string rulesFile, messageFile, sender, at;
  check->add_option("file", rulesFile, "rules TOML file")->required();
  auto* test = rules->add_subcommand("test", "show which rules match a message and why");
  test->add_option("file", rulesFile, "rules TOML file")->required();
  test->add_option("message", messageFile, "message JSON file")->required()->check(CLI::ExistingFile);
  test->add_option("--sender", sender, "agency the message comes from (default: its sender field)");
  test->add_option("--at", at, "evaluate at this time, e.g. 2026-07-01T22:00:00+08:00 (default: now)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (keysGen->parsed()) return cmdKeysGen(keyName, keyDir, force);
    if (send->parsed()) return cmdSend(cf, files, outbox, idSuffix);
    if (tail->parsed()) return cmdTail(cf, fromSeq, count, tailJson);
    if (status->parsed()) return cmdStatus(cf, statusJson);
    if (check->parsed()) return cmdRulesCheck(rulesFile);
    if (test->parsed()) return cmdRulesTest(rulesFile, messageFile, sender, at);
  } catch (const std::exception& e) {
    std::cerr << "alertbus: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
