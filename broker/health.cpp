// Adapter and feed health, and the system messages that report its changes; see health.h.
#include "broker/health.h"

#include "broker/registry.h"  // kBrokerSender
#include "model/decode_util.h"  // formatIsoUtc
#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus {
namespace {

// Names and details come from adapters, clipped by bytes: keep them printable and valid UTF-8, so the
// message passes validation and renders in every outlet.
std::string cleanText(const std::string& s) {
  if (isCleanUtf8(s.data(), s.size())) return s;
  std::string out = s;
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return out;
}

}  // namespace

std::optional<HealthChange> HealthBoard::connected(const std::string& agency, int64_t nowMs) {
  AgencyHealth& a = agencies_[agency];
  if (a.connected) return std::nullopt;
  bool wasDown = a.everConnected;
  int64_t downSince = a.sinceMs;
  a.connected = a.everConnected = true;
  a.sinceMs = nowMs;
  a.disconnectedMs = 0;
  if (!wasDown) return std::nullopt;
  HealthChange c;
  c.agency = agency;
  c.from = "down";
  c.to = "up";
  c.fromSinceMs = downSince;
  c.sinceMs = nowMs;
  return c;
}

std::optional<HealthChange> HealthBoard::disconnected(const std::string& agency, const std::string& why,
                                                      int64_t nowMs) {
  AgencyHealth& a = agencies_[agency];
  if (!a.connected) return std::nullopt;
  HealthChange c;
  c.agency = agency;
  c.from = "up";
  c.to = "down";
  c.reason = why;
  c.fromSinceMs = a.sinceMs;
  c.sinceMs = nowMs;
  a.connected = false;
  a.sinceMs = a.disconnectedMs = nowMs;
  return c;
}

std::vector<HealthChange> HealthBoard::report(const std::string& agency, std::vector<FeedHealth> feeds,
                                              int64_t nowMs) {
  AgencyHealth& a = agencies_[agency];
  std::vector<HealthChange> changes;
  for (auto& f : feeds) {
    f.reportedMs = nowMs;
    f.sinceMs = nowMs;
    const FeedHealth* before = nullptr;
    for (auto& old : a.feeds)
      if (old.name == f.name) before = &old;
    if (before && before->state == f.state) {
      f.sinceMs = before->sinceMs;  // the same state goes on
      continue;
    }
    if (!before && f.state == "up") continue;  // a new input that works: nothing to report
    HealthChange c;
    c.agency = agency;
    c.feed = f.name;
    c.from = before ? before->state : "unknown";
    c.to = f.state;
    c.reason = f.state == "up" ? "" : f.detail;
    c.fromSinceMs = before ? before->sinceMs : 0;
    c.sinceMs = nowMs;
    c.lastOkMs = f.lastOkMs;
    changes.push_back(std::move(c));
  }
  a.feeds = std::move(feeds);
  return changes;
}

std::vector<HealthBoard::FeedView> HealthBoard::feedsOf(const std::string& agency) const {
  std::vector<FeedView> out;
  auto it = agencies_.find(agency);
  if (it == agencies_.end()) return out;
  const AgencyHealth& a = it->second;
  for (auto& f : a.feeds) {
    FeedView v{f, f.state};
    if (!a.connected && a.disconnectedMs) {
      // Nobody reports on this input any more: whatever it was, it is not known to be up.
      v.feed.state = "unknown";
      v.feed.sinceMs = a.disconnectedMs;
      v.feed.detail = "adapter disconnected " + formatIsoUtc(a.disconnectedMs) + "; last reported " + f.state +
                      (f.detail.empty() ? "" : " (" + f.detail + ")");
    }
    out.push_back(std::move(v));
  }
  return out;
}

int64_t HealthBoard::disconnectedAtMs(const std::string& agency) const {
  auto it = agencies_.find(agency);
  return it == agencies_.end() || it->second.connected ? 0 : it->second.disconnectedMs;
}

std::string healthMessageId(const std::string& runTag, uint64_t n) {
  return "broker-health-" + runTag + "-" + std::to_string(n);
}

std::string healthNarrative(const HealthChange& c) {
  std::string s = "adapter " + c.agency;
  if (!c.feed.empty()) s += ", feed " + c.feed;
  s += ": " + c.from + " -> " + c.to + " since " + formatIsoUtc(c.sinceMs);
  if (c.fromSinceMs) s += " (" + c.from + " since " + formatIsoUtc(c.fromSinceMs) + ")";
  if (!c.reason.empty()) s += ": " + c.reason;
  if (!c.feed.empty() && !c.recovered())
    s += c.lastOkMs ? "; last read " + formatIsoUtc(c.lastOkMs) : "; never read";
  return cleanText(s);
}

void buildHealthMessage(const HealthChange& c, const std::string& id, int64_t nowMs, capnp::MessageBuilder& out) {
  auto m = out.initRoot<schema::Message>();
  m.setId(id);
  m.setSender(kBrokerSender);
  m.setSentMs(nowMs);
  m.setStatus(schema::Status::SYSTEM);
  m.setMsgType(schema::MsgType::ALERT);
  // One incident per adapter or feed, so a monitor can pair a "down" with its recovery.
  m.setIncident(cleanText("feed-health:" + c.agency + (c.feed.empty() ? "" : "/" + c.feed)));
  auto s = m.initPayload().initSitrep();
  s.setEvent("feed-health");
  // The report covers the state that just ended: from when it began (if known) to the change.
  s.setPeriodStartMs(c.fromSinceMs ? c.fromSinceMs : c.sinceMs);
  s.setPeriodEndMs(c.sinceMs);
  s.setNarrative(healthNarrative(c));
  auto p = m.initProvenance();
  p.setContentType("text/plain");
  p.setSource(kBrokerSender);
  p.setReceivedMs(nowMs);
}

}  // namespace alertbus
