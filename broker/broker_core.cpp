// The broker's protocol state machine; see broker_core.h for the contract and docs/protocol.md for the
// conversation it implements.
#include "broker/broker_core.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <set>

#include "broker/health.h"
#include "common/clock.h"
#include "model/facts.h"
#include "model/validate.h"
#include "schemas/protocol.capnp.h"

namespace alertbus {
namespace {

using schema::Frame;

std::string hexPeer(std::string_view peer) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : peer) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

schema::RejectCode rejectCodeOf(std::string_view code) {
  if (code == "malformed") return schema::RejectCode::MALFORMED;
  if (code == "tooLarge") return schema::RejectCode::TOO_LARGE;
  if (code == "invalid") return schema::RejectCode::INVALID;
  if (code == "notPermitted") return schema::RejectCode::NOT_PERMITTED;
  if (code == "notReady") return schema::RejectCode::NOT_READY;
  if (code == "expired") return schema::RejectCode::EXPIRED;
  if (code == "overloaded") return schema::RejectCode::OVERLOADED;
  return schema::RejectCode::INTERNAL;
}

// Appends routed destinations to a journaled destination list ("outlet:target" joined by '\n'), in
// place: the publish hot path allocates nothing once `out` has grown.
void appendDestinations(const std::vector<Destination>& ds, std::string& out) {
  for (auto& d : ds) {
    if (!out.empty()) out += '\n';
    out += d.outlet;
    out += ':';
    out += d.target;
  }
}

schema::Role roleOf(AgencyRole r) {
  switch (r) {
    case AgencyRole::adapter: return schema::Role::ADAPTER;
    case AgencyRole::outlet: return schema::Role::OUTLET;
    case AgencyRole::admin: return schema::Role::ADMIN;
  }
  return schema::Role::UNSPECIFIED;
}

struct Response {           // an answer to a Publish, released once its batch is durable
  std::string peer;
  uint64_t token = 0;
  uint64_t seq = 0;         // 0 = reject
  bool duplicate = false;
  std::string code, field, value, reason;  // reject only
};

struct Batch {
  uint64_t id = 0;
  bool open = false;                       // journal.begin() called
  std::vector<Response> responses;
  std::vector<SharedMessage> messages;     // appended (not duplicate) in this batch
  uint64_t maxSeq = 0;
};

struct Session {
  std::string peer;
  std::string agencyName;
  std::shared_ptr<const Registry> registry;  // keeps `agency` valid across registry swaps
  const Agency* agency = nullptr;
  std::string clientName;
  int64_t connectedMs = 0;
  int64_t lastHeardMs = 0;
  int64_t lastSentMs = 0;
  uint32_t peerHeartbeatMs = 0;
  std::string outlet;                      // subscribed outlet ("" none, "*" tail)
  uint32_t credit = 0;
  // tail only:
  uint64_t tailPos = 0;
  std::set<uint64_t> tailInFlight;
  uint64_t published = 0, rejected = 0;
};

// An adapter's reports of its inputs are kept in a HealthBoard (health.h).
constexpr size_t kMaxFeedsPerAgency = 32;     // more in one heartbeat are ignored (bounded status)
constexpr size_t kMaxFeedTextBytes = 200;     // name and detail are clipped to this

}  // namespace

struct BrokerCore::Impl {
  Journal& journal;
  FrameSink& sink;
  const Logger& log;
  std::shared_ptr<const Registry> registry;
  std::shared_ptr<const RuleSet> rules;
  BrokerOptions opt;
  std::function<int64_t()> clock;

  std::unordered_map<std::string, Session> sessions;
  std::map<std::string, std::unique_ptr<OutletBacklog>> outlets;
  std::map<std::string, std::string> subscriberOf;  // outlet -> peer
  std::map<std::string, int64_t> lastHeardByAgency;
  HealthBoard health;                      // adapters' feeds (kept after disconnect) and connections
  std::string healthRunTag;                // base 36 of the start time: ids of this run's system messages
  uint64_t healthMessages = 0;             // system messages of this run (the id counter)
  int64_t healthWindowMs = 0;              // start of the current minute of the system message budget
  uint32_t healthInWindow = 0;
  uint64_t healthSuppressed = 0;           // changes not journaled because of the budget (logged)

  Batch current;
  std::deque<Batch> awaiting;              // committed, waiting for durability, in id order
  uint64_t nextBatchId = 1;
  uint64_t durableSeq = 0;
  size_t pendingResponses = 0;

  // counters
  uint64_t accepted = 0, duplicates = 0, framesIn = 0, sendFailures = 0, journalErrors = 0;
  std::map<std::string, uint64_t> rejectsByCode;
  std::map<std::string, uint64_t> errorsByCode;
  int64_t rejectLogSecond = 0;
  uint32_t rejectLogsThisSecond = 0;
  uint64_t rejectLogsSuppressed = 0;
  int64_t startedMs = 0;
  int64_t nextTimerMs = 0;

  CheckScratch checkScratch;
  std::function<void(PublishJob&&)> offload;  // set by the transport: check publishes on another thread
  size_t inChecker = 0;                       // publishes handed to the checker, not yet back

  Impl(Journal& j, FrameSink& s, const Logger& l, std::shared_ptr<const Registry> reg,
       std::shared_ptr<const RuleSet> r, BrokerOptions o, std::function<int64_t()> c)
      : journal(j), sink(s), log(l), registry(std::move(reg)), rules(std::move(r)), opt(std::move(o)),
        clock(std::move(c)) {
    startedMs = clock();
    healthRunTag = base36(static_cast<uint64_t>(startedMs));
    durableSeq = journal.lastSeq();  // everything journaled before a restart was fsynced or is gone
    for (auto& st : journal.loadOutletStates()) ensureOutlet(st.outlet, &st);
    for (auto& o : rules->outlets()) ensureOutlet(o, nullptr);
    for (auto& a : registry->agencies())
      for (auto& o : a.serveOutlets)
        if (o != "*") ensureOutlet(o, nullptr);
  }

  OutletBacklog& ensureOutlet(const std::string& name, const OutletState* st) {
    auto it = outlets.find(name);
    if (it != outlets.end()) return *it->second;
    OutletState empty{name, 0, {}};
    if (!st) {
      // A brand-new outlet starts at the current end of the journal: it receives what is routed to it
      // from now on (routing happens at publish time; older messages were not routed to it).
      empty.cursor = journal.lastSeq();
      st = &empty;
    }
    auto b = std::make_unique<OutletBacklog>(name, opt.outletMemoryWindow, *st, journal.lastSeq());
    auto& ref = *b;
    outlets.emplace(name, std::move(b));
    return ref;
  }

  // ---- sending ----
  void sendFrame(Session* s, std::string_view peer, capnp::MallocMessageBuilder& b) {
    if (!sink.send(peer, b.getSegmentsForOutput())) ++sendFailures;
    if (s) s->lastSentMs = clock();
  }

  // A zeroed first segment reused by every outgoing frame (MallocMessageBuilder zeroes what it used on
  // destruction), so building a frame allocates nothing unless it outgrows the scratch.
  static constexpr size_t kScratchWords = 8192;
  kj::Array<capnp::word> scratch = [] {
    auto a = kj::heapArray<capnp::word>(kScratchWords);  // uninitialised: zero it once
    memset(a.begin(), 0, a.size() * sizeof(capnp::word));
    return a;
  }();
  kj::ArrayPtr<capnp::word> scratchSegment() { return scratch; }

  void sendError(Session* s, std::string_view peer, schema::ErrorCode code, std::string_view field,
                 std::string_view value, std::string_view reason, const char* codeName) {
    ++errorsByCode[codeName];
    capnp::MallocMessageBuilder b(scratchSegment());
    auto e = b.initRoot<Frame>().initError();
    e.setCode(code);
    e.setField(std::string(field));
    e.setValue(clipValue(value));
    e.setReason(std::string(reason));
    sendFrame(s, peer, b);
    logReject("error", peer, s ? s->agencyName : "", "", codeName, field, value, reason);
  }

  void logReject(const char* what, std::string_view peer, std::string_view agency, std::string_view msgId,
                 std::string_view code, std::string_view field, std::string_view value, std::string_view reason) {
    int64_t sec = clock() / 1000;
    if (sec != rejectLogSecond) {
      if (rejectLogsSuppressed)
        log.warn("broker", std::to_string(rejectLogsSuppressed) + " further rejections not logged (rate limit)");
      rejectLogSecond = sec;
      rejectLogsThisSecond = 0;
      rejectLogsSuppressed = 0;
    }
    if (++rejectLogsThisSecond > opt.maxRejectLogsPerSecond) {
      ++rejectLogsSuppressed;
      return;
    }
    std::string line = std::string(what) + " " + std::string(code);
    if (!msgId.empty()) line += " msg " + std::string(agency) + "/" + clipValue(msgId);
    line += " from " + (agency.empty() ? std::string("unauthenticated") : std::string(agency)) + " peer " +
            hexPeer(peer) + ": ";
    if (!field.empty()) line += std::string(field) + " = '" + clipValue(value) + "': ";
    line += std::string(reason);
    log.warn("broker", line);
  }

  void queueReject(Session* s, std::string_view peer, uint64_t token, std::string_view msgId, std::string code,
                   std::string field, std::string value, std::string reason) {
    ++rejectsByCode[code];
    if (s) ++s->rejected;
    logReject("reject", peer, s ? s->agencyName : "", msgId, code, field, value, reason);
    Response r;
    r.peer = std::string(peer);
    r.token = token;
    r.code = std::move(code);
    r.field = std::move(field);
    r.value = clipValue(value);
    r.reason = std::move(reason);
    current.responses.push_back(std::move(r));
    ++pendingResponses;
  }

  void sendResponse(const Response& r) {
    auto it = sessions.find(r.peer);
    Session* s = it == sessions.end() ? nullptr : &it->second;
    capnp::MallocMessageBuilder b(scratchSegment());
    auto f = b.initRoot<Frame>();
    if (r.seq) {
      auto a = f.initPublishAck();
      a.setToken(r.token);
      a.setSeq(r.seq);
      a.setDuplicate(r.duplicate);
    } else {
      auto j = f.initReject();
      j.setToken(r.token);
      j.setCode(rejectCodeOf(r.code));
      j.setField(r.field);
      j.setValue(r.value);
      j.setReason(r.reason);
    }
    sendFrame(s, r.peer, b);
  }

  // Sends a durable batch's answers: the acks for one connection go out together as one publishAcks
  // frame (one frame, one CURVE box, instead of one per message); a reject first flushes that
  // connection's acks so every connection still sees its answers in publish order.
  std::unordered_map<std::string_view, std::vector<const Response*>> acksByPeer;
  void sendResponses(const std::vector<Response>& responses) {
    auto flush = [&](std::string_view peer, std::vector<const Response*>& acks) {
      if (acks.empty()) return;
      if (acks.size() == 1) {
        sendResponse(*acks[0]);
      } else {
        auto it = sessions.find(std::string(peer));
        capnp::MallocMessageBuilder b(scratchSegment());
        auto list = b.initRoot<Frame>().initPublishAcks(static_cast<unsigned>(acks.size()));
        for (unsigned i = 0; i < acks.size(); ++i) {
          list[i].setToken(acks[i]->token);
          list[i].setSeq(acks[i]->seq);
          list[i].setDuplicate(acks[i]->duplicate);
        }
        sendFrame(it == sessions.end() ? nullptr : &it->second, peer, b);
      }
      acks.clear();
    };
    for (auto& r : responses) {
      auto& acks = acksByPeer[r.peer];
      if (r.seq) {
        acks.push_back(&r);
      } else {
        flush(r.peer, acks);
        sendResponse(r);
      }
    }
    for (auto& [peer, acks] : acksByPeer) flush(peer, acks);
    acksByPeer.clear();
  }

  // ---- frames ----
  void onFrame(std::string_view peer, const void* data, size_t size, std::string_view userId) {
    ++framesIn;
    int64_t now = clock();
    auto it = sessions.find(std::string(peer));
    Session* s = it == sessions.end() ? nullptr : &it->second;
    if (s && opt.curve && userId != s->agencyName) {
      // A routing id re-used by another key: never let it speak for the session's agency.
      sendError(nullptr, peer, schema::ErrorCode::NOT_PERMITTED, "User-Id", userId,
                "this connection is authenticated as another agency than its session", "notPermitted");
      return;
    }
    if (s) {
      // The per-agency map (status: "last heard") is refreshed at most once a second per session.
      if (now / 1000 != s->lastHeardMs / 1000) lastHeardByAgency[s->agencyName] = now;
      s->lastHeardMs = now;
    }
    DecodedFrame df;
    DecodeError err;
    if (!decodeFrame(data, size, opt.limits, df, err)) {
      sendError(s, peer, err.code == "tooLarge" ? schema::ErrorCode::TOO_LARGE : schema::ErrorCode::MALFORMED,
                "frame", std::to_string(size) + " bytes", err.reason, err.code == "tooLarge" ? "tooLarge" : "malformed");
      return;
    }
    // Bounds were checked by the traversal in decodeFrame; anything capnp still throws is a bug or a
    // schema mismatch and is answered as malformed rather than taking the broker down.
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { dispatch(peer, s, df.frame(), userId, now); })) {
      sendError(s, peer, schema::ErrorCode::MALFORMED, "frame", "", e->getDescription().cStr(), "malformed");
    }
  }

  void dispatch(std::string_view peer, Session* s, Frame::Reader f, std::string_view userId, int64_t now) {
    switch (f.which()) {
      case Frame::HELLO:
        return onHello(peer, f.getHello(), userId, now);
      case Frame::HEARTBEAT: {
        if (!s) {
          // A client that believes it has a session we do not know (broker restarted, or we expired it).
          sendError(nullptr, peer, schema::ErrorCode::SESSION_EXPIRED, "frame", "heartbeat",
                    "no session for this connection: send Hello", "sessionExpired");
          return;
        }
        auto feeds = f.getHeartbeat().getFeeds();
        if (feeds.size() > 0 && s->agency) recordFeeds(*s, feeds, now);
        capnp::MallocMessageBuilder b(scratchSegment());
        b.initRoot<Frame>().initHeartbeat().setTimeMs(now);
        sendFrame(s, peer, b);
        return;
      }
      default:
        break;
    }
    if (!s) {
      if (f.isPublish()) {
        queueReject(nullptr, peer, f.getPublish().getToken(), "", "notReady", "frame", "publish",
                    "send Hello first (no session for this connection)");
        return;
      }
      sendError(nullptr, peer, schema::ErrorCode::NOT_READY, "frame", "", "send Hello first", "notReady");
      return;
    }
    switch (f.which()) {
      case Frame::PUBLISH:
        return onPublish(*s, f.getPublish(), now);
      case Frame::SUBSCRIBE:
        return onSubscribe(*s, f.getSubscribe());
      case Frame::DELIVER_ACK:
        return onDeliverAck(*s, f.getDeliverAck());
      case Frame::CREDIT:
        s->credit = std::min<uint32_t>(std::max<uint32_t>(f.getCredit().getCredit(), 1), opt.maxCredit);
        pump(*s);
        return;
      case Frame::ADMIN_REQUEST:
        return onAdmin(*s, f.getAdminRequest());
      default:
        sendError(s, peer, schema::ErrorCode::MALFORMED, "frame", std::to_string(static_cast<int>(f.which())),
                  "this frame kind is not sent by clients", "malformed");
    }
  }

  void onHello(std::string_view peer, schema::Hello::Reader h, std::string_view userId, int64_t now) {
    if (h.getProtocolVersion() != schema::PROTOCOL_VERSION) {
      sendError(nullptr, peer, schema::ErrorCode::PROTOCOL_VERSION, "hello.protocolVersion",
                std::to_string(h.getProtocolVersion()), "this broker speaks protocol version 1", "protocolVersion");
      return;
    }
    std::string agencyName = opt.curve ? std::string(userId) : std::string(h.getAgency().cStr());
    const Agency* a = registry->byName(agencyName);
    if (!a) {
      sendError(nullptr, peer, schema::ErrorCode::NOT_PERMITTED, opt.curve ? "User-Id" : "hello.agency",
                agencyName, "agency is not in the registry", "notPermitted");
      return;
    }
    std::string key(peer);
    auto old = sessions.find(key);
    if (old != sessions.end()) {
      // A new session from scratch: no subscription, credit or tail state survives a second Hello. The
      // same agency stays connected throughout: no health change to report.
      dropSession(old->second, "new Hello on the same connection", old->second.agencyName != agencyName);
      sessions.erase(old);
    }
    Session& s = sessions[key];
    s.peer = key;
    s.agencyName = agencyName;
    s.registry = registry;
    s.agency = a;
    s.clientName = clipValue(h.getClientName().cStr());
    s.connectedMs = s.lastHeardMs = now;
    s.peerHeartbeatMs = h.getHeartbeatMs();
    lastHeardByAgency[agencyName] = now;
    noteConnected(s, now);
    capnp::MallocMessageBuilder b(scratchSegment());
    auto w = b.initRoot<Frame>().initWelcome();
    w.setProtocolVersion(schema::PROTOCOL_VERSION);
    w.setAgency(agencyName);
    w.setRole(roleOf(a->role));
    w.setHeartbeatMs(opt.heartbeatMs);
    w.setBrokerId(opt.brokerId);
    w.setMaxFrameBytes(static_cast<uint32_t>(opt.limits.maxFrameBytes));
    sendFrame(&s, peer, b);
    log.info("broker", "session " + hexPeer(peer) + ": agency " + agencyName + " (" +
                           std::string(roleName(a->role)) + ") client '" + s.clientName + "'");
  }

  // `reportHealth`: false when the same agency's session continues on this connection (a second Hello).
  void dropSession(Session& s, std::string_view why, bool reportHealth = true) {
    if (reportHealth) noteDisconnected(s, why);
    if (!s.outlet.empty() && s.outlet != "*") {
      auto sub = subscriberOf.find(s.outlet);
      if (sub != subscriberOf.end() && sub->second == s.peer) {
        subscriberOf.erase(sub);
        outlets.at(s.outlet)->requeueInFlight();
      }
    }
    log.info("broker", "session " + hexPeer(s.peer) + " (" + s.agencyName + ") closed: " + std::string(why));
  }

  void onPublish(Session& s, schema::Publish::Reader p, int64_t now) {
    uint64_t token = p.getToken();
    auto bytes = p.getMessage();
    if (offload) {
      // Decode/validate/route on the checker thread; the answer comes back through onChecked(), in order.
      PublishJob job;
      job.peer = s.peer;
      job.agencyName = s.agencyName;
      job.registry = s.registry;
      job.agency = s.agency;
      job.rules = rules;
      job.token = token;
      job.nowMs = now;
      job.limits = opt.limits;
      if (pendingResponses + inChecker >= opt.maxPendingAcks) {
        job.overloaded = true;
      } else {
        job.body = kj::heapArray<capnp::word>((bytes.size() + 7) / 8);
        if (bytes.size() > 0) memcpy(job.body.begin(), bytes.begin(), bytes.size());
        job.bodySizeBytes = bytes.size();
      }
      ++inChecker;
      offload(std::move(job));
      return;
    }
    if (pendingResponses >= opt.maxPendingAcks) {
      queueReject(&s, s.peer, token, "", "overloaded", "", "",
                  "broker has " + std::to_string(pendingResponses) + " publishes awaiting fsync; retry with backoff");
      return;
    }
    CheckedPublish c = checkPublish(*s.agency, s.agencyName, bytes, opt.limits, *rules, now, checkScratch);
    commitChecked(&s, s.peer, s.agencyName, token, c, bytes, now);
  }

  void onChecked(PublishJob&& job, CheckedPublish&& c) {
    --inChecker;
    auto it = sessions.find(job.peer);
    Session* s = it == sessions.end() ? nullptr : &it->second;
    if (job.overloaded) {
      queueReject(s, job.peer, job.token, "", "overloaded", "", "",
                  "broker has " + std::to_string(pendingResponses) + " publishes awaiting fsync; retry with backoff");
      return;
    }
    commitChecked(s, job.peer, job.agencyName, job.token, c, job.bodyBytes(), job.nowMs);
  }

  // The journal half of a publish, on the event-loop thread: duplicate-on-refusal, append, answer.
  void commitChecked(Session* s, const std::string& peer, const std::string& agencyName, uint64_t token,
                     const CheckedPublish& c, kj::ArrayPtr<const kj::byte> bytes, int64_t now) {
    std::string_view id = c.id;
    if (!c.ok) {
      if (c.dupCheck && answerAsDuplicate(peer, agencyName, token, id)) return;
      queueReject(s, peer, token, id, c.code, c.field, c.value, c.reason);
      return;
    }
    JournalEntry e;
    e.sender = agencyName;
    e.id = id;
    e.receivedMs = now;
    e.kind = c.kind;
    e.urgent = c.urgent;
    e.destinations = c.destinations;
    e.origin = c.origin;
    e.body = bytes;
    AppendResult r;
    try {
      openBatch();
      if (!c.references.empty()) {
        followedDestinations = c.destinations;
        followOriginals(c, agencyName, id, followedDestinations);
        e.destinations = followedDestinations;
      }
      r = journal.append(e);
    } catch (const JournalError& je) {
      failCurrentBatch(je);
      queueReject(s, peer, token, id, "internal", "", "",
                  std::string("journal: ") + je.what());
      return;
    }
    Response resp;
    resp.peer = peer;
    resp.token = token;
    resp.seq = r.seq;
    resp.duplicate = r.duplicate;
    current.responses.push_back(std::move(resp));
    ++pendingResponses;
    if (s) ++s->published;
    if (r.duplicate) {
      ++duplicates;
      log.debug("broker", "duplicate msg " + agencyName + "/" + std::string(id) + " = seq " + std::to_string(r.seq));
      return;
    }
    ++accepted;
    queueAppended(e, r.seq);
    if (log.enabled(LogLevel::debug))
      log.debug("broker", "accepted msg " + agencyName + "/" + std::string(id) + " seq " + std::to_string(r.seq) +
                              " -> [" + std::string(e.destinations) + "]");
  }

  // Opens the turn's batch (group commit) if it is not open yet. Throws JournalError.
  void openBatch() {
    if (current.open) return;
    journal.begin();
    current.open = true;
  }

  // Holds a message just appended (not a duplicate) for delivery once its batch is durable.
  void queueAppended(const JournalEntry& e, uint64_t seq) {
    current.maxSeq = std::max(current.maxSeq, seq);
    auto qm = std::make_shared<QueuedMessage>();
    qm->seq = seq;
    qm->sender = std::string(e.sender);
    qm->receivedMs = e.receivedMs;
    qm->urgent = e.urgent;
    qm->destinations = std::string(e.destinations);
    qm->bodySizeBytes = e.body.size();
    qm->body = kj::heapArray<capnp::word>((e.body.size() + 7) / 8);
    memcpy(qm->body.begin(), e.body.begin(), e.body.size());
    current.messages.push_back(std::move(qm));
  }

  // An update or cancel reaches every destination the messages it references reached, on top of its own
  // rule match, so a cancel (解除) never strands the people who got the warning (DESIGN.md). A reference
  // names its original by agency or by origin (the CAP sender: a provincial observatory may cancel
  // through another adapter than the one that relayed the alert). Only originals of the same status are
  // followed: an exercise update never pulls a destination that takes only actual traffic, nor the
  // reverse. Only originals of the same kind are followed: an update replaces its original (CAP), while
  // a sitrep or ack that references a warning reports on it. Each followed entry carries "\t<seq>"
  // (delivery.h), which outlets and tails read. Reads the journal on the event-loop thread: at most kMaxFollowedReferences x kMaxMessagesPerReference rows,
  // for update/cancel traffic only. Throws JournalError like append().
  std::string followedDestinations;
  void followOriginals(const CheckedPublish& c, const std::string& agencyName, std::string_view id,
                       std::string& dests) {
    for (auto& [refSender, refId] : c.references) {
      journal.findReferenced(refSender, refId, kMaxMessagesPerReference, [&](StoredMessage& row) {
        if (row.sender == agencyName && row.id == id) return;  // itself (a retry's duplicate)
        // A report about a message is not a new version of it: an SMS summary or a vessels-at-risk
        // sitrep referencing a warning must not follow the warning to the phones.
        if (row.kind != c.kind) return;
        if (statusOf(row) != c.status) {
          log.warn("broker", agencyName + "/" + std::string(id) + " references seq " + std::to_string(row.seq) +
                                 " of another status: its destinations are not followed");
          return;
        }
        for (auto& d : splitDestinations(row.destinations)) addFollowed(dests, d, row.seq);
      });
    }
  }

  // The status of a journaled message (validated when it was published), or 0 if it cannot be read.
  static uint8_t statusOf(const StoredMessage& row) {
    uint8_t status = 0;
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                  capnp::FlatArrayMessageReader r(row.body.slice(0, (row.bodySizeBytes + 7) / 8));
                  status = static_cast<uint8_t>(r.getRoot<schema::Message>().getStatus());
                })) {
      (void)e;
      status = 0;
    }
    return status;
  }

  // A publish that would now be refused (its alert expired meanwhile, or the agency's permissions
  // changed) may be the retry of one that was journaled before its ack got lost: answer it as the
  // duplicate it is. Only on the refusal path, so the hot path pays nothing.
  bool answerAsDuplicate(const std::string& peer, const std::string& agencyName, uint64_t token,
                         std::string_view id) {
    StoredMessage row;
    try {
      if (id.empty() || !journal.find(agencyName, id, row)) return false;
    } catch (const JournalError&) {
      return false;
    }
    Response resp;
    resp.peer = peer;
    resp.token = token;
    resp.seq = row.seq;
    resp.duplicate = true;
    current.responses.push_back(std::move(resp));
    ++pendingResponses;
    ++duplicates;
    return true;
  }

  // The open batch could not be journaled: none of its appends exist. Turn its acks into retryable
  // rejects (the client re-sends; the broker de-duplicates whatever did make it).
  void failCurrentBatch(const JournalError& je) {
    ++journalErrors;
    log.error("journal", std::string("batch rolled back: ") + je.what());
    try {
      journal.rollback();
    } catch (const JournalError& e2) {
      log.error("journal", std::string("rollback failed: ") + e2.what());
    }
    current.open = false;
    current.messages.clear();
    current.maxSeq = 0;
    for (auto& r : current.responses)
      if (r.seq) {
        r.seq = 0;
        r.duplicate = false;
        r.code = "internal";
        r.reason = std::string("journal: ") + je.what();
        ++rejectsByCode["internal"];
      }
  }

  void onSubscribe(Session& s, schema::Subscribe::Reader sub) {
    std::string outlet = sub.getOutlet();
    uint32_t credit = std::min<uint32_t>(std::max<uint32_t>(sub.getCredit(), 1), opt.maxCredit);
    if (outlet == "*") {
      if (s.agency->role != AgencyRole::admin) {
        sendError(&s, s.peer, schema::ErrorCode::NOT_PERMITTED, "subscribe.outlet", outlet,
                  "only the admin role may tail every message", "notPermitted");
        return;
      }
      s.outlet = "*";
      s.credit = credit;
      s.tailPos = sub.getFromSeq() ? sub.getFromSeq() - 1 : durableSeq;
      s.tailInFlight.clear();
      sendSubscribed(s, "*", s.tailPos, durableSeq - std::min(durableSeq, s.tailPos));
      pump(s);
      return;
    }
    // Any role may serve the outlets its serve_outlets lists (an adapter such as the maritime one also
    // reads warnings); the default for adapters is none.
    if (!Registry::mayServe(*s.agency, outlet)) {
      sendError(&s, s.peer, schema::ErrorCode::NOT_PERMITTED, "permission.serve_outlets", outlet,
                "agency " + s.agencyName + " may not serve outlet " + outlet, "notPermitted");
      return;
    }
    if (!outlets.count(outlet)) {
      // Known outlets: named by a rule destination or an agency's serve_outlets, or with saved state.
      // Anything else is a typo that would otherwise wait forever on an empty backlog.
      sendError(&s, s.peer, schema::ErrorCode::UNKNOWN_OUTLET, "subscribe.outlet", outlet,
                "no rule routes to outlet '" + outlet + "' and no agency serves it", "unknownOutlet");
      return;
    }
    auto& backlog = ensureOutlet(outlet, nullptr);
    auto prev = subscriberOf.find(outlet);
    if (prev != subscriberOf.end() && prev->second != s.peer) {
      auto ps = sessions.find(prev->second);
      if (ps != sessions.end()) {
        sendError(&ps->second, ps->first, schema::ErrorCode::SESSION_EXPIRED, "subscribe.outlet", outlet,
                  "another connection took over this outlet", "sessionExpired");
        ps->second.outlet.clear();
      }
    }
    backlog.requeueInFlight();
    subscriberOf[outlet] = s.peer;
    s.outlet = outlet;
    s.credit = credit;
    auto st = backlog.stats();
    sendSubscribed(s, outlet, st.cursor, st.queued + st.spilled);
    pump(s);
  }

  void sendSubscribed(Session& s, const std::string& outlet, uint64_t cursor, uint64_t backlog) {
    capnp::MallocMessageBuilder b(scratchSegment());
    auto r = b.initRoot<Frame>().initSubscribed();
    r.setOutlet(outlet);
    r.setCursor(cursor);
    r.setBacklog(backlog);
    sendFrame(&s, s.peer, b);
  }

  void onDeliverAck(Session& s, schema::DeliverAck::Reader a) {
    if (s.outlet == "*") {
      for (auto seq : a.getSeqs()) s.tailInFlight.erase(seq);
    } else if (!s.outlet.empty()) {
      auto& b = *outlets.at(s.outlet);
      for (auto seq : a.getSeqs()) b.ack(seq);
    }
    pump(s);
  }

  // `outlet` "" = a tail: every destination, with its outlet.
  void sendDeliver(Session& s, const QueuedMessage& m, std::string_view outlet, uint64_t cursor) {
    capnp::MallocMessageBuilder b(scratchSegment());
    fillDeliver(b.initRoot<Frame>().initDeliver(), m, outlet, cursor);
    sendFrame(&s, s.peer, b);
  }

  // Deliveries for one subscriber go out several to a frame (at most kMaxPerFrame or about
  // kMaxBytesPerFrame of message bytes), so a busy outlet costs one frame per batch, not per message.
  static constexpr size_t kMaxPerFrame = 256;
  static constexpr size_t kMaxBytesPerFrame = 256 * 1024;
  std::vector<SharedMessage> deliverBatch;
  void pump(Session& s) {
    if (s.outlet.empty()) return;
    if (s.outlet == "*") return pumpTail(s);
    auto& b = *outlets.at(s.outlet);
    for (;;) {
      deliverBatch.clear();
      size_t bytes = 0;
      // Keep a batch within half the frame limit so it never outgrows what clients accept
      // (a single delivery of a maximal message is the one frame that may reach about maxFrameBytes).
      const size_t maxBytes = std::min(kMaxBytesPerFrame, opt.limits.maxFrameBytes / 2);
      while (b.inFlight() < s.credit && deliverBatch.size() < kMaxPerFrame) {
        if (!deliverBatch.empty() && bytes >= maxBytes) break;
        SharedMessage m = b.next(durableSeq, journal);
        if (!m) break;
        bytes += m->bodySizeBytes;
        deliverBatch.push_back(std::move(m));
      }
      if (deliverBatch.empty()) return;
      uint64_t cursor = b.cursor();
      if (deliverBatch.size() == 1) {
        sendDeliver(s, *deliverBatch[0], s.outlet, cursor);
      } else {
        capnp::MallocMessageBuilder mb(scratchSegment());
        auto list = mb.initRoot<Frame>().initDeliveries(static_cast<unsigned>(deliverBatch.size()));
        for (unsigned i = 0; i < deliverBatch.size(); ++i) fillDeliver(list[i], *deliverBatch[i], s.outlet, cursor);
        sendFrame(&s, s.peer, mb);
      }
    }
  }

  std::vector<std::string> fillTargets;
  std::vector<uint64_t> fillFollows;
  void fillDeliver(schema::Deliver::Builder d, const QueuedMessage& m, std::string_view outlet, uint64_t cursor) {
    if (outlet.empty()) fillTargets = splitDestinations(m.destinations, &fillFollows);
    else fillTargets = targetsFor(m.destinations, outlet, &fillFollows);
    d.setSeq(m.seq);
    d.setSender(m.sender);
    d.setReceivedMs(m.receivedMs);
    auto t = d.initTargets(static_cast<unsigned>(fillTargets.size()));
    for (unsigned i = 0; i < fillTargets.size(); ++i) t.set(i, fillTargets[i]);
    // Most messages follow nothing: the lists stay absent (the client reads absent as all zero).
    if (std::any_of(fillFollows.begin(), fillFollows.end(), [](uint64_t f) { return f != 0; })) {
      auto f = d.initFollows(static_cast<unsigned>(fillFollows.size()));
      for (unsigned i = 0; i < fillFollows.size(); ++i) f.set(i, fillFollows[i]);
      auto refs = followedSeqs(m.destinations, outlet);
      auto r = d.initReferences(static_cast<unsigned>(refs.size()));
      for (unsigned i = 0; i < refs.size(); ++i) r.set(i, refs[i]);
    }
    d.setUrgent(m.urgent);
    d.setMessage(m.bodyBytes());
    d.setCursor(cursor);
  }

  void pumpTail(Session& s) {
    while (s.tailInFlight.size() < s.credit && s.tailPos < durableSeq) {
      size_t want = s.credit - s.tailInFlight.size();
      size_t n = journal.scan(s.tailPos, want, [&](StoredMessage& row) {
        if (row.seq > durableSeq) return false;
        s.tailPos = row.seq;
        QueuedMessage m;
        m.seq = row.seq;
        m.sender = std::move(row.sender);
        m.receivedMs = row.receivedMs;
        m.urgent = row.urgent;
        m.bodySizeBytes = row.bodySizeBytes;
        m.body = std::move(row.body);
        m.destinations = std::move(row.destinations);
        s.tailInFlight.insert(m.seq);
        sendDeliver(s, m, "", 0);  // a tail is not durable: no cursor to prune by
        return true;
      });
      if (n == 0) {
        s.tailPos = durableSeq;  // gap (rolled-back seqs): nothing more to read
        break;
      }
    }
  }

  void pumpAll() {
    for (auto& [outlet, peer] : subscriberOf) {
      auto it = sessions.find(peer);
      if (it != sessions.end()) pump(it->second);
    }
    for (auto& [peer, s] : sessions)
      if (s.outlet == "*") pump(s);
  }

  void onAdmin(Session& s, schema::AdminRequest::Reader r) {
    capnp::MallocMessageBuilder b(scratchSegment());
    auto rep = b.initRoot<Frame>().initAdminReply();
    rep.setToken(r.getToken());
    std::string cmd = r.getCommand();
    if (s.agency->role != AgencyRole::admin) {
      rep.setOk(false);
      rep.setJson(nlohmann::json{{"error", "agency " + s.agencyName + " is not an admin"}}.dump());
    } else if (cmd == "status") {
      rep.setOk(true);
      rep.setJson(statusJson());
    } else {
      rep.setOk(false);
      rep.setJson(nlohmann::json{{"error", "unknown admin command '" + clipValue(cmd) + "'"}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    sendFrame(&s, s.peer, b);
  }

  // ---- turn / durability ----
  std::optional<uint64_t> endTurn() {
    bool anyDirty = false;
    for (auto& [n, b] : outlets)
      if (b->dirty()) anyDirty = true;
    if (anyDirty) {
      try {
        if (!current.open) {
          journal.begin();
          current.open = true;
        }
        for (auto& [n, b] : outlets)
          if (b->dirty()) journal.saveOutletState(b->takeState());
      } catch (const JournalError& je) {
        failCurrentBatch(je);
      }
    }
    if (current.open) {
      try {
        journal.commit();
      } catch (const JournalError& je) {
        failCurrentBatch(je);
      }
      current.open = false;
    }
    if (!current.messages.empty()) {
      uint64_t last = journal.lastSeq();
      for (auto& m : current.messages)
        for (auto& o : outletsIn(m->destinations)) ensureOutlet(o, nullptr).enqueue(m);
      for (auto& [n, b] : outlets) b->routedThrough(last);
    }
    if (current.responses.empty() && current.messages.empty() && !anyDirty) return std::nullopt;
    current.id = nextBatchId++;
    uint64_t id = current.id;
    current.messages.clear();  // held by the outlets now
    awaiting.push_back(std::move(current));
    current = Batch{};
    return id;
  }

  void onDurable(uint64_t id) {
    while (!awaiting.empty() && awaiting.front().id <= id) {
      Batch& b = awaiting.front();
      durableSeq = std::max(durableSeq, b.maxSeq);
      sendResponses(b.responses);
      pendingResponses -= b.responses.size();
      awaiting.pop_front();
    }
    pumpAll();
  }

  void onTimer() {
    int64_t now = clock();
    std::vector<std::string> dead;
    for (auto& [peer, s] : sessions) {
      uint32_t hb = std::max(opt.heartbeatMs, s.peerHeartbeatMs);
      if (now - s.lastHeardMs > 3 * static_cast<int64_t>(hb)) dead.push_back(peer);
      else if (now - s.lastSentMs >= opt.heartbeatMs) {
        capnp::MallocMessageBuilder b(scratchSegment());
        b.initRoot<Frame>().initHeartbeat().setTimeMs(now);
        sendFrame(&s, peer, b);
      }
    }
    for (auto& p : dead) {
      auto it = sessions.find(p);
      dropSession(it->second, "silent for more than 3 heartbeats");
      sessions.erase(it);
    }
    if (!dead.empty()) pumpAll();
    nextTimerMs = now + std::max<int64_t>(opt.heartbeatMs / 4, 10);
  }

  // ---- adapter and feed health (health.h; docs/protocol.md "Broker system messages") ----

  // Keeps what an adapter says of its inputs so `status` (and the dashboard) can tell "no alerts" from
  // "feed down", and journals a system message for every feed that changed state. Replaces the agency's
  // previous report; bounded by kMaxFeedsPerAgency.
  void recordFeeds(const Session& s, capnp::List<schema::FeedStatus>::Reader feeds, int64_t now) {
    auto text = [](capnp::Text::Reader t) {
      std::string v(t.cStr(), std::min<size_t>(t.size(), kMaxFeedTextBytes));
      return v;
    };
    std::vector<FeedHealth> out;
    for (auto f : feeds) {
      if (out.size() == kMaxFeedsPerAgency) break;
      FeedHealth fi;
      fi.name = text(f.getName());
      switch (f.getState()) {
        case schema::FeedState::UP: fi.state = "up"; break;
        case schema::FeedState::DOWN: fi.state = "down"; break;
        case schema::FeedState::STALE: fi.state = "stale"; break;
        default: fi.state = "unknown"; break;
      }
      fi.detail = text(f.getDetail());
      fi.lastOkMs = f.getLastOkMs();
      fi.lastAttemptMs = f.getLastAttemptMs();
      fi.accepted = f.getAccepted();
      fi.rejected = f.getRejected();
      out.push_back(std::move(fi));
    }
    for (auto& c : health.report(s.agencyName, std::move(out), now)) journalHealth(c, now);
  }

  // Other sessions of the same agency (an adapter may hold more than one: a restart overlapping the old
  // session's expiry, or `alertbus send` with the adapter's key).
  bool agencyHasOtherSession(const Session& s) const {
    for (auto& [peer, o] : sessions)
      if (peer != s.peer && o.agencyName == s.agencyName) return true;
    return false;
  }

  // An adapter's first session opened: "down -> up" if it had been disconnected (health.h).
  void noteConnected(const Session& s, int64_t now) {
    if (s.agency->role != AgencyRole::adapter || agencyHasOtherSession(s)) return;
    if (auto c = health.connected(s.agencyName, now)) journalHealth(*c, now);
  }

  // An adapter's last session is closing: its feeds become "unknown" and "up -> down" is journaled.
  void noteDisconnected(const Session& s, std::string_view why) {
    if (!s.agency || s.agency->role != AgencyRole::adapter || agencyHasOtherSession(s)) return;
    int64_t now = clock();
    if (auto c = health.disconnected(s.agencyName, "session closed: " + std::string(why), now))
      journalHealth(*c, now);
  }

  // Journals the system message reporting `c`, from the reserved sender `broker`, routed by the rules like
  // any message (the sample rules send status system to the operations monitor), in the current batch.
  // At most kMaxHealthMessagesPerMinute; beyond that a change is logged and counted, not journaled (a
  // flapping feed must not flood the journal); `status` still shows every state.
  static constexpr uint32_t kMaxHealthMessagesPerMinute = 60;
  void journalHealth(const HealthChange& c, int64_t now) {
    std::string narrative = healthNarrative(c);
    if (now - healthWindowMs >= 60000) {
      healthWindowMs = now;
      healthInWindow = 0;
    }
    if (++healthInWindow > kMaxHealthMessagesPerMinute) {
      ++healthSuppressed;
      log.warn("broker", "health change not journaled (more than " + std::to_string(kMaxHealthMessagesPerMinute) +
                             " a minute): " + narrative);
      return;
    }
    // Ids carry this run's start time; should an id still be taken (a clock set back), the next is tried.
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::string id = healthMessageId(healthRunTag, ++healthMessages);
      capnp::MallocMessageBuilder b;
      buildHealthMessage(c, id, now, b);
      kj::Array<capnp::word> words = capnp::messageToFlatArray(b);
      kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
      MessageFacts facts = extractFacts(b.getRoot<schema::Message>().asReader(), kBrokerSender);
      std::vector<Destination> dests;
      rules->route(facts, now, dests);
      std::string destinations;
      appendDestinations(dests, destinations);
      JournalEntry e;
      e.sender = kBrokerSender;
      e.id = id;
      e.receivedMs = now;
      e.kind = static_cast<uint8_t>(facts.kind);
      e.urgent = facts.urgent();
      e.destinations = destinations;
      e.body = bytes;
      AppendResult r;
      try {
        openBatch();
        r = journal.append(e);
      } catch (const JournalError& je) {
        failCurrentBatch(je);
        log.error("broker", std::string("health change not journaled: ") + je.what() + ": " + narrative);
        return;
      }
      if (r.duplicate) continue;
      queueAppended(e, r.seq);
      log.info("broker", narrative + " (journaled as " + id + ", seq " + std::to_string(r.seq) + " -> [" +
                             destinations + "])");
      return;
    }
    log.error("broker", "health change not journaled: ids taken: " + narrative);
  }
  // An agency's feeds for `status`: as last reported while it is connected; "unknown" since its
  // disconnect time once it is not (the last reported state stays visible as lastState).
  void addHealth(nlohmann::json& entry, const std::string& agency) const {
    auto views = health.feedsOf(agency);
    if (int64_t gone = health.disconnectedAtMs(agency)) entry["disconnectedMs"] = gone;
    if (views.empty()) return;
    nlohmann::json feeds = nlohmann::json::array();
    for (auto& v : views) {
      const FeedHealth& fi = v.feed;
      feeds.push_back({{"name", fi.name}, {"state", fi.state}, {"detail", fi.detail}, {"sinceMs", fi.sinceMs},
                       {"lastState", v.lastState}, {"lastOkMs", fi.lastOkMs}, {"lastAttemptMs", fi.lastAttemptMs},
                       {"reportedMs", fi.reportedMs}, {"accepted", fi.accepted}, {"rejected", fi.rejected}});
    }
    entry["feeds"] = feeds;
  }

  std::string statusJson() const {
    using nlohmann::json;
    int64_t now = clock();
    json j;
    j["broker"] = {{"id", opt.brokerId}, {"uptimeMs", now - startedMs}, {"curve", opt.curve},
                   {"lastSeq", journal.lastSeq()}, {"durableSeq", durableSeq}};
    json counts = {{"accepted", accepted}, {"duplicates", duplicates}, {"framesIn", framesIn},
                   {"sendFailures", sendFailures}, {"journalErrors", journalErrors},
                   {"pendingAcks", pendingResponses}};
    counts["rejectedByReason"] = rejectsByCode;
    counts["errorsByReason"] = errorsByCode;
    counts["healthChangesNotJournaled"] = healthSuppressed;
    j["counts"] = counts;
    json clients = json::array();
    for (auto& [peer, s] : sessions)
      clients.push_back({{"peer", hexPeer(peer)}, {"agency", s.agencyName},
                         {"role", std::string(roleName(s.agency->role))}, {"client", s.clientName},
                         {"connectedMs", s.connectedMs}, {"lastHeardMs", s.lastHeardMs},
                         {"lastHeardAgoMs", now - s.lastHeardMs}, {"subscribed", s.outlet},
                         {"published", s.published}, {"rejected", s.rejected}});
    j["clients"] = clients;
    json agencies = json::array();
    for (auto& a : registry->agencies()) {
      auto it = lastHeardByAgency.find(a.name);
      bool connected = false;
      for (auto& [peer, s] : sessions) connected = connected || s.agencyName == a.name;
      json entry = {{"agency", a.name}, {"role", std::string(roleName(a.role))}, {"connected", connected},
                    {"lastHeardMs", it == lastHeardByAgency.end() ? json(nullptr) : json(it->second)}};
      addHealth(entry, a.name);
      agencies.push_back(entry);
    }
    j["agencies"] = agencies;
    json outs = json::array();
    for (auto& [name, b] : outlets) {
      auto st = b->stats();
      outs.push_back({{"outlet", name}, {"cursor", st.cursor}, {"backlog", st.queued + st.spilled},
                      {"queuedInMemory", st.queued}, {"inFlight", st.inFlight}, {"delivered", st.delivered},
                      {"acknowledged", st.acknowledged}, {"subscribed", subscriberOf.count(name) > 0}});
    }
    j["outlets"] = outs;
    j["rules"] = {{"count", rules->size()}};
    // Client-supplied strings (client names) may be any bytes: never let them break the whole page.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
};

CheckedPublish checkPublish(const Agency& agency, const std::string& agencyName, kj::ArrayPtr<const kj::byte> bytes,
                            const DecodeLimits& limits, const RuleSet& rules, int64_t now, CheckScratch& scratch) {
  CheckedPublish c;
  DecodedMessage dm;
  DecodeError err;
  if (!decodeMessage(bytes, limits, dm, err)) {
    c.code = err.code;
    c.field = "publish.message";
    c.value = std::to_string(bytes.size()) + " bytes";
    c.reason = err.reason;
    return c;
  }
  // Everything below reads a bounds- and type-checked message; a capnp exception here would be a bug,
  // reported as malformed rather than escaping the thread.
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                auto m = dm.message();
                c.id.assign(m.getId().cStr(), m.getId().size());
                // Refused by validation or permissions: a journaled original (lost ack) still wins.
                auto refuse = [&](Problem& p) {
                  c.dupCheck = true;
                  c.code = std::move(p.code);
                  c.field = std::move(p.field);
                  c.value = std::move(p.value);
                  c.reason = std::move(p.reason);
                };
                if (auto prob = validateMessage(m, now)) return refuse(*prob);
                std::string_view claimed(m.getSender().cStr(), m.getSender().size());
                if (!claimed.empty() && claimed != agencyName) {
                  c.code = "invalid";
                  c.field = "sender";
                  c.value = std::string(claimed);
                  c.reason = "sender is stamped by the broker: leave it empty or set your own agency '" + agencyName + "'";
                  return;
                }
                MessageFacts& facts = scratch.facts;
                extractFacts(m, agencyName, facts);
                if (auto prob = Registry::mayPublish(agency, facts)) return refuse(*prob);
                rules.route(facts, now, scratch.destinations);
                appendDestinations(scratch.destinations, c.destinations);
                c.kind = static_cast<uint8_t>(facts.kind);
                c.urgent = facts.urgent();
                c.status = static_cast<uint8_t>(facts.status);
                c.origin.assign(m.getOrigin().cStr(), m.getOrigin().size());
                if (facts.msgType == schema::MsgType::UPDATE || facts.msgType == schema::MsgType::CANCEL) {
                  for (auto r : m.getReferences()) {
                    if (c.references.size() == kMaxFollowedReferences) break;
                    c.references.emplace_back(std::string(r.getSender().cStr(), r.getSender().size()),
                                              std::string(r.getId().cStr(), r.getId().size()));
                  }
                }
                c.ok = true;
              })) {
    c = CheckedPublish{};
    c.code = "malformed";
    c.field = "publish.message";
    c.reason = e->getDescription().cStr();
  }
  return c;
}

BrokerCore::BrokerCore(Journal& journal, FrameSink& sink, const Logger& log, std::shared_ptr<const Registry> registry,
                       std::shared_ptr<const RuleSet> rules, BrokerOptions options, std::function<int64_t()> clock)
    : impl_(std::make_unique<Impl>(journal, sink, log, std::move(registry), std::move(rules), std::move(options),
                                   std::move(clock))) {}
BrokerCore::~BrokerCore() = default;

void BrokerCore::onFrame(std::string_view peer, const void* data, size_t size, std::string_view userId) {
  impl_->onFrame(peer, data, size, userId);
}
std::optional<uint64_t> BrokerCore::endTurn() { return impl_->endTurn(); }
void BrokerCore::onDurable(uint64_t id) { impl_->onDurable(id); }
size_t BrokerCore::uncommittedAppends() const { return impl_->current.messages.size(); }
size_t BrokerCore::publishesBeingChecked() const { return impl_->inChecker; }
void BrokerCore::onTimer() { impl_->onTimer(); }
int BrokerCore::timerDueInMs() const {
  int64_t d = impl_->nextTimerMs - impl_->clock();
  return static_cast<int>(std::max<int64_t>(0, d));
}
void BrokerCore::setRegistry(std::shared_ptr<const Registry> registry) {
  impl_->registry = std::move(registry);
  std::vector<std::string> gone;
  for (auto& [peer, s] : impl_->sessions) {
    const Agency* a = impl_->registry->byName(s.agencyName);
    if (!a || (impl_->opt.curve && a->publicKey != s.agency->publicKey)) gone.push_back(peer);
    else {
      s.registry = impl_->registry;
      s.agency = a;
    }
  }
  for (auto& p : gone) {
    auto it = impl_->sessions.find(p);
    impl_->dropSession(it->second, "agency removed from the registry or its key changed");
    impl_->sessions.erase(it);
  }
}
void BrokerCore::setRules(std::shared_ptr<const RuleSet> rules) { impl_->rules = std::move(rules); }
void BrokerCore::setOffload(std::function<void(PublishJob&&)> submit) { impl_->offload = std::move(submit); }
void BrokerCore::onChecked(PublishJob&& job, CheckedPublish&& result) {
  impl_->onChecked(std::move(job), std::move(result));
}
std::string BrokerCore::statusJson() const { return impl_->statusJson(); }

}  // namespace alertbus
