// See runtime.h. The loop: scan the watched directory, poll due feeds, read stdin, tick, let the client do
// its I/O, report feed health; every input goes through handle(): expiry, validation, de-duplication,
// then the outbox (durable) before the de-duplication record and the adapter state are committed, so a
// crash between the two republishes (and the broker answers "duplicate") rather than loses.
#include "common/clock.h"
#include "adapters/common/runtime.h"

#include <CLI/CLI.hpp>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "adapters/common/http_feed.h"
#include "adapters/common/input_health.h"
#include "adapters/common/publish_status.h"
#include "adapters/common/seen_store.h"
#include "adapters/common/watch_dir.h"
#include "client/client.h"
#include "client/connect.h"
#include "common/log.h"
#include "model/json.h"
#include "model/validate.h"

namespace alertbus::adapter {

namespace fs = std::filesystem;

bool isExpired(schema::Message::Reader m, int64_t nowMs) {
  auto p = m.getPayload();
  capnp::List<schema::Info>::Reader infos;
  if (p.isWarning())
    infos = p.getWarning();
  else if (p.isForecast())
    infos = p.getForecast();
  else
    return false;
  if (infos.size() == 0) return false;
  for (auto i : infos)
    if (i.getExpiresMs() == 0 || i.getExpiresMs() > nowMs) return false;
  return true;
}

namespace {

std::atomic<bool> gStop{false};
void onSignal(int) { gStop = true; }

std::string isoTime(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Everything the config file says (config/<adapter>.toml documents each key).
struct CommonConfig {
  ConnectSettings connect;  // [broker]; outbox and client name filled in at connect
  std::string stateDir;
  int64_t seenRetentionDays = 30;
  std::string watchDir;
  int64_t scanIntervalMs = 1000;
  int64_t maxInputBytes = 16 << 20;
  int64_t maxFetchPerInput = 50;
  int64_t staleAfterMs = 0;       // watched directory and stdin: quiet this long = stale; 0 = never
  std::vector<HttpFeedConfig> feeds;
  PublishSettings publish;  // [publish]: the status lane of everything published (publish_status.h)
};

void readCommon(TomlReader& r, const toml::table& root, const std::string& adapter, CommonConfig& c) {
  r.checkKeys(root, "", {"broker", "state", "input", "feed", "publish", adapter});
  readPublishTable(r, r.table(root, "publish", ""), c.publish);
  if (auto* t = r.table(root, "broker", "")) readBrokerTable(r, *t, c.connect);
  if (auto* t = r.table(root, "state", "")) {
    r.checkKeys(*t, "state", {"dir", "seen_retention_days"});
    r.getPath(*t, "dir", c.stateDir, "state");
    r.getInt(*t, "seen_retention_days", c.seenRetentionDays, 1, 3650, "state");
  }
  if (auto* t = r.table(root, "input", "")) {
    r.checkKeys(*t, "input",
                {"watch_dir", "scan_interval_ms", "max_input_bytes", "max_fetch_per_input", "stale_after_s"});
    r.getPath(*t, "watch_dir", c.watchDir, "input");
    r.getInt(*t, "scan_interval_ms", c.scanIntervalMs, 50, 3600000, "input");
    r.getInt(*t, "max_input_bytes", c.maxInputBytes, 1024, int64_t(1) << 30, "input");
    r.getInt(*t, "max_fetch_per_input", c.maxFetchPerInput, 0, 10000, "input");
    int64_t staleS = 0;
    r.getInt(*t, "stale_after_s", staleS, 0, 7 * 86400, "input");
    c.staleAfterMs = staleS * 1000;
  }
  if (auto* n = root.get("feed")) {
    auto* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      r.err(n, "feed: expected [[feed]] tables");
    } else {
      for (auto& e : *arr) {
        auto& t = *e.as_table();
        HttpFeedConfig f;
        r.checkKeys(t, "feed", {"name", "url", "interval_s", "timeout_s", "stale_after_s", "max_bytes", "ca_file",
                                "headers"});
        r.getString(t, "name", f.name, "feed");
        r.getString(t, "url", f.url, "feed");
        int64_t interval = 60, timeout = 10, stale = 0, maxBytes = f.maxBytes;
        r.getInt(t, "interval_s", interval, 1, 86400, "feed");
        r.getInt(t, "timeout_s", timeout, 1, 600, "feed");
        r.getInt(t, "stale_after_s", stale, 0, 7 * 86400, "feed");
        r.getInt(t, "max_bytes", maxBytes, 1024, int64_t(1) << 30, "feed");
        r.getPath(t, "ca_file", f.caFile, "feed");
        f.intervalMs = interval * 1000;
        f.timeoutMs = timeout * 1000;
        f.staleAfterMs = stale * 1000;
        f.maxBytes = static_cast<uint64_t>(maxBytes);
        if (auto* h = r.table(t, "headers", "feed")) {
          for (auto& [k, v] : *h) {
            if (!v.is_string())
              r.err(&v, "feed.headers." + std::string(k.str()) + ": expected a string");
            else
              f.headers.emplace_back(std::string(k.str()), **v.as_string());
          }
        }
        if (f.name.empty()) r.err(&e, "feed: name is required");
        if (!isHttpUrl(f.url)) r.err(&e, "feed '" + f.name + "': url '" + f.url + "' is not an http:// or https:// URL");
        for (auto& other : c.feeds)
          if (other.name == f.name) r.err(&e, "feed '" + f.name + "': name used twice");
        c.feeds.push_back(std::move(f));
      }
    }
  }
  if (c.stateDir.empty()) c.stateDir = r.resolve("../var/adapters/" + adapter);
}

// Per-input tallies, for the log line, the reason file and the feed health counters.
struct Tally {
  size_t published = 0, duplicates = 0, expired = 0, invalid = 0;
  size_t accepted = 0, rejected = 0, errors = 0;
  std::string reasons;  // one problem per line
  std::string unreadable;  // the document itself (not what it links to) was refused whole: why (input_health.h)
};

class Runner {
 public:
  Runner(const AdapterSpec& spec, CommonConfig cfg, bool dryRun, const Logger& log)
      : spec_(spec),
        cfg_(std::move(cfg)),
        dryRun_(dryRun),
        log_(log),
        watchInput_(cfg_.staleAfterMs, wallClockMs()),
        stdinInput_(cfg_.staleAfterMs, wallClockMs()) {}

  int run(const std::vector<std::string>& files, bool useStdin, bool once) {
    useStdin_ = useStdin;
    if (!dryRun_) {
      std::error_code ec;
      fs::create_directories(cfg_.stateDir, ec);
      if (ec) {
        log_.error(spec_.name, cfg_.stateDir + ": cannot create state directory: " + ec.message());
        return 1;
      }
    }
    try {
      seen_ = std::make_unique<SeenStore>(dryRun_ ? "" : cfg_.stateDir + "/seen.sqlite");
      if (!dryRun_) {
        seen_->prune(wallClockMs() - cfg_.seenRetentionDays * 86400000LL);
        seen_->commit();
      }
      if (spec_.loadState && !dryRun_) {
        std::string st = seen_->loadState(), err;
        if (!st.empty() && !spec_.loadState(st, &err)) {
          log_.error(spec_.name, cfg_.stateDir + "/seen.sqlite: adapter state unreadable: " + err);
          return 1;
        }
      }
      if (!dryRun_) connect();
      if (!cfg_.watchDir.empty()) watch_.emplace(cfg_.watchDir);
    } catch (const std::exception& e) {
      log_.error(spec_.name, e.what());
      return 1;
    }
    for (auto& f : cfg_.feeds) feeds_.emplace_back(f);
    for (auto& f : files) processFile(f, false);
    bool stdinOpen = useStdin;
    std::string stdinBuf;
    bool stdinTooBig = false;
    int64_t nextScan = 0, nextTick = wallClockMs() + spec_.tickMs;
    // A dry run reads what is there once; it never waits for more.
    bool runOnce = once || dryRun_;
    bool everyFeedPolledOnce = false;
    int64_t drainSinceMs = 0;
    while (!gStop) {
      int64_t now = wallClockMs();
      if (watch_ && now >= nextScan) {
        scanWatchDir(now);
        nextScan = now + cfg_.scanIntervalMs;
      }
      for (auto& f : feeds_)
        if (f.due(now) && !(runOnce && everyFeedPolledOnce)) pollFeed(f, now);
      everyFeedPolledOnce = true;
      if (stdinOpen) stdinOpen = readStdin(stdinBuf, stdinTooBig);
      if (spec_.tick && now >= nextTick) {
        nextTick = now + spec_.tickMs;
        Output out = spec_.tick(now);
        if (!out.messages.empty() || !out.problems.empty()) handle(std::move(out), "timer", now);
        finishInput();
      }
      reportFeeds(now);
      bool inputsDone = !stdinOpen && (runOnce || (!useStdin ? false : feeds_.empty() && !watch_));
      if (client_) {
        client_->poll(stdinOpen ? 20 : 100);
        if (inputsDone && client_->pending() == 0) break;
        if (inputsDone && drainSinceMs == 0) drainSinceMs = now;
        if (inputsDone && now - drainSinceMs > kDrainTimeoutMs) {
          log_.error(spec_.name, "broker did not acknowledge within " + std::to_string(kDrainTimeoutMs / 1000) + " s");
          failed_ = true;
          break;
        }
      } else {
        if (inputsDone) break;
        if (!stdinOpen) {
          struct pollfd none {};
          ::poll(&none, 0, 100);
        }
      }
    }
    if (client_) {
      try {
        client_->flush();
      } catch (const std::exception& e) {
        log_.error(spec_.name, e.what());
      }
      if (client_->pending() > 0)
        log_.warn(spec_.name, std::to_string(client_->pending()) +
                                  " message(s) not yet acknowledged stay in the outbox and are sent at the next start");
    }
    if (seen_) seen_->commit();
    return failed_ ? 1 : 0;
  }

 private:
  void connect() {
    ConnectSettings s = cfg_.connect;
    if (s.clientName.empty()) s.clientName = "alertbus-" + spec_.name;
    s.outboxPath = cfg_.stateDir + "/outbox.sqlite";
    client_ = connectClient(s);
    client_->onAck = [this](uint64_t token, uint64_t seq, bool dup) {
      auto it = tokens_.find(token);
      if (it == tokens_.end()) return;
      log_.debug(spec_.name, it->second + ": journaled as seq " + std::to_string(seq) + (dup ? " (duplicate)" : ""));
      tokens_.erase(it);
    };
    client_->onReject = [this](uint64_t token, const RejectInfo& r) {
      auto it = tokens_.find(token);
      std::string id = it == tokens_.end() ? "token " + std::to_string(token) : it->second;
      if (it != tokens_.end()) tokens_.erase(it);
      log_.error(spec_.name, "broker refused " + id + ": " + r.code + ": " + r.field + "=" + r.value + ": " + r.reason);
    };
    client_->onError = [this](const RejectInfo& r) {
      log_.error(spec_.name, "broker: " + r.code + ": " + r.field + "=" + r.value + ": " + r.reason);
    };
    client_->onConnection = [this](bool up) {
      log_.info(spec_.name, up ? "connected to the broker as " + client_->agency() : "broker connection lost");
    };
    if (!spec_.subscribeOutlet.empty() && spec_.onDelivery) {
      client_->onDeliver = [this](const Delivery& d) {
        int64_t now = wallClockMs();
        // The broker names the sender beside the message; put it in, so references to it are complete.
        capnp::MallocMessageBuilder copy;
        copy.setRoot(d.message);
        auto m = copy.getRoot<schema::Message>();
        if (m.getSender().size() == 0) m.setSender(d.sender);
        Output out = spec_.onDelivery(m.asReader(), now);
        handle(std::move(out), "delivery seq " + std::to_string(d.seq), now);
        finishInput();
        client_->ack(d.seq);
      };
      client_->subscribe(spec_.subscribeOutlet, 100);
    }
  }

  // Expiry, validation, de-duplication, then publish (or print). Problems are logged and tallied.
  Tally handle(Output out, const std::string& source, int64_t now) {
    applyPublishStatus(out, cfg_.publish);  // before validation and de-duplication: what is published is this
    Tally t;
    t.accepted = out.accepted;
    t.rejected = out.rejected;
    for (auto& p : out.problems) note(t, p);
    for (auto& m : out.messages) {
      auto msg = m->getRoot<schema::Message>().asReader();
      std::string id(msg.getId().cStr(), msg.getId().size());
      if (isExpired(msg, now)) {
        ++t.expired;
        InputProblem p{InputProblem::Level::warning, source, "message " + id, "expires",
                       isoTime(latestExpiry(msg)), "already expired (now " + isoTime(now) + "): not published"};
        note(t, p);
        continue;
      }
      if (auto bad = validateMessage(msg, now)) {
        ++t.invalid;
        note(t, InputProblem{InputProblem::Level::error, source, "message " + id, bad->field, bad->value,
                             bad->reason + " (" + bad->code + ")"});
        continue;
      }
      auto original = msg.getProvenance().getOriginal();
      uint64_t hash = contentHash(std::string_view(reinterpret_cast<const char*>(original.begin()), original.size()));
      auto verdict = seen_->check(id, hash);
      if (verdict == SeenStore::Verdict::duplicate) {
        ++t.duplicates;
        continue;
      }
      if (verdict == SeenStore::Verdict::changed) {
        ++t.duplicates;
        note(t, InputProblem{InputProblem::Level::warning, source, "message " + id, "id", clipValue(id),
                             "already published with other content; an identifier names one message, so this one is "
                             "not published (send an Update with a new identifier)"});
        continue;
      }
      if (dryRun_) {
        std::string json = messageToJson(msg);
        fwrite(json.data(), 1, json.size(), stdout);
        fputc('\n', stdout);
      } else {
        uint64_t token = client_->publish(*m);
        if (tokens_.size() < 100000) tokens_[token] = id;
      }
      seen_->remember(id, hash, now);
      ++t.published;
    }
    return t;
  }

  static int64_t latestExpiry(schema::Message::Reader m) {
    int64_t e = 0;
    auto p = m.getPayload();
    if (p.isWarning())
      for (auto i : p.getWarning()) e = std::max(e, i.getExpiresMs());
    if (p.isForecast())
      for (auto i : p.getForecast()) e = std::max(e, i.getExpiresMs());
    return e;
  }

  void note(Tally& t, const InputProblem& p) {
    std::string line = p.str();
    if (p.level == InputProblem::Level::error) {
      ++t.errors;
      log_.warn(spec_.name, line);
    } else {
      log_.info(spec_.name, line);
    }
    if (t.reasons.size() < (1 << 20)) t.reasons += line + "\n";
  }

  // The input's messages are in the outbox: make them durable, then the de-duplication records and the
  // adapter's state (in that order: a crash in between republishes, never loses).
  void finishInput() {
    if (client_) client_->flush();
    if (spec_.saveState && !dryRun_) seen_->saveState(spec_.saveState());
    seen_->commit();
  }

  Tally processBytes(std::string_view bytes, const std::string& source, int64_t now, int depth) {
    Output out = spec_.parseDocument(bytes, source, now);
    std::vector<std::string> urls = std::move(out.fetchUrls);
    std::string unreadable = depth == 0 ? unreadableBody(out) : "";
    Tally t = handle(std::move(out), source, now);
    t.unreadable = std::move(unreadable);
    // Documents the input links to (CAP entries of an Atom index): fetched now, bounded, one level deep.
    size_t n = 0;
    for (auto& url : urls) {
      if (depth > 0 || n++ >= static_cast<size_t>(cfg_.maxFetchPerInput)) {
        note(t, InputProblem{InputProblem::Level::warning, source, "link", "href", clipValue(url),
                             depth > 0 ? "links inside linked documents are not followed"
                                       : "more than " + std::to_string(cfg_.maxFetchPerInput) + " links: not fetched"});
        continue;
      }
      // Linked documents are fetched with the first feed's settings (timeouts, headers, CA), if any.
      HttpFeedConfig hc = feeds_.empty() ? HttpFeedConfig{} : feeds_.front().config();
      hc.maxBytes = static_cast<uint64_t>(cfg_.maxInputBytes);
      FetchResult r = httpGet(url, "", "", hc);
      if (r.kind != FetchResult::Kind::ok) {
        ++t.rejected;
        note(t, InputProblem{InputProblem::Level::error, source, "link", "href", clipValue(url), "fetch failed: " + r.error});
        continue;
      }
      Tally sub = processBytes(r.body, url, now, depth + 1);
      merge(t, sub);
    }
    return t;
  }

  static void merge(Tally& t, const Tally& s) {
    t.published += s.published;
    t.duplicates += s.duplicates;
    t.expired += s.expired;
    t.invalid += s.invalid;
    t.accepted += s.accepted;
    t.rejected += s.rejected;
    t.errors += s.errors;
    t.reasons += s.reasons;
  }

  void summary(const std::string& source, const Tally& t) {
    log_.info(spec_.name, source + ": " + std::to_string(t.published) + (dryRun_ ? " printed (dry run), " : " published, ") +
                              std::to_string(t.duplicates) + " already published, " + std::to_string(t.expired) +
                              " expired, " + std::to_string(t.errors) + " problem(s)");
  }

  // A file named on the command line (never moved) or found in the watched directory (moved after).
  void processFile(const std::string& path, bool fromWatch) {
    int64_t now = wallClockMs();
    std::string bytes, err;
    Tally t;
    if (!readFileBounded(path, static_cast<uint64_t>(cfg_.maxInputBytes), bytes, &err)) {
      ++t.rejected;
      note(t, InputProblem{InputProblem::Level::error, path, "file", "file", "", err});
    } else {
      t = processBytes(bytes, path, now, 0);
    }
    try {
      finishInput();
    } catch (const std::exception& e) {
      // The outbox or state file cannot be written: leave the file where it is to be read again.
      log_.error(spec_.name, std::string(e.what()) + "; " + path + " stays in place");
      failed_ = true;
      return;
    }
    summary(path, t);
    watchAccepted_ += t.accepted;
    watchRejected_ += t.rejected;
    if (!fromWatch || dryRun_) return;
    // All of it refused (nothing published, at least one error): failed/. Otherwise done/, with the
    // reasons for what was not taken beside it.
    bool failed = t.errors > 0 && t.published == 0 && t.duplicates == 0 && t.accepted == 0;
    try {
      std::string to = watch_->finish(path, failed, t.reasons);
      log_.debug(spec_.name, path + " -> " + to);
    } catch (const std::exception& e) {
      log_.error(spec_.name, e.what());
      failed_ = true;
    }
  }

  void scanWatchDir(int64_t now) {
    std::string err;
    auto files = watch_->ready(64, &err);
    watchLastAttemptMs_ = now;
    if (!err.empty()) {
      if (watchError_ != err) log_.error(spec_.name, err);
      watchError_ = err;
      return;
    }
    watchError_.clear();
    watchLastOkMs_ = now;
    if (!files.empty()) watchInput_.received(now);
    for (auto& f : files) {
      if (gStop) break;
      processFile(f, true);
    }
  }

  void pollFeed(HttpFeed& f, int64_t now) {
    FetchResult r = f.poll(now);
    const auto& name = f.config().name;
    if (r.kind == FetchResult::Kind::failed) {
      log_.warn(spec_.name, "feed " + name + " (" + f.config().url + ") down: " + r.error);
      return;
    }
    if (r.kind == FetchResult::Kind::notModified) {
      log_.debug(spec_.name, "feed " + name + ": not modified");
      return;
    }
    Tally t = processBytes(r.body, f.config().url, now, 0);
    if (!t.unreadable.empty()) {
      // A 200 that is an error page, a truncated or foreign document: down, never "no alerts".
      f.bodyUnreadable(t.unreadable);
      log_.warn(spec_.name, "feed " + name + " (" + f.config().url + ") down: " + t.unreadable);
    }
    try {
      finishInput();
    } catch (const std::exception& e) {
      log_.error(spec_.name, e.what());
      failed_ = true;
    }
    feedCounts_[name].first += t.accepted;
    feedCounts_[name].second += t.rejected;
    if (t.published || t.errors) summary("feed " + name, t);
  }

  // Returns false once stdin is closed (and, in document mode, parsed).
  bool readStdin(std::string& buf, bool& tooBig) {
    struct pollfd p {0, POLLIN, 0};
    int ready = ::poll(&p, 1, client_ ? 0 : 100);
    if (ready <= 0) return true;
    char chunk[65536];
    ssize_t n = ::read(0, chunk, sizeof chunk);
    int64_t now = wallClockMs();
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    stdinLastOkMs_ = now;
    if (n > 0) stdinInput_.received(now);
    if (n == 0) {
      if (spec_.parseLine) {
        if (!buf.empty()) stdinLine(buf, now);
      } else if (tooBig) {
        Tally t;
        ++t.rejected;
        note(t, InputProblem{InputProblem::Level::error, "stdin", "input", "size", std::to_string(buf.size()) + "+ bytes",
                             "larger than input.max_input_bytes; nothing read"});
      } else {
        Tally t = processBytes(buf, "stdin", now, 0);
        finishInput();
        summary("stdin", t);
        stdinAccepted_ += t.accepted;
        stdinRejected_ += t.rejected;
      }
      buf.clear();
      stdinClosed_ = true;
      return false;
    }
    if (!spec_.parseLine) {
      if (buf.size() + static_cast<size_t>(n) > static_cast<size_t>(cfg_.maxInputBytes))
        tooBig = true;
      else if (!tooBig)
        buf.append(chunk, static_cast<size_t>(n));
      return true;
    }
    buf.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1)
      stdinLine(std::string_view(buf).substr(start, nl - start), now);
    buf.erase(0, start);
    if (buf.size() > kMaxLineBytes) {  // a "line" this long is not one: drop it, say so
      Tally t;
      note(t, InputProblem{InputProblem::Level::error, "stdin", "line " + std::to_string(stdinLines_ + 1), "line",
                           std::to_string(buf.size()) + " bytes", "longer than 65536 bytes without a line end: dropped"});
      buf.clear();
    }
    return true;
  }

  static constexpr size_t kMaxLineBytes = 65536;
  static constexpr int64_t kDrainTimeoutMs = 30000;  // --once: how long to wait for the broker's acks

  void stdinLine(std::string_view line, int64_t now) {
    ++stdinLines_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Output out = spec_.parseLine(line, "stdin", now);
    stdinAccepted_ += out.accepted;
    stdinRejected_ += out.rejected;
    if (out.messages.empty() && out.problems.empty()) return;
    handle(std::move(out), "stdin", now);
    finishInput();
  }

  void reportFeeds(int64_t now) {
    if (!client_ || now < nextFeedReportMs_) return;
    nextFeedReportMs_ = now + 500;
    std::vector<FeedReport> reports;
    if (watch_) {
      FeedReport r;
      r.name = "watch:" + watch_->dir();
      r.state = !watchError_.empty()       ? FeedReport::State::down
                : watchInput_.stale(now) ? FeedReport::State::stale
                                         : FeedReport::State::up;
      r.detail = !watchError_.empty() ? watchError_ : watchInput_.stale(now) ? watchInput_.staleDetail() : "";
      r.lastOkMs = watchLastOkMs_;
      r.lastAttemptMs = watchLastAttemptMs_;
      r.accepted = watchAccepted_;
      r.rejected = watchRejected_;
      reports.push_back(r);
    }
    for (auto& f : feeds_) {
      FeedReport r;
      r.name = f.config().name;
      auto st = f.state(now);
      r.state = st == HttpFeed::State::down    ? FeedReport::State::down
                : st == HttpFeed::State::stale ? FeedReport::State::stale
                                               : FeedReport::State::up;
      r.detail = st == HttpFeed::State::stale ? "no successful poll since " + isoTime(f.lastOkMs()) : f.lastError();
      if (st == HttpFeed::State::unknown) r.detail = "not polled yet";
      r.lastOkMs = f.lastOkMs();
      r.lastAttemptMs = f.lastAttemptMs();
      r.accepted = feedCounts_[r.name].first;
      r.rejected = feedCounts_[r.name].second;
      reports.push_back(r);
    }
    if (useStdin_) {
      FeedReport r;
      r.name = "stdin";
      r.state = stdinClosed_             ? FeedReport::State::down
                : stdinInput_.stale(now) ? FeedReport::State::stale
                                         : FeedReport::State::up;
      r.detail = stdinClosed_ ? "stdin closed" : stdinInput_.stale(now) ? stdinInput_.staleDetail() : "";
      r.lastOkMs = stdinLastOkMs_;
      r.lastAttemptMs = stdinLastOkMs_;
      r.accepted = stdinAccepted_;
      r.rejected = stdinRejected_;
      reports.push_back(r);
    }
    client_->setFeeds(std::move(reports));
  }

  const AdapterSpec& spec_;
  CommonConfig cfg_;
  bool dryRun_;
  const Logger& log_;
  std::unique_ptr<SeenStore> seen_;
  std::unique_ptr<Client> client_;
  std::optional<WatchDir> watch_;
  std::vector<HttpFeed> feeds_;
  std::map<uint64_t, std::string> tokens_;  // publish token -> message id, for log lines; bounded
  std::map<std::string, std::pair<uint64_t, uint64_t>> feedCounts_;
  std::string watchError_;
  int64_t watchLastOkMs_ = 0, watchLastAttemptMs_ = 0, nextFeedReportMs_ = 0, stdinLastOkMs_ = 0;
  uint64_t watchAccepted_ = 0, watchRejected_ = 0, stdinAccepted_ = 0, stdinRejected_ = 0, stdinLines_ = 0;
  bool stdinClosed_ = false;
  bool useStdin_ = false;
  QuietInput watchInput_, stdinInput_;  // when files and stdin bytes last arrived (input.stale_after_s)
  bool failed_ = false;
};

// --check DIR: what would be accepted and rejected, per file, without publishing anything.
int checkCorpus(const AdapterSpec& spec, const std::string& dir, uint64_t maxBytes) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    files.push_back(dir);
  } else {
    fs::recursive_directory_iterator it(dir, ec), end;
    if (ec) {
      fprintf(stderr, "alertbus-%s: %s: cannot read: %s\n", spec.name.c_str(), dir.c_str(), ec.message().c_str());
      return 1;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  size_t totalAccepted = 0, totalRejected = 0, inputsAccepted = 0, inputsRejected = 0;
  int64_t now = wallClockMs();
  for (auto& f : files) {
    std::string bytes, err;
    if (!readFileBounded(f, maxBytes, bytes, &err)) {
      printf("%s: unreadable: %s\n", f.c_str(), err.c_str());
      continue;
    }
    Output out = spec.parseDocument(bytes, f, now);
    size_t ok = 0, expired = 0, invalid = 0;
    std::string lines;
    for (auto& m : out.messages) {
      auto msg = m->getRoot<schema::Message>().asReader();
      std::string id(msg.getId().cStr(), msg.getId().size());
      if (auto bad = validateMessage(msg, now); bad && bad->code != "expired") {
        ++invalid;
        lines += "  invalid " + id + ": " + bad->field + "=" + bad->value + ": " + bad->reason + "\n";
      } else if (isExpired(msg, now) || bad) {
        ++expired;  // a capture of an old alert: well-formed, but it would not be published today
        ++ok;
      } else {
        ++ok;
      }
    }
    for (auto& p : out.problems) lines += "  " + p.str() + "\n";
    for (auto& u : out.fetchUrls) lines += "  link (would be fetched): " + u + "\n";
    printf("%s: %zu input(s) accepted, %zu rejected; %zu message(s) accepted (%zu already expired), %zu invalid, "
           "%zu problem(s)\n%s",
           f.c_str(), out.accepted, out.rejected, ok, expired, invalid, out.problems.size(), lines.c_str());
    totalAccepted += ok;
    totalRejected += out.rejected + invalid;
    inputsAccepted += out.accepted;
    inputsRejected += out.rejected;
  }
  printf("%zu file(s): %zu message(s) accepted, %zu rejected; inputs (records, lines, documents): %zu accepted, "
         "%zu rejected\n",
         files.size(), totalAccepted, totalRejected, inputsAccepted, inputsRejected);
  return 0;
}

}  // namespace

int runAdapter(const AdapterSpec& spec, int argc, char** argv) {
  CLI::App app{"alertbus-" + spec.name + ": " + spec.summary};
  std::string configPath = "config/" + spec.name + ".toml";
  bool dryRun = false, useStdin = false, once = false, verbose = false;
  std::string checkDir, stateDir, watchDir;
  std::vector<std::string> files;
  ConnectSettings overrides;  // flags over the config file: only what is given
  overrides.brokerFile.clear();
  overrides.keyFile.clear();
  app.add_option("--config", configPath, "adapter config file (every key explained in config/)")->capture_default_str();
  app.add_flag("--dry-run", dryRun, "print the messages it would publish (JSON, one per line) without connecting");
  app.add_flag("--stdin", useStdin, "read input from standard input");
  app.add_flag("--once", once, "process what is there (files, watched directory, one poll of each feed), wait for "
                               "the broker's acks, exit");
  app.add_option("--check", checkDir, "corpus check: print per file what would be accepted and rejected, and why");
  app.add_option("--state-dir", stateDir, "override state.dir (outbox, de-duplication records, adapter state)");
  app.add_option("--watch", watchDir, "override input.watch_dir");
  app.add_option("--broker-file", overrides.brokerFile, "override broker.broker_file");
  app.add_option("--endpoint", overrides.endpoint, "override broker.endpoint");
  app.add_option("--key", overrides.keyFile, "override broker.key_file");
  app.add_flag("-v,--verbose", verbose, "log every message handed to the broker");
  app.add_option("files", files, "input files to process once (not moved)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  Logger log(verbose ? LogLevel::debug : LogLevel::info);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<ConfigError> errors;
  TomlReader reader(configPath, errors);
  toml::table root;
  CommonConfig cfg;
  if (reader.parse(root)) {
    readCommon(reader, root, spec.name, cfg);
    const toml::table* own = reader.table(root, spec.name, "");
    if (spec.configure) spec.configure(reader, own);
  }
  if (!errors.empty()) {
    for (auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
    fprintf(stderr, "alertbus-%s: %zu error(s) in %s\n", spec.name.c_str(), errors.size(), configPath.c_str());
    return 2;
  }
  if (!checkDir.empty()) return checkCorpus(spec, checkDir, static_cast<uint64_t>(cfg.maxInputBytes));
  if (!stateDir.empty()) cfg.stateDir = fs::absolute(stateDir).string();
  if (!watchDir.empty()) cfg.watchDir = fs::absolute(watchDir).string();
  applyOverrides(cfg.connect, overrides);
  if (useStdin && spec.parseLine == nullptr) once = true;
  if (cfg.publish.status != schema::Status::ACTUAL)
    log.info(spec.name, std::string("[publish] status = ") + publishStatusName(cfg.publish) +
                            ": everything this adapter publishes has that status, whatever its input says");
  Runner runner(spec, std::move(cfg), dryRun, log);
  try {
    return runner.run(files, useStdin, once || !files.empty());
  } catch (const std::exception& e) {
    log.error(spec.name, e.what());
    return 1;
  }
}

}  // namespace alertbus::adapter
