// Adapter and feed health as the broker sees it: the inputs each adapter last reported in its heartbeats,
// whether the adapter is connected, and the changes the operations monitor must hear of (an adapter or one
// of its feeds going down, and coming back), which the broker journals as `system` messages from the
// reserved sender `broker` (docs/protocol.md, "Broker system messages"). Pure: no I/O, the clock is
// passed in. Used by one thread (the broker's event loop).
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace alertbus {

// One input of an adapter, as its latest heartbeat reported it (protocol.capnp FeedStatus).
struct FeedHealth {
  std::string name;
  std::string state;        // "up" | "down" | "stale" | "unknown" (the adapter sent no state)
  std::string detail;       // why down or stale, as reported
  int64_t lastOkMs = 0;     // adapter clock: last successful read; 0 = never
  int64_t lastAttemptMs = 0;
  int64_t reportedMs = 0;   // broker clock: the heartbeat that carried this
  int64_t sinceMs = 0;      // broker clock: when the broker first heard this state (kept while it lasts)
  uint64_t accepted = 0, rejected = 0;
};

// One change worth a system message. `feed` is "" for the adapter itself (its connection).
struct HealthChange {
  std::string agency;
  std::string feed;
  std::string from, to;     // "up" | "down" | "stale" | "unknown" ("unknown": not heard of before)
  std::string reason;       // why `to`: the feed's detail, or how the session ended; "" when up
  int64_t fromSinceMs = 0;  // broker clock: when `from` began; 0 = not known
  int64_t sinceMs = 0;      // broker clock: when `to` began
  int64_t lastOkMs = 0;     // feeds: the adapter's last successful read; 0 = never
  bool recovered() const { return to == "up"; }
};

class HealthBoard {
 public:
  // The agency's first session opened (it had none). "down -> up" when it had disconnected earlier in
  // this broker's life; nothing on its first connection after the broker started (nothing to recover from).
  std::optional<HealthChange> connected(const std::string& agency, int64_t nowMs);

  // The agency's last session closed (`why`: "silent for more than 3 heartbeats", ...). From now on its
  // feeds show as "unknown" since nowMs; their last reported states are kept to compare the next report
  // with. Returns "up -> down" with `why`.
  std::optional<HealthChange> disconnected(const std::string& agency, const std::string& why, int64_t nowMs);

  // A heartbeat's feed list replaces the agency's last one (feeds no longer listed are forgotten).
  // Returns, in list order, every feed whose state differs from the state last reported for it, also
  // across a disconnect (a feed down before and up after its adapter restarted has recovered). A feed
  // reported for the first time is a change only when it is not up. Detail changes within one state are
  // not changes. Each returned change carries sinceMs = nowMs.
  std::vector<HealthChange> report(const std::string& agency, std::vector<FeedHealth> feeds, int64_t nowMs);

  // The agency's feeds as `status` shows them: as last reported while connected; once disconnected, each
  // with state "unknown" and sinceMs = the disconnect time (`lastState` in the status keeps what was
  // reported). Empty when it never reported any.
  struct FeedView {
    FeedHealth feed;
    std::string lastState;  // what the adapter last reported (differs from feed.state when unknown)
  };
  std::vector<FeedView> feedsOf(const std::string& agency) const;
  // 0 while connected or never seen; else when its last session closed (broker clock).
  int64_t disconnectedAtMs(const std::string& agency) const;

 private:
  struct AgencyHealth {
    bool connected = false;
    bool everConnected = false;
    int64_t sinceMs = 0;             // when the current connection state began
    int64_t disconnectedMs = 0;
    std::vector<FeedHealth> feeds;   // last reported, in report order
  };
  std::map<std::string, AgencyHealth> agencies_;
};

// Ids of the system messages from kBrokerSender (registry.h): "broker-health-<runTag>-<n>". `runTag` (e.g.
// the broker's start time in base 36) keeps the ids of a restarted broker, whose counter starts again
// at 1, apart from those of earlier runs.
std::string healthMessageId(const std::string& runTag, uint64_t n);

// One line for the operations monitor and the log: "adapter met, feed nbmb-atom: up -> down since
// 2026-12-07T02:00:00Z (up since ...): HTTP 503; last read 2026-...". Always valid UTF-8.
std::string healthNarrative(const HealthChange& c);

// Builds the system message reporting `c` into `out` (docs/protocol.md, "Broker system messages"):
// status system, msgType alert, sender "broker", incident "feed-health:<agency>[/<feed>]", payload a
// sitrep with event "feed-health", periodStartMs = c.sinceMs and the narrative; provenance source
// "broker". Passes validateMessage.
void buildHealthMessage(const HealthChange& c, const std::string& id, int64_t nowMs, capnp::MessageBuilder& out);

}  // namespace alertbus
