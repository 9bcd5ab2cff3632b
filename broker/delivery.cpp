// Outlet backlogs; see delivery.h for the invariants.
#include "broker/delivery.h"

#include <algorithm>
#include <limits>

namespace alertbus {

namespace {
// Calls fn(name, follows) for each non-empty entry of a journaled destination list: the "outlet:target"
// name and the "<seq>[,<seq>...]" it follows ("" = none).
template <typename Fn>
void forEachDestination(std::string_view destinations, Fn&& fn) {
  size_t pos = 0;
  while (pos < destinations.size()) {
    size_t end = destinations.find('\n', pos);
    if (end == std::string_view::npos) end = destinations.size();
    if (end > pos) {
      std::string_view entry = destinations.substr(pos, end - pos);
      size_t tab = entry.find('\t');
      if (tab == std::string_view::npos) fn(entry, std::string_view());
      else fn(entry.substr(0, tab), entry.substr(tab + 1));
    }
    pos = end + 1;
  }
}

// Calls fn(seq) for each seq of a "12,15" list.
template <typename Fn>
void forEachSeq(std::string_view list, Fn&& fn) {
  uint64_t v = 0;
  bool any = false;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i < list.size() && list[i] >= '0' && list[i] <= '9') {
      v = v * 10 + uint64_t(list[i] - '0');
      any = true;
    } else {
      if (any) fn(v);
      v = 0;
      any = false;
    }
  }
}

uint64_t firstSeq(std::string_view list) {
  uint64_t first = 0;
  forEachSeq(list, [&](uint64_t s) {
    if (first == 0) first = s;
  });
  return first;
}

bool ofOutlet(std::string_view name, std::string_view outlet) {
  return name.size() > outlet.size() && name.compare(0, outlet.size(), outlet) == 0 && name[outlet.size()] == ':';
}
}  // namespace

std::vector<std::string> splitDestinations(std::string_view destinations, std::vector<uint64_t>* follows) {
  std::vector<std::string> out;
  if (follows) follows->clear();
  forEachDestination(destinations, [&](std::string_view d, std::string_view f) {
    out.emplace_back(d);
    if (follows) follows->push_back(firstSeq(f));
  });
  return out;
}

std::vector<std::string> targetsFor(std::string_view destinations, std::string_view outlet,
                                    std::vector<uint64_t>* follows) {
  std::vector<std::string> out;
  if (follows) follows->clear();
  forEachDestination(destinations, [&](std::string_view d, std::string_view f) {
    if (!ofOutlet(d, outlet)) return;
    out.emplace_back(d.substr(outlet.size() + 1));
    if (follows) follows->push_back(firstSeq(f));
  });
  return out;
}

std::vector<uint64_t> followedSeqs(std::string_view destinations, std::string_view outlet) {
  std::vector<uint64_t> out;
  forEachDestination(destinations, [&](std::string_view d, std::string_view f) {
    if (f.empty() || (!outlet.empty() && !ofOutlet(d, outlet))) return;
    forEachSeq(f, [&](uint64_t s) { out.push_back(s); });
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void addFollowed(std::string& dests, std::string_view name, uint64_t seq) {
  std::string seqText = std::to_string(seq);
  size_t pos = 0;
  while (pos < dests.size()) {
    size_t end = dests.find('\n', pos);
    if (end == std::string::npos) end = dests.size();
    std::string_view entry(dests.data() + pos, end - pos);
    size_t tab = entry.find('\t');
    if (entry.substr(0, tab) == name) {
      if (tab == std::string_view::npos) {
        dests.insert(end, "\t" + seqText);
      } else {
        bool has = false;
        forEachSeq(entry.substr(tab + 1), [&](uint64_t s) { has = has || s == seq; });
        if (!has) dests.insert(end, "," + seqText);
      }
      return;
    }
    pos = end + 1;
  }
  if (!dests.empty()) dests += '\n';
  dests.append(name);
  dests += '\t';
  dests += seqText;
}

std::vector<std::string> outletsIn(std::string_view destinations) {
  std::vector<std::string> out;
  forEachDestination(destinations, [&](std::string_view d, std::string_view) {
    size_t colon = d.find(':');
    if (colon == std::string_view::npos) return;
    std::string o(d.substr(0, colon));
    if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(std::move(o));
  });
  return out;
}

OutletBacklog::OutletBacklog(std::string name, size_t memoryWindow, const OutletState& durable,
                             uint64_t journalLastSeq)
    : name_(std::move(name)), memoryWindow_(std::max<size_t>(memoryWindow, 2)) {
  ackedCursor_ = durable.cursor;
  for (uint64_t s : durable.ackedAbove)
    if (s > durable.cursor) ackedAbove_.insert(s);
  routedThrough_ = journalLastSeq;
  // After a restart everything above the durable cursor is re-read from the journal: one code path for
  // "spilled" and "restarted".
  if (journalLastSeq > durable.cursor) {
    spilled_ = true;
    spillScanPos_ = durable.cursor;
  } else {
    spillScanPos_ = journalLastSeq;
  }
}

void OutletBacklog::push(const SharedMessage& m) { (m->urgent ? urgent_ : routine_).push_back(m); }

void OutletBacklog::enqueue(const SharedMessage& m) {
  if (spilled_) return;  // it is in the journal, above spillScanPos_; refill() will read it
  if (urgent_.size() + routine_.size() >= memoryWindow_) {
    spilled_ = true;
    spillScanPos_ = m->seq - 1;
    return;
  }
  push(m);
  spillScanPos_ = m->seq;
}

void OutletBacklog::refill(Journal& journal) {
  constexpr size_t kScanBatch = 1024;
  constexpr int kMaxBatchesPerCall = 16;  // bounds the time one event-loop turn spends scanning
  for (int i = 0; i < kMaxBatchesPerCall && spilled_ && urgent_.size() + routine_.size() < memoryWindow_ / 2; ++i) {
    size_t visited = journal.scan(spillScanPos_, kScanBatch, [&](StoredMessage& row) {
      if (row.seq > routedThrough_) return false;  // not yet committed-and-routed: enqueue() will bring it
      spillScanPos_ = row.seq;
      if (ackedAbove_.count(row.seq) || inFlight_.count(row.seq)) return true;
      if (targetsFor(row.destinations, name_).empty()) return true;
      auto m = std::make_shared<QueuedMessage>();
      m->seq = row.seq;
      m->sender = std::move(row.sender);
      m->receivedMs = row.receivedMs;
      m->urgent = row.urgent;
      m->destinations = std::move(row.destinations);
      m->bodySizeBytes = row.bodySizeBytes;
      m->body = std::move(row.body);
      push(m);
      return true;
    });
    // Caught up: everything committed and routed so far has been read (seqs have no gaps).
    if (spillScanPos_ >= routedThrough_ || visited < kScanBatch) {
      spilled_ = false;
      spillScanPos_ = std::max(spillScanPos_, routedThrough_);
    }
    if (visited == 0) break;
  }
}

SharedMessage OutletBacklog::next(uint64_t durableSeq, Journal& journal) {
  if (spilled_ && urgent_.size() + routine_.size() < memoryWindow_ / 2) refill(journal);
  std::deque<SharedMessage>* from = nullptr;
  if (!urgent_.empty() && urgent_.front()->seq <= durableSeq) from = &urgent_;
  else if (!routine_.empty() && routine_.front()->seq <= durableSeq) from = &routine_;
  if (!from) return nullptr;
  SharedMessage m = from->front();
  from->pop_front();
  inFlight_.emplace(m->seq, m);
  ++delivered_;
  return m;
}

bool OutletBacklog::ack(uint64_t seq) {
  if (inFlight_.erase(seq) == 0) return false;
  // Only an ack that overtakes an outstanding lower seq needs remembering: an in-order ack is covered
  // by the cursor, which is derived from what is still outstanding.
  if (seq > cursor()) ackedAbove_.insert(seq);
  ++acknowledged_;
  dirty_ = true;
  return true;
}

void OutletBacklog::requeueInFlight() {
  if (inFlight_.empty()) return;
  std::deque<SharedMessage> u, r;
  for (auto& [seq, m] : inFlight_) (m->urgent ? u : r).push_back(m);
  inFlight_.clear();
  auto merge = [](std::deque<SharedMessage>& back, std::deque<SharedMessage>& q) {
    std::deque<SharedMessage> out;
    std::merge(back.begin(), back.end(), q.begin(), q.end(), std::back_inserter(out),
               [](const SharedMessage& a, const SharedMessage& b) { return a->seq < b->seq; });
    q.swap(out);
  };
  merge(u, urgent_);
  merge(r, routine_);
}

uint64_t OutletBacklog::cursor() const {
  uint64_t low = routedThrough_ + 1;
  if (!urgent_.empty()) low = std::min(low, urgent_.front()->seq);
  if (!routine_.empty()) low = std::min(low, routine_.front()->seq);
  if (!inFlight_.empty()) low = std::min(low, inFlight_.begin()->first);
  if (spilled_) low = std::min(low, spillScanPos_ + 1);
  // Never move backwards: a durable cursor from before a restart stays valid.
  return std::max(low - 1, ackedCursor_);
}

OutletState OutletBacklog::takeState() {
  uint64_t c = cursor();
  ackedCursor_ = c;
  ackedAbove_.erase(ackedAbove_.begin(), ackedAbove_.upper_bound(c));
  dirty_ = false;
  return OutletState{name_, c, std::vector<uint64_t>(ackedAbove_.begin(), ackedAbove_.end())};
}

OutletStats OutletBacklog::stats() const {
  OutletStats s;
  s.name = name_;
  s.cursor = cursor();
  s.queued = urgent_.size() + routine_.size();
  s.spilled = spilled_ && routedThrough_ > spillScanPos_ ? routedThrough_ - spillScanPos_ : 0;
  s.inFlight = inFlight_.size();
  s.delivered = delivered_;
  s.acknowledged = acknowledged_;
  return s;
}

}  // namespace alertbus
