// alertbus-sms: the outlet that reaches named duty persons by SMS. Subscribes to the broker as outlet
// `sms`; each delivery names targets (roster groups or role@area selections). Per alert: the text is
// rendered from the templates, every recipient gets one durable row (acknowledged to the broker only after
// the commit), rows are sent through the configured gateway (Kannel or a spool directory) by a small
// throttled pool, urgent first; delivery reports and replies (叫应) come back over HTTP; unanswered
// alerts escalate to deputies, then superiors; answers and per-alert summaries are published back.
//
// Threads: main (broker client, fan-out, escalation, publishing), `concurrency` sender threads, the
// callback HTTP server's threads. They share only the DeliveryStore (internally locked) and the
// Events queue below (mutex). The broker Client is used by the main thread alone.
#include <CLI/CLI.hpp>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "client/client.h"
#include "client/connect.h"
#include "common/log.h"
#include "common/toml_reader.h"
#include "model/facts.h"
#include "model/json.h"
#include "outlets/sms/answers.h"
#include "outlets/sms/callbacks.h"
#include "outlets/sms/delivery_store.h"
#include "outlets/sms/kannel_sender.h"
#include "outlets/sms/roster.h"
#include "outlets/sms/roster_store.h"
#include "outlets/sms/segment.h"
#include "outlets/sms/spool_sender.h"
#include "outlets/sms/templates.h"

using namespace alertbus;
using namespace alertbus::sms;
namespace fs = std::filesystem;

namespace {

std::atomic<bool> gStop{false};
void onSignal(int) { gStop = true; }

// config/sms.toml, every key explained there.
struct Config {
  ConnectSettings connect;  // [broker]; outbox and default client name filled in at start
  std::string stateDir;
  std::string templatesFile;
  std::string outlet = "sms";
  uint32_t credit = 100;
  // sender
  std::string senderKind = "spool";
  double ratePerS = 50;
  int64_t concurrency = 4;
  int64_t maxAttempts = 6;
  int64_t retryBaseMs = 2000, retryMaxMs = 300000;
  int64_t inDoubtGraceMs = 60000;
  std::string spoolDir;
  KannelOptions kannel;
  // callbacks
  std::string listenHost = "127.0.0.1";
  int64_t listenPort = 0;
  std::string publicUrl;
  // answers
  AnswerPolicy answers;
  int64_t codeDigits = 4;
  int64_t waveMs = 10 * 60000;
  int64_t maxWave = 2;
  int64_t summaryIntervalMs = 10000;
};

void readConfig(TomlReader& r, const toml::table& root, Config& c) {
  r.checkKeys(root, "", {"broker", "state", "outlet", "templates", "sender", "callbacks", "answers", "summaries"});
  if (auto* t = r.table(root, "broker", "")) readBrokerTable(r, *t, c.connect);
  if (auto* t = r.table(root, "state", "")) {
    r.checkKeys(*t, "state", {"dir"});
    r.getPath(*t, "dir", c.stateDir, "state");
  }
  if (auto* t = r.table(root, "outlet", "")) {
    r.checkKeys(*t, "outlet", {"name", "credit"});
    r.getString(*t, "name", c.outlet, "outlet");
    r.getInt(*t, "credit", c.credit, 1, 10000, "outlet");
  }
  if (auto* t = r.table(root, "templates", "")) {
    r.checkKeys(*t, "templates", {"file"});
    r.getPath(*t, "file", c.templatesFile, "templates");
  }
  if (auto* t = r.table(root, "sender", "")) {
    r.checkKeys(*t, "sender", {"kind", "rate_per_s", "concurrency", "max_attempts", "retry_base_ms", "retry_max_ms",
                               "in_doubt_grace_ms", "spool", "kannel"});
    r.getString(*t, "kind", c.senderKind, "sender");
    if (c.senderKind != "spool" && c.senderKind != "kannel")
      r.err(t->get("kind"), "sender.kind = '" + c.senderKind + "': expected spool or kannel");
    r.getDouble(*t, "rate_per_s", c.ratePerS, 0.01, 100000, "sender");
    r.getInt(*t, "concurrency", c.concurrency, 1, 64, "sender");
    r.getInt(*t, "max_attempts", c.maxAttempts, 1, 100, "sender");
    r.getInt(*t, "retry_base_ms", c.retryBaseMs, 10, 3600000, "sender");
    r.getInt(*t, "retry_max_ms", c.retryMaxMs, 10, 86400000, "sender");
    r.getInt(*t, "in_doubt_grace_ms", c.inDoubtGraceMs, 0, 3600000, "sender");
    if (auto* s = r.table(*t, "spool", "sender")) {
      r.checkKeys(*s, "sender.spool", {"dir"});
      r.getPath(*s, "dir", c.spoolDir, "sender.spool");
    }
    if (auto* k = r.table(*t, "kannel", "sender")) {
      const std::string s = "sender.kannel";
      r.checkKeys(*k, s, {"host", "port", "path", "username", "password", "from", "smsc", "ucs2_always",
                          "connect_timeout_ms", "io_timeout_ms"});
      r.getString(*k, "host", c.kannel.host, s);
      r.getInt(*k, "port", c.kannel.port, 1, 65535, s);
      r.getString(*k, "path", c.kannel.path, s);
      r.getString(*k, "username", c.kannel.username, s);
      r.getString(*k, "password", c.kannel.password, s);
      r.getString(*k, "from", c.kannel.from, s);
      r.getString(*k, "smsc", c.kannel.smsc, s);
      r.getBool(*k, "ucs2_always", c.kannel.ucs2Always, s);
      r.getInt(*k, "connect_timeout_ms", c.kannel.connectTimeoutMs, 10, 60000, s);
      r.getInt(*k, "io_timeout_ms", c.kannel.ioTimeoutMs, 10, 600000, s);
    }
  }
  if (auto* t = r.table(root, "callbacks", "")) {
    r.checkKeys(*t, "callbacks", {"listen", "port", "public_url"});
    r.getString(*t, "listen", c.listenHost, "callbacks");
    r.getInt(*t, "port", c.listenPort, 0, 65535, "callbacks");
    r.getString(*t, "public_url", c.publicUrl, "callbacks");
  }
  if (auto* t = r.table(root, "answers", "")) {
    r.checkKeys(*t, "answers", {"code_digits", "deadline_minutes", "wave_minutes", "max_wave"});
    r.getInt(*t, "code_digits", c.codeDigits, 3, 8, "answers");
    // Minutes may be fractional (0.5 = 30 s): drills and tests use short deadlines.
    double wave = static_cast<double>(c.waveMs) / 60000;
    r.getDouble(*t, "wave_minutes", wave, 0.01, 24 * 60, "answers");
    c.waveMs = static_cast<int64_t>(wave * 60000);
    r.getInt(*t, "max_wave", c.maxWave, 0, 2, "answers");
    if (auto* d = r.table(*t, "deadline_minutes", "answers")) {
      const std::string s = "answers.deadline_minutes";
      r.checkKeys(*d, s, {"red", "orange", "yellow", "blue", "level_i", "level_ii", "level_iii", "level_iv", "other"});
      auto minutes = [&](const char* key, int64_t& ms) {
        double m = static_cast<double>(ms) / 60000;
        r.getDouble(*d, key, m, 0, 7 * 24 * 60, s);
        ms = static_cast<int64_t>(m * 60000);
      };
      minutes("red", c.answers.redMs);
      minutes("orange", c.answers.orangeMs);
      minutes("yellow", c.answers.yellowMs);
      minutes("blue", c.answers.blueMs);
      minutes("level_i", c.answers.levelIMs);
      minutes("level_ii", c.answers.levelIIMs);
      minutes("level_iii", c.answers.levelIIIMs);
      minutes("level_iv", c.answers.levelIVMs);
      minutes("other", c.answers.otherMs);
    }
  }
  if (auto* t = r.table(root, "summaries", "")) {
    r.checkKeys(*t, "summaries", {"interval_ms"});
    r.getInt(*t, "interval_ms", c.summaryIntervalMs, 100, 3600000, "summaries");
  }
  if (c.stateDir.empty()) c.stateDir = r.resolve("../var/sms");
  if (c.templatesFile.empty()) c.templatesFile = r.resolve("sms-templates.toml");
  if (c.spoolDir.empty()) c.spoolDir = c.stateDir + "/spool";
  if (c.senderKind == "kannel" && c.kannel.username.empty())
    r.err(root.get("sender"), "sender.kannel.username is required when sender.kind = \"kannel\"");
}

// Counters for the log and status lines; bad input is counted, never fatal.
struct Counters {
  std::atomic<uint64_t> submitted{0}, accepted{0}, retried{0}, failed{0}, delivered{0}, reports{0},
      unknownReports{0}, badCallbacks{0}, replies{0}, unmatchedReplies{0}, unknownTargets{0}, noRecipients{0};
};

// One token bucket shared by the sender threads: messages per second across the pool.
class RateLimiter {
 public:
  explicit RateLimiter(double perS) : intervalUs_(static_cast<int64_t>(1e6 / perS)) {}
  void acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (next_ < now) next_ = now;
    auto mine = next_;
    next_ += std::chrono::microseconds(intervalUs_);
    lock.unlock();
    std::this_thread::sleep_until(mine);
  }

 private:
  std::mutex mu_;
  int64_t intervalUs_;
  std::chrono::steady_clock::time_point next_{};
};

class Outlet {
 public:
  Outlet(Config cfg, const Logger& log) : cfg_(std::move(cfg)), log_(log) {}

  int run() {
    std::error_code ec;
    fs::create_directories(cfg_.stateDir, ec);
    if (ec) return fail(cfg_.stateDir + ": cannot create: " + ec.message());
    std::vector<ConfigError> terrs;
    if (!loadTemplateSet(cfg_.templatesFile, templates_, terrs)) {
      for (auto& e : terrs) log_.error("sms", e.str());
      return 2;
    }
    store_ = std::make_unique<DeliveryStore>(cfg_.stateDir + "/deliveries.sqlite");
    roster_ = std::make_unique<RosterStore>(cfg_.stateDir + "/roster.sqlite");
    if (roster_->size() == 0) log_.warn("sms", "the roster is empty: import one with `alertbus-sms roster import FILE`");
    size_t inDoubt = store_->recoverInFlight(wallClockMs(), cfg_.inDoubtGraceMs);
    if (inDoubt)
      log_.warn("sms", std::to_string(inDoubt) + " SMS were in flight at the last stop: resent after " +
                           std::to_string(cfg_.inDoubtGraceMs) + " ms unless a delivery report shows the gateway had them");
    if (!startCallbacks()) return 1;
    if (cfg_.senderKind == "kannel") {
      KannelOptions k = cfg_.kannel;
      k.callbackBaseUrl = callbackBase_;
      sender_ = std::make_unique<KannelSender>(k);
    } else {
      fs::create_directories(cfg_.spoolDir, ec);
      if (ec) return fail(cfg_.spoolDir + ": cannot create: " + ec.message());
      SpoolOptions so;
      so.directory = cfg_.spoolDir;
      sender_ = std::make_unique<SpoolSender>(so);
    }
    ConnectSettings cs = cfg_.connect;
    if (cs.clientName.empty()) cs.clientName = "alertbus-sms";
    cs.outboxPath = cfg_.stateDir + "/outbox.sqlite";
    client_ = connectClient(cs);
    client_->onDeliver = [this](const Delivery& d) { onDelivery(d); };
    client_->onConnection = [this](bool up) {
      log_.info("sms", up ? "connected to the broker as " + client_->agency() : "broker connection lost");
    };
    client_->onError = [this](const RejectInfo& r) {
      log_.error("sms", "broker: " + r.code + ": " + r.field + "=" + r.value + ": " + r.reason);
    };
    client_->onReject = [this](uint64_t, const RejectInfo& r) {
      log_.error("sms", "broker refused a message: " + r.code + ": " + r.field + "=" + r.value + ": " + r.reason);
    };
    client_->subscribe(cfg_.outlet, static_cast<uint32_t>(cfg_.credit));
    limiter_ = std::make_unique<RateLimiter>(cfg_.ratePerS);
    for (int i = 0; i < cfg_.concurrency; ++i) workers_.emplace_back([this] { sendLoop(); });
    log_.info("sms", "outlet " + cfg_.outlet + " running: sender " + cfg_.senderKind + ", callbacks at " +
                         callbackBase_ + ", roster " + std::to_string(roster_->size()) + " persons");
    int64_t nextTick = 0, nextSummary = 0;
    while (!gStop) {
      client_->poll(50);
      int64_t now = wallClockMs();
      drainAnswers();
      if (now >= nextTick) {
        nextTick = now + 1000;
        escalate(now);
      }
      if (now >= nextSummary) {
        nextSummary = now + cfg_.summaryIntervalMs;
        publishSummaries(now);
      }
    }
    stopping_ = true;
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    server_.stop();
    if (serverThread_.joinable()) serverThread_.join();
    client_->flush();
    log_.info("sms", "stopped");
    return 0;
  }

 private:
  int fail(const std::string& why) {
    log_.error("sms", why);
    return 1;
  }

  bool startCallbacks() {
    // Kannel opens one connection per report, dozens at once after a fan-out. Idle keep-alive
    // connections would hold cpp-httplib's workers (a small pool by default), so: one request per
    // connection and a pool sized for bursts.
    server_.set_keep_alive_max_count(1);
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
    // cpp-httplib listens with a backlog of 5 (compiled into Debian's library): a burst beyond it waits
    // for TCP's SYN retries (1 s, 3 s, ...). Keep the socket and widen the backlog after bind (listen()
    // again on a listening socket only changes its backlog).
    server_.set_socket_options([this](int sock) {
      httplib::default_socket_options(sock);
      listenSocket_ = sock;
    });
    server_.Get("/dlr", [this](const httplib::Request& req, httplib::Response& res) { onReport(req, res); });
    server_.Get("/mo", [this](const httplib::Request& req, httplib::Response& res) { onReply(req, res); });
    // Rows per state, and the counters of this run (bad input is counted here as well as logged).
    server_.Get("/status", [this](const httplib::Request&, httplib::Response& res) {
      std::string s;
      for (auto& [state, n] : store_->stateCounts()) s += state + " " + std::to_string(n) + "\n";
      const Counters& c = counters_;
      for (auto [name, v] : {std::pair<const char*, uint64_t>{"submitted", c.submitted}, {"accepted", c.accepted},
                            {"retried", c.retried}, {"failed", c.failed}, {"delivered", c.delivered},
                            {"reports", c.reports}, {"unknown_reports", c.unknownReports},
                            {"bad_callbacks", c.badCallbacks}, {"replies", c.replies},
                            {"unmatched_replies", c.unmatchedReplies}, {"unknown_targets", c.unknownTargets},
                            {"no_recipients", c.noRecipients}})
        s += std::string("count ") + name + " " + std::to_string(v) + "\n";
      res.set_content(s, "text/plain; charset=utf-8");
    });
    int port = static_cast<int>(cfg_.listenPort);
    if (port == 0) {
      port = server_.bind_to_any_port(cfg_.listenHost);
    } else if (!server_.bind_to_port(cfg_.listenHost, port)) {
      port = -1;
    }
    if (port <= 0) {
      log_.error("sms", "callbacks: cannot listen on " + cfg_.listenHost + ":" + std::to_string(cfg_.listenPort));
      return false;
    }
    if (listenSocket_ >= 0) ::listen(listenSocket_, 1024);
    callbackBase_ = cfg_.publicUrl.empty() ? "http://" + cfg_.listenHost + ":" + std::to_string(port) : cfg_.publicUrl;
    // Written for operators and tests (Kannel's sms-service get-url must point here).
    FILE* f = fopen((cfg_.stateDir + "/callbacks.url").c_str(), "w");
    if (f) {
      fprintf(f, "%s\n", callbackBase_.c_str());
      fclose(f);
    }
    serverThread_ = std::thread([this] { server_.listen_after_bind(); });
    return true;
  }

  // One broker delivery: render, resolve targets, persist every row, then acknowledge.
  void onDelivery(const Delivery& d) {
    int64_t now = wallClockMs();
    auto m = d.message;
    std::string sender = d.sender.empty() ? std::string(m.getSender().cStr()) : d.sender;
    std::string id(m.getId().cStr());
    AlertFacts facts = alertFacts(m, d.urgent);
    AlertRow a;
    a.key = sender + "/" + id;
    a.brokerSeq = d.seq;
    a.sender = sender;
    a.messageId = id;
    a.status = std::string(statusName(m.getStatus()));  // acks and summaries of it carry it (answers.h)
    a.msgType = m.getMsgType() == schema::MsgType::CANCEL   ? "cancel"
                : m.getMsgType() == schema::MsgType::UPDATE ? "update"
                                                            : "alert";
    a.event = facts.event;
    a.priority = facts.urgent ? 0 : 1;
    a.expiresMs = m.getMsgType() == schema::MsgType::CANCEL ? 0 : facts.expiresMs;
    a.maxParts = templates_.settings.maxParts;
    try {
      std::vector<Addressee> to;
      // The alerts this update or cancel refers to, as this outlet knows them.
      std::vector<AlertRow> originals;
      if (m.getMsgType() == schema::MsgType::CANCEL || m.getMsgType() == schema::MsgType::UPDATE)
        originals = referencedAlerts(d, m, sender);
      if (m.getMsgType() == schema::MsgType::CANCEL && !originals.empty()) {
        // Exactly the persons the originals reached (escalated deputies and superiors included); none of
        // the cancel's own targets who never got the warning. Their queued rows are withdrawn.
        to = cancelOriginals(originals, sender + "/" + id, now);
      } else if (m.getMsgType() == schema::MsgType::UPDATE && !originals.empty()) {
        // Everyone the originals reached or were about to reach, in their escalation chains, and whoever the
        // update's own targets add.
        std::set<std::string> seen;
        for (auto& o : originals)
          for (auto& p : store_->reached(o.key, /*queuedToo=*/true))
            if (seen.insert(p.personId).second) to.push_back(p);
        for (auto& p : resolveTargets(d.targets, a.key))
          if (seen.insert(p.personId).second) to.push_back(p);
        applyLanguages(to);
      } else {
        to = resolveTargets(d.targets, a.key);
      }
      int64_t window = answerWindowMs(facts, m.getMsgType(), cfg_.answers);
      if (window > 0 && !to.empty()) {
        auto existing = store_->alert(a.key);
        // An update keeps its original's answer code: the persons answer the code they already have.
        const AlertRow* original = nullptr;
        for (auto& o : originals)
          if (!o.answerCode.empty()) original = &o;
        a.answerCode = existing   ? existing->answerCode
                       : original ? original->answerCode
                                  : store_->freeAnswerCode(static_cast<int>(cfg_.codeDigits), d.seq * 2654435761u, now);
        a.answerDeadlineMs = existing ? existing->answerDeadlineMs : now + window;
      }
      RenderContext ctx;
      ctx.answerCode = a.answerCode;
      ctx.deadlineMs = a.answerDeadlineMs;
      RenderResult rr = render(templates_, m, ctx);
      for (auto& p : rr.problems) log_.warn("sms", a.key + ": template " + rr.templateName + ": " + p);
      a.text = rr.text;
      if (!a.answerCode.empty()) {
        ctx.reminder = true;  // what deputies and superiors get when the addressee does not answer
        a.reminderText = render(templates_, m, ctx).text;
        ctx.reminder = false;
      }
      // The same in every other language a recipient reads.
      std::set<std::string> languages;
      for (auto& p : to)
        if (!p.language.empty()) languages.insert(p.language);
      for (auto& lang : languages) {
        RenderContext lc = ctx;
        lc.language = lang;
        std::string text = render(templates_, m, lc).text;
        std::string reminder;
        if (!a.answerCode.empty()) {
          lc.reminder = true;
          reminder = render(templates_, m, lc).text;
        }
        a.texts[lang] = {text, reminder};
      }
      FanOutResult fo = store_->fanOut(a, to, now);
      if (m.getMsgType() == schema::MsgType::UPDATE)
        for (auto& o : originals) store_->supersede(o.key, a.key, now);
      log_.info("sms", a.key + " (" + a.msgType + ", seq " + std::to_string(d.seq) + "): " +
                           std::to_string(fo.inserted) + " SMS queued" +
                           (fo.existing ? ", " + std::to_string(fo.existing) + " already queued before" : "") +
                           (a.answerCode.empty() ? "" : ", answer code " + a.answerCode));
      if (to.empty()) ++counters_.noRecipients;
      wake_.notify_all();
      client_->ack(d.seq);  // only now: every row is durable
    } catch (const std::exception& e) {
      // Not acknowledged: the broker redelivers it (after a reconnect) and fan-out is idempotent.
      log_.error("sms", a.key + ": not taken, will be redelivered: " + e.what());
    }
  }

  std::vector<Addressee> resolveTargets(const std::vector<std::string>& targets, const std::string& key) {
    std::vector<Addressee> out;
    std::set<std::string> seen;
    for (auto& t : targets) {
      Target target = parseTarget(t);
      Resolution r = roster_->resolve(target);
      if (!r.ok()) {
        ++counters_.unknownTargets;
        log_.error("sms", key + ": target sms:" + t + ": " + r.error + " (nobody of that target is messaged)");
        continue;
      }
      for (auto& p : r.recipients)
        if (seen.insert(p.personId).second) out.push_back({p.personId, p.name, p.mobile, 0, "", ""});
    }
    applyLanguages(out);  // few persons have one: most get the templates' default
    return out;
  }

  // The alerts an update or cancel refers to. The broker resolved its references (by agency or by origin,
  // the CAP sender) to journal seqs and names those that reached this outlet (Deliver.references); an
  // older broker does not, so a reference by this agency's own id is looked up as before.
  std::vector<AlertRow> referencedAlerts(const Delivery& d, schema::Message::Reader m, const std::string& sender) {
    std::vector<AlertRow> out;
    std::set<std::string> keys;
    for (uint64_t seq : d.references)
      if (auto a = store_->alertBySeq(seq))
        if (keys.insert(a->key).second) out.push_back(std::move(*a));
    for (auto ref : m.getReferences()) {
      std::string key = sender + "/" + std::string(ref.getId().cStr());
      if (keys.count(key)) continue;
      if (auto a = store_->alert(key))
        if (keys.insert(key).second) out.push_back(std::move(*a));
    }
    return out;
  }

  // A cancel goes to those the cancelled alerts reached; their queued rows are withdrawn.
  std::vector<Addressee> cancelOriginals(const std::vector<AlertRow>& originals, const std::string& by, int64_t now) {
    std::vector<Addressee> out;
    std::set<std::string> seen;
    for (auto& o : originals) {
      for (auto& p : store_->cancel(o.key, now))
        if (seen.insert(p.personId).second) out.push_back(p);
      log_.info("sms", o.key + ": cancelled by " + by);
    }
    applyLanguages(out);
    return out;
  }

  // Persons with a language of their own (roster `language`) get the texts of that language.
  void applyLanguages(std::vector<Addressee>& to) {
    auto languages = roster_->languages();
    if (languages.empty()) return;
    for (auto& p : to) {
      auto it = languages.find(p.personId);
      if (it != languages.end() && it->second != templates_.settings.defaultLanguage) p.language = it->second;
    }
  }

  void sendLoop() {
    while (!stopping_) {
      auto claims = store_->claim(1, wallClockMs());
      if (claims.empty()) {
        std::unique_lock<std::mutex> lock(wakeMu_);
        wake_.wait_for(lock, std::chrono::milliseconds(200));
        continue;
      }
      limiter_->acquire();
      auto& c = claims.front();
      SmsRequest req;
      req.deliveryId = std::to_string(c.row.id);
      req.to = c.row.mobile;
      req.text = c.text;
      req.maxParts = c.maxParts;
      ++counters_.submitted;
      SubmitResult r = sender_->submit(req);
      int64_t now = wallClockMs();
      switch (r.kind) {
        case SubmitResult::Kind::accepted:
          ++counters_.accepted;
          store_->markAccepted(c.row.id, r.detail, now);
          break;
        case SubmitResult::Kind::temporary:
          if (c.row.attempts >= cfg_.maxAttempts) {
            ++counters_.failed;
            store_->markFailed(c.row.id, "gave up after " + std::to_string(c.row.attempts) + " attempts: " + r.detail, now);
            log_.error("sms", "delivery " + req.deliveryId + " to " + req.to + ": gave up: " + r.detail);
          } else {
            ++counters_.retried;
            int64_t backoff = std::min<int64_t>(cfg_.retryMaxMs, cfg_.retryBaseMs << std::min(c.row.attempts - 1, 20));
            store_->markRetry(c.row.id, r.detail, now + backoff);
            log_.warn("sms", "delivery " + req.deliveryId + " to " + req.to + ": " + r.detail + "; retry in " +
                                 std::to_string(backoff) + " ms");
          }
          break;
        case SubmitResult::Kind::permanent:
          ++counters_.failed;
          store_->markFailed(c.row.id, r.detail, now);
          log_.error("sms", "delivery " + req.deliveryId + " to " + req.to + ": refused for good: " + r.detail);
          break;
      }
    }
  }

  void onReport(const httplib::Request& req, httplib::Response& res) {
    QueryParams q;
    for (auto& [k, v] : req.params) q.emplace(k, v);
    DeliveryReport rep;
    CallbackError err;
    res.set_content("ok\n", "text/plain");
    if (!parseDeliveryReport(q, rep, err)) {
      ++counters_.badCallbacks;
      log_.warn("sms", "delivery report refused: " + err.message("dlr"));
      return;
    }
    ++counters_.reports;
    int64_t id = std::atoll(rep.deliveryId.c_str());
    auto row = store_->delivery(id);
    if (!row) {
      ++counters_.unknownReports;
      log_.warn("sms", "delivery report for unknown delivery id " + rep.deliveryId + " (" + rep.raw + ")");
      return;
    }
    int64_t now = wallClockMs();
    PartReports::State st;
    {
      std::lock_guard<std::mutex> lock(partsMu_);
      auto it = parts_.try_emplace(id, kKannelFinalReportsPerMessage).first;
      st = it->second.add(rep);
      if (st != PartReports::State::pending) parts_.erase(it);
      if (parts_.size() > 100000) parts_.clear();  // bounded: only messages awaiting reports
    }
    std::string detail = std::string(dlrStatusName(rep.status)) + (rep.raw.empty() ? "" : ": " + rep.raw);
    log_.debug("sms", "report for delivery " + rep.deliveryId + ": type " + std::to_string(rep.type) + " (" +
                          detail + ") -> " + partStateName(st) + ", row was " + stateName(row->state));
    if (st == PartReports::State::delivered) {
      ++counters_.delivered;
      store_->markDelivered(id, detail, now);
    } else if (st == PartReports::State::failed) {
      ++counters_.failed;
      store_->markFailed(id, detail, now);
    } else if (rep.status == DlrStatus::smscAccepted) {
      store_->markAccepted(id, detail, now);
    }
  }

  void onReply(const httplib::Request& req, httplib::Response& res) {
    QueryParams q;
    for (auto& [k, v] : req.params) q.emplace(k, v);
    InboundSms in;
    CallbackError err;
    // An empty body: Kannel would otherwise send our answer back to the handset as an SMS.
    res.set_content("", "text/plain");
    if (!parseInboundSms(q, in, err)) {
      ++counters_.badCallbacks;
      log_.warn("sms", "reply refused: " + err.message("mo"));
      return;
    }
    ++counters_.replies;
    std::string mobile = normaliseMobile(in.from);
    if (mobile.empty()) mobile = in.from;
    int64_t now = wallClockMs();
    std::vector<std::string> persons;
    for (auto& p : roster_->byMobile(mobile)) persons.push_back(p.id);
    auto match = store_->recordAnswer(persons, mobile, in.text, now);
    if (!match.matched) {
      ++counters_.unmatchedReplies;
      log_.warn("sms", "reply from " + in.from + " not matched (" + match.reason + "): " + clip(in.text));
      return;
    }
    log_.info("sms", match.alertKey + ": answered by " + match.personId + " (" + mobile + ")" +
                         (match.first ? "" : ", again"));
    // The main thread publishes it (drainAnswers): the answer is stored, so a crash loses no ack.
  }

  static std::string clip(const std::string& s) { return s.size() > 120 ? s.substr(0, 120) + "..." : s; }

  // Stored answers become ack messages on the bus (main thread: the Client is not thread-safe). They are
  // marked published once the acks are in the durable outbox, so a crash in between republishes (the
  // broker answers "duplicate": the ack id is the answer's row id).
  void drainAnswers() {
    auto pending = store_->unpublishedAnswers(500);
    if (pending.empty()) return;
    std::vector<int64_t> done;
    for (auto& p : pending) {
      auto a = store_->alert(p.alertKey);
      if (a) {
        auto msg = ackMessage(a->sender, a->messageId, 0, derivedStatus(a->status), p.personId, p.mobile,
                              a->answerCode, p.text, p.receivedMs, p.answerId);
        client_->publish(*msg);
      }
      done.push_back(p.answerId);
    }
    client_->flush();
    store_->markAnswersPublished(done);
  }

  // Chains without an answer past their deadline: the deputy (wave 1), then the superior (wave 2).
  void escalate(int64_t now) {
    if (cfg_.maxWave == 0) return;
    for (auto& o : store_->overdue(now, cfg_.waveMs, static_cast<int>(cfg_.maxWave), 1000)) {
      Escalation e = roster_->chain(o.chainRoot);
      const std::optional<Recipient>& next = o.nextWave == 1 ? e.deputy : e.superior;
      auto a = store_->alert(o.alertKey);
      if (next && a && a->status != "actual" && !addressedBy(*a, next->personId)) {
        // A drill or test reaches only the persons its own targets name (its destination opted in to that
        // status): a participant's deputy who is a real duty officer outside the drill is never texted.
        log_.warn("sms", o.alertKey + " (" + a->status + "): " + o.chainRoot + " has not answered; " +
                             (o.nextWave == 1 ? "deputy " : "superior ") + next->personId +
                             " is not among its recipients: not escalated (a drill never leaves its lane)");
      } else if (next && a) {
        auto person = roster_->person(next->personId);
        std::string lang = person && person->language != templates_.settings.defaultLanguage ? person->language : "";
        store_->fanOut(*a, {{next->personId, next->name, next->mobile, o.nextWave, o.chainRoot, lang}}, now);
        log_.info("sms", o.alertKey + ": " + o.chainRoot + " has not answered: wave " + std::to_string(o.nextWave) +
                             " to " + next->personId);
        wake_.notify_all();
      } else {
        log_.warn("sms", o.alertKey + ": " + o.chainRoot + " has not answered and has no " +
                             (o.nextWave == 1 ? "deputy" : "superior") + " to escalate to");
      }
      store_->noteEscalated(o.alertKey, o.chainRoot, o.nextWave, now);
    }
  }

  // Whether the alert addressed `personId` (any wave, sent or waiting).
  bool addressedBy(const AlertRow& a, const std::string& personId) {
    for (auto& p : store_->reached(a.key, /*queuedToo=*/true))
      if (p.personId == personId) return true;
    return false;
  }

  void publishSummaries(int64_t now) {
    auto changed = store_->changedAlerts(100);
    if (changed.empty()) return;
    for (auto& ch : changed) {
      const std::string& key = ch.key;
      auto a = store_->alert(key);
      if (!a) continue;
      AlertSummary s = store_->summary(key);
      SummaryCounts c;
      c.recipients = s.recipients;
      c.delivered = s.delivered;
      c.failed = s.failed;
      c.pending = s.queued + s.submitted + s.accepted;
      c.expired = s.expired;
      c.cancelled = s.cancelled;
      c.answered = s.answered;
      c.escalated = s.escalated;
      c.unanswered = a->answerDeadlineMs ? s.unanswered.size() : 0;
      if (a->answerDeadlineMs)
        for (auto& pid : s.unanswered) {
          if (c.unansweredNames.size() == 20) break;
          auto p = roster_->person(pid);
          c.unansweredNames.push_back((p ? p->name : std::string("?")) + "(" + pid + ")");
        }
      uint64_t version = ++summaryVersions_[key];
      auto msg = summaryMessage(a->sender, a->messageId, derivedStatus(a->status), a->event, c, version, runTag_, now);
      client_->publish(*msg);
    }
    client_->flush();
    store_->markSummarised(changed);
  }

  Config cfg_;
  const Logger& log_;
  TemplateSet templates_;
  std::unique_ptr<DeliveryStore> store_;
  std::unique_ptr<RosterStore> roster_;
  std::unique_ptr<SmsSender> sender_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<RateLimiter> limiter_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::mutex wakeMu_;
  std::condition_variable wake_;
  httplib::Server server_;
  std::thread serverThread_;
  std::string callbackBase_;
  int listenSocket_ = -1;
  std::mutex partsMu_;
  std::map<int64_t, PartReports> parts_;
  Counters counters_;
  // Base-36 start time: summary ids of this run never repeat an earlier run's (answers.h).
  std::string runTag_ = base36(static_cast<uint64_t>(wallClockMs() / 1000));
  std::map<std::string, uint64_t> summaryVersions_;
};

bool loadConfig(const std::string& path, Config& cfg) {
  std::vector<ConfigError> errors;
  TomlReader reader(path, errors);
  toml::table root;
  if (reader.parse(root)) readConfig(reader, root, cfg);
  for (auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
  if (!errors.empty()) fprintf(stderr, "alertbus-sms: %zu error(s) in %s\n", errors.size(), path.c_str());
  return errors.empty();
}

std::string readAll(const std::string& path, std::string* err) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) {
    *err = path + ": cannot open";
    return {};
  }
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  fclose(f);
  return out;
}

int rosterImport(const Config& cfg, const std::string& file, bool replace) {
  std::string err;
  std::string bytes = readAll(file, &err);
  if (!err.empty()) {
    fprintf(stderr, "alertbus-sms: %s\n", err.c_str());
    return 1;
  }
  RosterParse parse = parseRosterCsv(bytes, file);
  for (auto& p : parse.problems) fprintf(stderr, "%s\n", p.str().c_str());
  fs::create_directories(cfg.stateDir);
  RosterStore store(cfg.stateDir + "/roster.sqlite");
  ImportReport rep;
  bool tty = isatty(2);
  bool ok = store.import(parse, replace ? ImportMode::replace : ImportMode::update,
                         [&](size_t done, size_t total) {
                           if (tty || done == total || done % 10000 == 0)
                             fprintf(stderr, "%simported %zu / %zu%s", tty ? "\r" : "", done, total, tty ? "" : "\n");
                         },
                         rep);
  if (tty) fprintf(stderr, "\n");
  if (!ok) {
    fprintf(stderr, "alertbus-sms: import refused: %s\n", rep.error.c_str());
    return 1;
  }
  printf("%s: %zu lines, %zu persons: %zu added, %zu updated, %zu unchanged, %zu removed, %zu line(s) refused\n",
         file.c_str(), parse.lines, rep.total, rep.added, rep.updated, rep.unchanged, rep.removed, parse.rejected);
  auto names = [](const std::vector<std::string>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size() && i < 50; ++i) s += (i ? " " : "") + ids[i];
    if (ids.size() > 50) s += " ... (" + std::to_string(ids.size()) + ")";
    return s;
  };
  if (!rep.removedIds.empty()) printf("removed: %s\n", names(rep.removedIds).c_str());
  if (!rep.keptIds.empty()) printf("kept as stored (their line was refused): %s\n", names(rep.keptIds).c_str());
  return parse.rejected == 0 ? 0 : 3;
}

int rosterList(const Config& cfg, const ListFilter& filter) {
  RosterStore store(cfg.stateDir + "/roster.sqlite");
  std::vector<Person> persons;
  try {
    persons = store.list(filter);
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "alertbus-sms: %s\n", e.what());
    return 2;
  }
  for (auto& p : persons) {
    std::string roles, groups;
    for (auto& r : p.roles) roles += (roles.empty() ? "" : ";") + r;
    for (auto& g : p.groups) groups += (groups.empty() ? "" : ";") + g;
    printf("%-12s %-10s %-15s %-12s roles=%s groups=%s deputy=%s superior=%s\n", p.id.c_str(), p.name.c_str(),
           p.mobile.c_str(), p.adminCode.c_str(), roles.c_str(), groups.c_str(), p.deputy.c_str(), p.superior.c_str());
  }
  printf("groups:");
  for (auto& g : store.groups()) printf(" %s(%zu)", g.name.c_str(), g.members);
  printf("\n");
  return 0;
}

int rosterCheck(const Config& cfg) {
  RosterStore store(cfg.stateDir + "/roster.sqlite");
  auto problems = store.check();
  for (auto& p : problems) printf("%s\n", p.c_str());
  printf("%zu persons, %zu problem(s)\n", store.size(), problems.size());
  return problems.empty() ? 0 : 3;
}

int templatePreview(const Config& cfg, const std::string& file, const std::string& language, const std::string& code) {
  std::vector<ConfigError> errors;
  TemplateSet set;
  if (!loadTemplateSet(cfg.templatesFile, set, errors)) {
    for (auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
    return 2;
  }
  std::string err;
  std::string json = readAll(file, &err);
  if (!err.empty()) {
    fprintf(stderr, "alertbus-sms: %s\n", err.c_str());
    return 1;
  }
  capnp::MallocMessageBuilder b;
  try {
    messageFromJson(json, b.initRoot<schema::Message>(), file);
  } catch (const std::exception& e) {
    fprintf(stderr, "alertbus-sms: %s\n", e.what());
    return 1;
  }
  RenderContext ctx;
  ctx.language = language;
  ctx.answerCode = code;
  printf("%s", preview(set, b.getRoot<schema::Message>().asReader(), ctx).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"alertbus-sms: the SMS outlet (rosters, templates, Kannel, answers)"};
  std::string configPath = "config/sms.toml";
  bool verbose = false;
  app.add_option("--config", configPath, "outlet config (every key explained in config/sms.toml)")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "log more");
  app.require_subcommand(0, 1);
  auto* runCmd = app.add_subcommand("run", "run the outlet (the default)");
  auto* roster = app.add_subcommand("roster", "the roster of duty persons");
  roster->require_subcommand(1);
  std::string importFile;
  bool replace = false;
  auto* imp = roster->add_subcommand("import", "import or update persons from CSV (id,name,mobile,roles,admin_code,groups,deputy,superior,language)");
  imp->add_option("file", importFile, "CSV file")->required();
  imp->add_flag("--replace", replace, "the file is the whole roster: persons not in it are removed");
  ListFilter filter;
  auto* list = roster->add_subcommand("list", "list persons and groups");
  list->add_option("--group", filter.group);
  list->add_option("--role", filter.role);
  list->add_option("--under", filter.adminCode, "administrative code subtree, e.g. 330212");
  list->add_option("--find", filter.text, "substring of id, name or mobile");
  list->add_option("--limit", filter.limit);
  auto* check = roster->add_subcommand("check", "report dangling deputies/superiors, cycles, duplicate mobiles");
  auto* tmpl = app.add_subcommand("template", "message templates");
  tmpl->require_subcommand(1);
  std::string previewFile, language, code = "1234";
  auto* prev = tmpl->add_subcommand("preview", "show the exact SMS segments a message (JSON) becomes");
  prev->add_option("file", previewFile, "message in the message.capnp JSON form")->required();
  prev->add_option("--language", language, "recipient language (default: the templates' default)");
  prev->add_option("--answer-code", code, "answer code to show")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  Config cfg;
  if (!loadConfig(configPath, cfg)) return 2;
  Logger log(verbose ? LogLevel::debug : LogLevel::info);
  try {
    if (imp->parsed()) return rosterImport(cfg, importFile, replace);
    if (list->parsed()) return rosterList(cfg, filter);
    if (check->parsed()) return rosterCheck(cfg);
    if (prev->parsed()) return templatePreview(cfg, previewFile, language, code);
    (void)runCmd;
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    Outlet outlet(cfg, log);
    return outlet.run();
  } catch (const std::exception& e) {
    log.error("sms", e.what());
    return 1;
  }
}
