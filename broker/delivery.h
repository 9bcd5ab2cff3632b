// Outlet backlogs: which journaled messages each outlet still has to receive, in what order, and how far
// each outlet has durably acknowledged. Pure of ZeroMQ; reads the journal (interface) to refill backlogs
// that spilled out of memory and to rebuild them after a restart.
//
// Invariants (per outlet):
// - every seq routed to the outlet is exactly one of: queued in memory, in the spill region
//   (seq > spillScanPos_, to be re-read from the journal), in flight to the subscriber, or acknowledged;
// - `cursor` = (lowest outstanding seq) - 1; `ackedAbove` holds acknowledged seqs above the cursor;
// - urgent (level I/II) entries are sent before routine ones; within a class, in seq order;
// - only seqs <= durableSeq (fsynced) are ever delivered.
// Single-threaded: the broker's event-loop thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/journal.h"

namespace alertbus {

struct QueuedMessage {                 // one journaled message as held in memory; shared by all outlets
  uint64_t seq = 0;
  std::string sender;
  int64_t receivedMs = 0;
  bool urgent = false;
  std::string destinations;            // "outlet:target\n..." as journaled
  kj::Array<capnp::word> body;         // aligned Message bytes
  size_t bodySizeBytes = 0;
  kj::ArrayPtr<const kj::byte> bodyBytes() const { return body.asBytes().slice(0, bodySizeBytes); }
};
using SharedMessage = std::shared_ptr<const QueuedMessage>;

// A journaled destination list is "outlet:target" entries joined by '\n'. An entry that an update or
// cancel follows from the messages it references (it reached them) carries "\t<seq>[,<seq>...]":
// "sms:typhoon-command\t12". Destination names never hold tabs (rules allow [a-z0-9_@.-] and the like).

// The targets of `destinations` that belong to `outlet` ("sms:a\nsms:b\ndashboard:c", "sms" -> {a, b}).
// With `follows`, also the first seq each target follows (0 = routed by the rules alone), in step.
std::vector<std::string> targetsFor(std::string_view destinations, std::string_view outlet,
                                    std::vector<uint64_t>* follows = nullptr);
// Every "outlet:target" entry of `destinations`, in order (what a tail shows); `follows` as above.
std::vector<std::string> splitDestinations(std::string_view destinations, std::vector<uint64_t>* follows = nullptr);
// Every seq the entries of `outlet` follow ("" = every outlet's), ascending, each once.
std::vector<uint64_t> followedSeqs(std::string_view destinations, std::string_view outlet);
// Adds "name\t<seq>" to the destination list `dests` (or the seq to the entry already named so).
void addFollowed(std::string& dests, std::string_view name, uint64_t seq);
// The distinct outlets named in `destinations`.
std::vector<std::string> outletsIn(std::string_view destinations);

struct OutletStats {
  std::string name;
  uint64_t cursor = 0;
  uint64_t queued = 0;                 // in memory, waiting
  uint64_t spilled = 0;                // upper bound of messages waiting in the journal (not yet re-read)
  uint64_t inFlight = 0;
  uint64_t delivered = 0;              // deliveries sent (incl. redeliveries) since start
  uint64_t acknowledged = 0;           // acks received since start
  bool subscribed = false;
};

class OutletBacklog {
 public:
  // `memoryWindow`: at most this many entries held in memory; beyond, new entries spill to the journal
  // and are re-read in seq order when the memory queue has drained to half.
  OutletBacklog(std::string name, size_t memoryWindow, const OutletState& durable, uint64_t journalLastSeq);

  const std::string& name() const { return name_; }

  // A committed message routed here (seq ascending across calls).
  void enqueue(const SharedMessage& m);
  // Everything up to `seq` has been routed (whether or not to this outlet): lets the cursor move past
  // seqs that were never meant for this outlet.
  void routedThrough(uint64_t seq) { routedThrough_ = seq; }

  // The next message to deliver, if one is durable (<= durableSeq) and credit allows; moves it in flight.
  // Refills from the journal first when needed. Returns nullptr if nothing to send.
  SharedMessage next(uint64_t durableSeq, Journal& journal);

  // An acknowledgement from the subscriber. Unknown or repeated seqs are ignored (returns false).
  bool ack(uint64_t seq);
  // The subscriber went away: everything in flight returns to the front of its queue.
  void requeueInFlight();

  size_t inFlight() const { return inFlight_.size(); }
  uint64_t cursor() const;
  // Durable state to persist when dirty(); clears the dirty flag.
  OutletState takeState();
  // True when the durable state should be saved: acks arrived, or the cursor moved far past the saved one
  // (so a restart does not re-scan a long stretch of journal meant for other outlets).
  bool dirty() const { return dirty_ || cursor() > ackedCursor_ + 4096; }
  OutletStats stats() const;

 private:
  void refill(Journal& journal);
  void push(const SharedMessage& m);

  std::string name_;
  size_t memoryWindow_;
  std::deque<SharedMessage> urgent_, routine_;
  std::map<uint64_t, SharedMessage> inFlight_;
  std::set<uint64_t> ackedAbove_;      // acked seqs above the cursor (persisted)
  uint64_t ackedCursor_ = 0;           // last persisted/computed cursor
  bool spilled_ = false;
  uint64_t spillScanPos_ = 0;          // seqs <= this were scanned into memory
  uint64_t routedThrough_ = 0;
  bool dirty_ = false;
  uint64_t delivered_ = 0, acknowledged_ = 0;
};

}  // namespace alertbus
