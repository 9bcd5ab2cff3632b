// The broker's protocol state machine: sessions, publish (validate, authorise, route, journal), group
// commit, acknowledgement after durability, outlet delivery with credit, heartbeats, admin commands.
// Pure of ZeroMQ: frames come in as bytes with the peer's routing id and authenticated agency, and go
// out through a FrameSink. The transport (transport.h) owns sockets and threads.
//
// Threading: one thread (the event loop) calls every method. Durability is signalled back by the
// transport's flusher thread through onDurable(), called on the event-loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/delivery.h"
#include "broker/journal.h"
#include "common/log.h"
#include "broker/registry.h"
#include "broker/rules.h"
#include "model/codec.h"

namespace alertbus {

// Where outgoing frames go. `peer` is the routing id given to onFrame().
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Returns false if the frame could not be queued (peer gone or its pipe full); the broker counts it
  // and relies on the protocol's recovery (heartbeat timeout, redelivery after reconnect).
  // `segments` (a Frame builder's getSegmentsForOutput()) are only valid during the call.
  virtual bool send(std::string_view peer, kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) = 0;
};

// The pure half of handling a Publish: decode, validate, check the sender and the agency's permissions,
// route. Thread-safe (touches only its arguments and `scratch`), so the transport can run it on a checker
// thread while the event loop does sockets and the journal.
struct CheckedPublish {
  bool ok = false;
  bool dupCheck = false;               // refused by validation/permissions: a journaled original wins
  std::string code, field, value, reason;  // when !ok
  std::string id;
  uint8_t kind = 0;                    // alertbus::Kind
  bool urgent = false;
  std::string destinations;            // "outlet:target" joined by '\n'
  std::string origin;                  // Message.origin (CAP sender), journaled for reference lookups
  uint8_t status = 0;                  // schema::Status
  // An update or cancel: the (sender, id) of each message it references, at most kMaxFollowedReferences.
  // The event loop resolves them in the journal and adds the destinations they reached.
  std::vector<std::pair<std::string, std::string>> references;
};
// How many references of one update/cancel are followed, and how many journaled messages each may
// resolve to (the same CAP alert relayed by several agencies): bounds the journal reads per publish.
constexpr size_t kMaxFollowedReferences = 16;
constexpr size_t kMaxMessagesPerReference = 8;
struct CheckScratch {                  // reusable buffers for checkPublish (one per thread)
  MessageFacts facts;
  std::vector<Destination> destinations;
};
CheckedPublish checkPublish(const Agency& agency, const std::string& agencyName, kj::ArrayPtr<const kj::byte> message,
                            const DecodeLimits& limits, const RuleSet& rules, int64_t nowMs, CheckScratch& scratch);

// A publish handed to the checker thread, with everything it needs (snapshots keep `agency` and `rules`
// alive across configuration swaps).
struct PublishJob {
  std::string peer;
  std::string agencyName;
  std::shared_ptr<const Registry> registry;
  const Agency* agency = nullptr;
  std::shared_ptr<const RuleSet> rules;
  uint64_t token = 0;
  int64_t nowMs = 0;
  DecodeLimits limits;
  bool overloaded = false;             // not checked: answered Reject{overloaded} in order
  kj::Array<capnp::word> body;         // aligned copy of Publish.message
  size_t bodySizeBytes = 0;
  kj::ArrayPtr<const kj::byte> bodyBytes() const { return body.asBytes().slice(0, bodySizeBytes); }
};

struct BrokerOptions {
  std::string brokerId = "alertbus";
  bool curve = true;                   // false: trust Hello.agency (insecure dev/bench mode)
  DecodeLimits limits;
  uint32_t heartbeatMs = 1000;         // broker heartbeat; sessions silent 3x their interval expire
  uint32_t maxCredit = 10000;          // per subscription
  size_t outletMemoryWindow = 20000;   // entries per outlet held in memory (delivery.h)
  size_t maxPendingAcks = 200000;      // publishes journaled but not yet durable; beyond: Reject overloaded
  uint32_t maxRejectLogsPerSecond = 20;  // rejections logged per second (all are counted)
};

class BrokerCore {
 public:
  // `journal`, `sink` and `log` must outlive the core. `clock` returns UTC ms (injected for tests).
  BrokerCore(Journal& journal, FrameSink& sink, const Logger& log, std::shared_ptr<const Registry> registry,
             std::shared_ptr<const RuleSet> rules, BrokerOptions options, std::function<int64_t()> clock);
  ~BrokerCore();

  // One received frame. `userId` is the agency the ZAP handler authenticated ("" with CURVE off).
  void onFrame(std::string_view peer, const void* data, size_t size, std::string_view userId);

  // End of an event-loop turn: commits the group of appends made since the last call. Returns the id
  // of a batch whose acknowledgements wait for durability, or nullopt if there is nothing to flush.
  // The transport must call journal.flush() (on its flusher thread) and then onDurable(id).
  std::optional<uint64_t> endTurn();
  // Publishes appended since the last endTurn() (uncommitted). The transport keeps one transaction
  // open while the flusher is busy, so that one commit (and one fsync) covers what arrived meanwhile.
  size_t uncommittedAppends() const;
  // Everything committed up to batch `id` is durable: send its acks, release deliveries.
  void onDurable(uint64_t id);
  // Timers: heartbeats, dead sessions. Call at least every heartbeatMs / 2.
  void onTimer();
  // How long the event loop may sleep before onTimer() is due, in ms.
  int timerDueInMs() const;

  // Offload: when set, every Publish is handed to `submit` (in arrival order) instead of being checked
  // inline; the transport runs checkPublish() on another thread and returns each result, in the same
  // order, through onChecked() on the event-loop thread. Answers keep the publish order either way.
  void setOffload(std::function<void(PublishJob&&)> submit);
  void onChecked(PublishJob&& job, CheckedPublish&& result);
  size_t publishesBeingChecked() const;  // handed to the checker, result not yet back

  // Hot swap of configuration (validated by the caller). Sessions whose key left the registry are closed.
  void setRegistry(std::shared_ptr<const Registry> registry);
  void setRules(std::shared_ptr<const RuleSet> rules);

  std::string statusJson() const;  // what `alertbus status` shows

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace alertbus
