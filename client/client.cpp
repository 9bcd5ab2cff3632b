// Client::Impl: one DEALER socket driven by poll() on the owner's thread. A session is one socket from
// Hello to its loss; every loss closes the socket (new routing id) and the next session re-Hellos,
// re-subscribes and re-sends every outbox entry from the oldest, in token order.
// Invariants: publishes are sent only after Welcome; inFlight_ holds the tokens sent in this session and
// not yet answered, in send order (acks arrive in that order), never more than maxInFlight; an entry
// leaves the outbox only on PublishAck or a final Reject; a delivery seq reaches onDeliver at most once
// per Client lifetime (seen_ remembers it until the broker's durable cursor passes it).
// Liveness: the application must call poll() at least every heartbeatMs. A stall of 3 x heartbeatMs (the
// broker has then dropped us) starts a new session; a shorter one is not mistaken for a silent broker.
#include "client/client.h"
#include "model/flat.h"

#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "client/keys.h"
#include "client/outbox.h"

namespace alertbus {
namespace {

constexpr size_t kScratchWords = 8192;         // 64 KiB first segment, reused for every frame built
constexpr size_t kMaxFramesPerTurn = 4096;     // frames read per poll turn before sends get their go
constexpr size_t kAckBatch = 256;              // ack(seq) flushes a DeliverAck at this many
constexpr size_t kMaxSeqsPerAckFrame = 4096;   // bounds one DeliverAck frame
constexpr size_t kSendBatch = 256;             // outbox entries read per walk when sending
constexpr size_t kSeenLimit = 100000;          // de-duplication memory bound (see rememberSeen)
constexpr size_t kMaxAdminOutstanding = 1024;  // admin requests awaiting a reply

int64_t monoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* rejectCodeName(schema::RejectCode code) {
  switch (code) {
    case schema::RejectCode::MALFORMED: return "malformed";
    case schema::RejectCode::TOO_LARGE: return "tooLarge";
    case schema::RejectCode::INVALID: return "invalid";
    case schema::RejectCode::NOT_PERMITTED: return "notPermitted";
    case schema::RejectCode::NOT_READY: return "notReady";
    case schema::RejectCode::EXPIRED: return "expired";
    case schema::RejectCode::OVERLOADED: return "overloaded";
    case schema::RejectCode::INTERNAL: return "internal";
    default: return "unspecified";
  }
}

const char* errorCodeName(schema::ErrorCode code) {
  switch (code) {
    case schema::ErrorCode::MALFORMED: return "malformed";
    case schema::ErrorCode::TOO_LARGE: return "tooLarge";
    case schema::ErrorCode::PROTOCOL_VERSION: return "protocolVersion";
    case schema::ErrorCode::NOT_READY: return "notReady";
    case schema::ErrorCode::NOT_PERMITTED: return "notPermitted";
    case schema::ErrorCode::UNKNOWN_OUTLET: return "unknownOutlet";
    case schema::ErrorCode::SESSION_EXPIRED: return "sessionExpired";
    default: return "unspecified";
  }
}

}  // namespace

struct Client::Impl {
  // idle: no socket, next attempt at reconnectAtMs_. connecting: socket open, Hello not sent yet (no
  // connection: ZMQ_IMMEDIATE refuses to queue). helloSent: waiting for Welcome. ready: session up.
  enum class State { idle, connecting, helloSent, ready };

  Impl(Client& owner, ClientOptions options);
  ~Impl();

  // ---- public operations
  uint64_t publish(kj::ArrayPtr<const kj::byte> bytes);
  uint64_t publish(capnp::MessageBuilder& message);
  void subscribe(const std::string& outlet, uint32_t credit, uint64_t fromSeq);
  void ack(uint64_t seq);
  uint64_t adminRequest(const std::string& command, const std::string& json);
  void flush();
  void poll(int timeoutMs);

  // ---- connection
  void openSocket(int64_t now);
  void loseSession(int64_t now, const std::string& reason);
  void tick(int64_t now);
  int64_t nextTimerMs(int64_t now) const;
  int64_t handshakeTimeoutMs() const { return 3 * int64_t(heartbeatMs_); }
  // Frames already waiting count as life: an application that was slow to call poll() must not mistake
  // its own delay for a dead broker.
  bool readable() const { return sock_ && (sock_->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }
  int64_t silentSinceMs() const { return std::max(lastRecvMs_, watchFromMs_); }

  // ---- sending
  template <typename Fill>
  bool sendFrame(Fill&& fill);
  bool sendPublish(uint64_t token, kj::ArrayPtr<const kj::byte> bytes);
  bool sendHello();
  bool sendSubscribe();
  void pumpPublishes(int64_t now);
  void flushAcks();
  bool canSendPublishNow(int64_t now) const {
    // The last condition: after 3 heartbeats of our silence the session is presumed gone (see tick()).
    return state_ == State::ready && !wantWrite_ && now >= pausedUntilMs_ && retry_.empty() &&
           inFlight_.size() < maxInFlight_ && now - lastSendMs_ < 3 * int64_t(heartbeatMs_);
  }

  // ---- receiving
  size_t readAll(int64_t now);
  void dispatch(schema::Frame::Reader frame, int64_t now);
  void onWelcome(schema::Welcome::Reader w, int64_t now);
  void onPublishAck(schema::PublishAck::Reader a);
  void onReject(schema::Reject::Reader r, int64_t now);
  void onDeliver(schema::Deliver::Reader d);
  void onError(schema::Error::Reader e);
  bool eraseInFlight(uint64_t token);
  void prune(uint64_t cursor);
  void rememberSeen(uint64_t seq);

  // ---- helpers
  void report(const std::string& code, const std::string& field, const std::string& value, const std::string& reason);
  void commitOutbox();
  void deliverAdminFailures();
  void requestReset(const std::string& reason) {
    if (!resetRequested_) resetRequested_ = reason;
  }

  Client& owner_;
  ClientOptions opt_;
  uint32_t heartbeatMs_;
  size_t maxInFlight_;
  std::unique_ptr<Outbox> outbox_;

  std::optional<zmq::context_t> ownCtx_;  // when options.zmqContext is null
  zmq::context_t* ctx_ = nullptr;         // the context sockets are made in (owned or shared)
  std::optional<zmq::socket_t> sock_;     // destroyed before ownCtx_ (declared after it)
  State state_ = State::idle;
  bool everWelcomed_ = false;
  bool outageReported_ = false;        // one "no answer" report per outage
  std::vector<FeedReport> feeds_;      // sent with every heartbeat (setFeeds)
  bool feedsDirty_ = false;            // changed since last sent: send a heartbeat now
  int64_t reconnectAtMs_ = 0;
  uint32_t backoffMs_;
  int64_t sessionStartMs_ = 0;
  int64_t welcomeAtMs_ = 0;
  int64_t lastRecvMs_ = 0;
  int64_t lastSendMs_ = 0;
  int64_t lastTickMs_ = 0;
  int64_t watchFromMs_ = 0;          // silence before this does not count: we were not polling
  int64_t deadAfterMs_ = 0;
  bool wantWrite_ = false;             // a send met EAGAIN: wait for POLLOUT before sending again
  std::optional<std::string> resetRequested_;  // set while dispatching; acted on after the read loop
  std::string agency_;
  schema::Role role_ = schema::Role::UNSPECIFIED;

  // Publishing.
  std::deque<uint64_t> inFlight_;
  uint64_t lastQueued_ = 0;            // highest token sent in order this session (retries excluded)
  bool caughtUp_ = false;              // every outbox entry up to the newest is sent (or in retry_)
  std::set<uint64_t> retry_;           // retryably rejected tokens, re-sent first when the pause ends
  int64_t pausedUntilMs_ = 0;          // no publish is sent before this (after overloaded/internal)
  uint32_t retryBackoffMs_ = 0;

  // Subscribing.
  bool hasSub_ = false;
  bool needSubscribe_ = false;
  std::string outlet_;
  uint32_t credit_ = 0;
  uint64_t fromSeq_ = 0;
  uint64_t highestSeen_ = 0;
  std::map<uint64_t, bool> seen_;      // seq passed to the application -> acked by it
  std::vector<uint64_t> pendingAcks_;
  Delivery delivery_;                  // reused per delivery (its vectors keep their capacity)

  // Admin.
  uint64_t adminToken_ = 0;
  std::set<uint64_t> adminOutstanding_;
  std::vector<std::pair<uint64_t, std::string>> adminFailures_;

  bool outboxErrorReported_ = false;
  bool inPoll_ = false;
  ClientStats stats_;

  std::unique_ptr<capnp::word[]> scratch_;  // zeroed; MallocMessageBuilder re-zeroes what it used
  std::vector<kj::byte> flat_;              // publish(MessageBuilder&) serialises here
  zmq::message_t rx_;
  DecodedFrame frame_;
  DecodedMessage message_;
};

// ---------------------------------------------------------------------------------------------------
// Construction

Client::Impl::Impl(Client& owner, ClientOptions options)
    : owner_(owner),
      opt_(std::move(options)),
      heartbeatMs_(opt_.heartbeatMs == 0 ? 1000 : opt_.heartbeatMs),
      maxInFlight_(std::max<size_t>(opt_.maxInFlight, 1)),
      backoffMs_(std::max<uint32_t>(opt_.reconnectMinMs, 1)),
      scratch_(new capnp::word[kScratchWords]()) {
  if (opt_.endpoint.empty()) throw std::invalid_argument("client: endpoint is empty");
  if (opt_.reconnectMaxMs < backoffMs_) opt_.reconnectMaxMs = backoffMs_;
  if (!opt_.serverPublicKey.empty()) {
    if (!isZ85Key(opt_.serverPublicKey)) throw std::invalid_argument("client: server public key is not a Z85 key");
    if (!isZ85Key(opt_.publicKey)) throw std::invalid_argument("client: public key is not a Z85 key");
    if (!isZ85Key(opt_.secretKey)) throw std::invalid_argument("client: secret key is not a Z85 key");
  }
  if (opt_.clientName.empty()) opt_.clientName = "alertbus-client";
  if (opt_.zmqContext) {
    ctx_ = static_cast<zmq::context_t*>(opt_.zmqContext);
  } else {
    ownCtx_.emplace(1);
    ctx_ = &*ownCtx_;
  }
  if (opt_.outboxPath.empty()) {
    outbox_ = std::make_unique<MemoryOutbox>(opt_.outboxLimit);
  } else {
    outbox_ = std::make_unique<SqliteOutbox>(opt_.outboxPath, opt_.outboxLimit);
  }
  pendingAcks_.reserve(kAckBatch);
  // Open now so that a bad endpoint fails here, in the caller's hands, not inside poll().
  openSocket(monoMs());
}

Client::Impl::~Impl() {
  try {
    outbox_->commit();
  } catch (const std::exception&) {
    // SqliteOutbox's destructor retries and reports.
  }
}

// ---------------------------------------------------------------------------------------------------
// Connection management

void Client::Impl::openSocket(int64_t now) {
  sock_.reset();
  zmq::socket_t s(*ctx_, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::immediate, 1);
  // One TCP connection per socket: if it drops, the session is gone (a restarted broker would not know
  // us), so libzmq must not silently reconnect it; the silence check then starts a fresh session.
  s.set(zmq::sockopt::reconnect_ivl, -1);
  int hwm = static_cast<int>(std::min<size_t>(maxInFlight_ + 16384, 1 << 20));  // publishes + acks + control
  s.set(zmq::sockopt::sndhwm, hwm);
  s.set(zmq::sockopt::rcvhwm, hwm);
  // Hard memory bound per received frame; decodeFrame applies the finer limit and reports it.
  const size_t maxBytes = std::min<size_t>(opt_.limits.maxFrameBytes, size_t(1) << 40);
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(maxBytes) * 2 + 4096);
  if (!opt_.serverPublicKey.empty()) {
    s.set(zmq::sockopt::curve_serverkey, opt_.serverPublicKey);
    s.set(zmq::sockopt::curve_publickey, opt_.publicKey);
    s.set(zmq::sockopt::curve_secretkey, opt_.secretKey);
  }
  try {
    s.connect(opt_.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::invalid_argument("client: cannot connect to \"" + opt_.endpoint + "\": " + e.what());
  }
  sock_.emplace(std::move(s));
  state_ = State::connecting;
  sessionStartMs_ = now;
  lastRecvMs_ = now;
  lastSendMs_ = now;
  lastTickMs_ = now;
  watchFromMs_ = now;
  wantWrite_ = true;  // Hello waits for the connection (POLLOUT)
  resetRequested_.reset();
}

// Ends the session: closes the socket, forgets per-session state, schedules the next attempt.
void Client::Impl::loseSession(int64_t now, const std::string& reason) {
  const bool wasReady = state_ == State::ready;
  sock_.reset();
  state_ = State::idle;
  resetRequested_.reset();
  wantWrite_ = false;
  // A session that lived long resets the backoff; one that dies young (refused Hello, a second client
  // taking our outlet over) keeps doubling it, so two misconfigured clients cannot flap at full speed.
  if (wasReady && now - welcomeAtMs_ >= int64_t(opt_.reconnectMaxMs)) {
    backoffMs_ = std::max<uint32_t>(opt_.reconnectMinMs, 1);
  }
  reconnectAtMs_ = now + backoffMs_;
  backoffMs_ = std::min<uint32_t>(backoffMs_ * 2, opt_.reconnectMaxMs);

  inFlight_.clear();
  retry_.clear();
  lastQueued_ = 0;
  caughtUp_ = false;
  pausedUntilMs_ = 0;
  retryBackoffMs_ = 0;
  needSubscribe_ = false;
  // Acks for this session die with it: the broker redelivers every unacked seq to the next session, and
  // seen_ re-acks those the application already acked.
  pendingAcks_.clear();
  for (uint64_t token : adminOutstanding_) {
    adminFailures_.emplace_back(token, "{\"error\":\"connection lost\"}");
  }
  adminOutstanding_.clear();

  if (wasReady) {
    if (owner_.onConnection) owner_.onConnection(false);
  } else if (!outageReported_) {
    outageReported_ = true;
    report("noAnswer", "endpoint", opt_.endpoint,
           reason + " (is the broker up, the broker's public key right, and this client's key registered?)");
  }
}

// Timers and sends: opens the socket when due, sends Hello, detects a silent peer, heartbeats, and sends
// what the windows allow. Cheap when there is nothing to do.
void Client::Impl::tick(int64_t now) {
  switch (state_) {
    case State::idle:
      if (now >= reconnectAtMs_) {
        try {
          openSocket(now);
        } catch (const std::exception& e) {
          report("internal", "endpoint", opt_.endpoint, e.what());
          reconnectAtMs_ = now + opt_.reconnectMaxMs;
          return;
        }
      } else {
        return;
      }
      [[fallthrough]];
    case State::connecting:
      if (now - sessionStartMs_ >= handshakeTimeoutMs()) {
        loseSession(now, "no connection to " + opt_.endpoint + " within " + std::to_string(handshakeTimeoutMs()) + " ms");
        return;
      }
      if (sendHello()) state_ = State::helloSent;  // EAGAIN until the connection is up
      return;
    case State::helloSent:
      if (now - sessionStartMs_ >= handshakeTimeoutMs()) {
        loseSession(now, "no Welcome from " + opt_.endpoint + " within " + std::to_string(handshakeTimeoutMs()) + " ms");
      }
      return;
    case State::ready:
      break;
  }
  // The broker drops a client it has not heard from for 3 x heartbeatMs. If the application did not call
  // poll() for that long, nothing (not even a heartbeat) went out: the broker has dropped this session,
  // and might answer only heartbeats from now on, so start a new one rather than trust it.
  if (now - lastSendMs_ >= 3 * int64_t(heartbeatMs_)) {
    loseSession(now, "nothing sent for " + std::to_string(now - lastSendMs_) + " ms (poll() not called?)");
    return;
  }
  // A stall of ours is not the broker's silence: restart the clock; the heartbeat below gets an answer.
  if (now - lastTickMs_ > int64_t(heartbeatMs_)) watchFromMs_ = now;
  lastTickMs_ = now;
  if (now - silentSinceMs() >= deadAfterMs_ && !readable()) {
    loseSession(now, "broker silent for " + std::to_string(now - lastRecvMs_) + " ms");
    return;
  }
  if (wantWrite_) return;
  if (needSubscribe_ && !sendSubscribe()) return;
  if (!pendingAcks_.empty()) flushAcks();
  try {
    pumpPublishes(now);
  } catch (const std::exception& e) {
    report("outbox", "outbox", opt_.outboxPath, e.what());
  }
  if (!wantWrite_ && (feedsDirty_ || now - lastSendMs_ >= int64_t(heartbeatMs_))) {
    feedsDirty_ = false;
    sendFrame([&](schema::Frame::Builder f) {
      auto hb = f.initHeartbeat();
      hb.setTimeMs(wallMs());
      if (feeds_.empty()) return;
      auto list = hb.initFeeds(static_cast<unsigned>(std::min<size_t>(feeds_.size(), 32)));
      for (unsigned i = 0; i < list.size(); ++i) {
        const FeedReport& r = feeds_[i];
        auto fs = list[i];
        fs.setName(r.name.substr(0, 200));
        fs.setState(r.state == FeedReport::State::up     ? schema::FeedState::UP
                    : r.state == FeedReport::State::down ? schema::FeedState::DOWN
                                                         : schema::FeedState::STALE);
        fs.setLastOkMs(r.lastOkMs);
        fs.setLastAttemptMs(r.lastAttemptMs);
        fs.setDetail(r.detail.substr(0, 200));
        fs.setAccepted(r.accepted);
        fs.setRejected(r.rejected);
      }
    });
  }
}

int64_t Client::Impl::nextTimerMs(int64_t now) const {
  switch (state_) {
    case State::idle: return reconnectAtMs_;
    case State::connecting:
    case State::helloSent: return sessionStartMs_ + handshakeTimeoutMs();
    case State::ready: break;
  }
  int64_t t = std::min(silentSinceMs() + deadAfterMs_, lastSendMs_ + 3 * int64_t(heartbeatMs_));
  if (!wantWrite_) {
    t = std::min<int64_t>(t, lastSendMs_ + heartbeatMs_);
    if (pausedUntilMs_ > now) t = std::min(t, pausedUntilMs_);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------
// Sending

template <typename Fill>
bool Client::Impl::sendFrame(Fill&& fill) {
  if (!sock_) return false;
  zmq::message_t msg;
  {
    capnp::MallocMessageBuilder builder(kj::arrayPtr(scratch_.get(), kScratchWords));
    fill(builder.initRoot<schema::Frame>());
    auto segments = builder.getSegmentsForOutput();
    msg.rebuild(flatSize(segments));
    writeFlat(segments, static_cast<kj::byte*>(msg.data()));
  }
  zmq::send_result_t sent;
  try {
    sent = sock_->send(msg, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    requestReset(std::string("send failed: ") + e.what());
    return false;
  }
  if (!sent) {
    wantWrite_ = true;  // EAGAIN: no connection yet, or the send queue is at its high-water mark
    return false;
  }
  lastSendMs_ = monoMs();
  return true;
}

bool Client::Impl::sendPublish(uint64_t token, kj::ArrayPtr<const kj::byte> bytes) {
  return sendFrame([&](schema::Frame::Builder f) {
    auto p = f.initPublish();
    p.setToken(token);
    p.setMessage(bytes);
  });
}

bool Client::Impl::sendHello() {
  return sendFrame([&](schema::Frame::Builder f) {
    auto h = f.initHello();
    h.setProtocolVersion(schema::PROTOCOL_VERSION);
    h.setClientName(opt_.clientName);
    h.setHeartbeatMs(heartbeatMs_);
    h.setAgency(opt_.agency);
  });
}

bool Client::Impl::sendSubscribe() {
  // Tail is not durable: resume after the last seq seen rather than "from now", so a reconnect loses
  // nothing the broker still has.
  uint64_t from = fromSeq_;
  if (outlet_ == "*" && highestSeen_ > 0) from = std::max(from, highestSeen_ + 1);
  bool ok = sendFrame([&](schema::Frame::Builder f) {
    auto s = f.initSubscribe();
    s.setOutlet(outlet_);
    s.setCredit(credit_);
    s.setFromSeq(from);
  });
  if (ok) needSubscribe_ = false;
  return ok;
}

// Sends retries first (after a pause), then new outbox entries in token order, while the window allows.
void Client::Impl::pumpPublishes(int64_t now) {
  if (state_ != State::ready || wantWrite_ || now < pausedUntilMs_) return;
  while (!retry_.empty() && inFlight_.size() < maxInFlight_) {
    const uint64_t token = *retry_.begin();
    bool found = false;
    bool sent = false;
    outbox_->forEachAfter(token - 1, 1, [&](uint64_t t, kj::ArrayPtr<const kj::byte> bytes) {
      found = t == token;
      if (found) sent = sendPublish(t, bytes);
      return false;
    });
    if (found && !sent) return;
    retry_.erase(retry_.begin());
    if (found) inFlight_.push_back(token);
  }
  while (inFlight_.size() < maxInFlight_) {
    const size_t want = std::min(kSendBatch, maxInFlight_ - inFlight_.size());
    bool blocked = false;
    size_t visited = outbox_->forEachAfter(lastQueued_, want, [&](uint64_t token, kj::ArrayPtr<const kj::byte> bytes) {
      if (!sendPublish(token, bytes)) {
        blocked = true;
        return false;
      }
      inFlight_.push_back(token);
      lastQueued_ = token;
      return true;
    });
    if (blocked) {
      caughtUp_ = false;
      return;
    }
    if (visited < want) {
      caughtUp_ = true;
      return;
    }
  }
  caughtUp_ = false;  // window full; more may wait
}

void Client::Impl::flushAcks() {
  if (state_ != State::ready) return;
  size_t done = 0;
  while (done < pendingAcks_.size()) {
    const size_t n = std::min(kMaxSeqsPerAckFrame, pendingAcks_.size() - done);
    bool ok = sendFrame([&](schema::Frame::Builder f) {
      auto seqs = f.initDeliverAck().initSeqs(static_cast<unsigned>(n));
      for (size_t i = 0; i < n; ++i) seqs.set(static_cast<unsigned>(i), pendingAcks_[done + i]);
    });
    if (!ok) break;
    done += n;
  }
  pendingAcks_.erase(pendingAcks_.begin(), pendingAcks_.begin() + static_cast<std::ptrdiff_t>(done));
}

// ---------------------------------------------------------------------------------------------------
// Receiving

size_t Client::Impl::readAll(int64_t now) {
  size_t n = 0;
  while (sock_ && n < kMaxFramesPerTurn && !resetRequested_) {
    zmq::recv_result_t got;
    try {
      got = sock_->recv(rx_, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      requestReset(std::string("receive failed: ") + e.what());
      break;
    }
    if (!got) break;
    ++n;
    lastRecvMs_ = now;
    if (rx_.more()) {
      // The protocol is single-part: drop the whole multi-part message.
      size_t parts = 1;
      while (rx_.more() && sock_->recv(rx_, zmq::recv_flags::dontwait)) ++parts;
      ++stats_.badFrames;
      report("malformed", "frame", std::to_string(parts) + " parts", "the broker sent a multi-part message");
      continue;
    }
    DecodeError err;
    // The broker may send a frame somewhat larger than the largest message it accepts (one maximal
    // message plus delivery metadata, or a batch of up to half the limit plus one message): accept
    // twice the configured limits from it (docs/protocol.md, "Limits").
    DecodeLimits fromBroker = opt_.limits;
    fromBroker.maxFrameBytes *= 2;
    fromBroker.traversalLimitWords *= 2;
    if (!decodeFrame(rx_.data(), rx_.size(), fromBroker, frame_, err)) {
      ++stats_.badFrames;
      report(err.code, "frame", std::to_string(rx_.size()) + " bytes", err.reason);
      continue;
    }
    dispatch(frame_.frame(), now);
  }
  return n;
}

void Client::Impl::dispatch(schema::Frame::Reader frame, int64_t now) {
  using F = schema::Frame;
  switch (frame.which()) {
    case F::WELCOME: onWelcome(frame.getWelcome(), now); return;
    case F::HEARTBEAT: return;  // liveness only (lastRecvMs_ is already updated)
    case F::ERROR: onError(frame.getError()); return;
    default: break;
  }
  if (state_ != State::ready) return;  // leftovers before Welcome mean nothing for this session
  switch (frame.which()) {
    case F::PUBLISH_ACK: onPublishAck(frame.getPublishAck()); return;
    case F::PUBLISH_ACKS:
      for (auto a : frame.getPublishAcks()) onPublishAck(a);
      return;
    case F::REJECT: onReject(frame.getReject(), now); return;
    case F::SUBSCRIBED: prune(frame.getSubscribed().getCursor()); return;
    case F::DELIVER: onDeliver(frame.getDeliver()); return;
    case F::DELIVERIES:
      for (auto d : frame.getDeliveries()) onDeliver(d);
      return;
    case F::ADMIN_REPLY: {
      auto r = frame.getAdminReply();
      if (adminOutstanding_.erase(r.getToken()) == 0) return;  // not ours (or already failed)
      if (owner_.onAdminReply) owner_.onAdminReply(r.getToken(), r.getOk(), r.getJson());
      return;
    }
    default:
      ++stats_.badFrames;
      report("malformed", "frame", std::to_string(static_cast<int>(frame.which())),
             "the broker sent a frame only clients send");
      return;
  }
}

void Client::Impl::onWelcome(schema::Welcome::Reader w, int64_t now) {
  if (state_ == State::ready) {
    // Only one Hello per socket is ever sent; a second Welcome is a broker bug. Start over cleanly.
    requestReset("unexpected second Welcome");
    return;
  }
  if (state_ != State::helloSent) return;
  state_ = State::ready;
  welcomeAtMs_ = now;
  if (everWelcomed_) ++stats_.reconnects;  // sessions re-established after a loss
  everWelcomed_ = true;
  outageReported_ = false;
  agency_ = w.getAgency();
  role_ = w.getRole();
  // The broker sends at least every w.heartbeatMs and answers each of our heartbeats, so the peer is
  // heard from at least every min(ours, its) ms while alive.
  const uint32_t peerMs = w.getHeartbeatMs() == 0 ? heartbeatMs_ : std::min(w.getHeartbeatMs(), heartbeatMs_);
  deadAfterMs_ = 3 * int64_t(peerMs);
  inFlight_.clear();
  retry_.clear();
  lastQueued_ = 0;  // re-send every unacked entry, oldest first
  caughtUp_ = false;
  needSubscribe_ = hasSub_;
  feedsDirty_ = !feeds_.empty();  // a new session (maybe a restarted broker) hears the feeds at once
  if (owner_.onConnection) owner_.onConnection(true);
}

bool Client::Impl::eraseInFlight(uint64_t token) {
  if (!inFlight_.empty() && inFlight_.front() == token) {
    inFlight_.pop_front();
    return true;
  }
  auto it = std::find(inFlight_.begin(), inFlight_.end(), token);
  if (it == inFlight_.end()) return false;
  inFlight_.erase(it);
  return true;
}

void Client::Impl::onPublishAck(schema::PublishAck::Reader a) {
  const uint64_t token = a.getToken();
  if (!eraseInFlight(token)) return;  // not in flight in this session: ignore
  try {
    outbox_->remove(token);
  } catch (const std::exception& e) {
    report("outbox", "outbox", opt_.outboxPath, e.what());  // worst case: re-sent later, broker de-duplicates
  }
  retryBackoffMs_ = 0;
  ++stats_.published;
  if (a.getDuplicate()) ++stats_.duplicates;
  if (owner_.onAck) owner_.onAck(token, a.getSeq(), a.getDuplicate());
}

void Client::Impl::onReject(schema::Reject::Reader r, int64_t now) {
  const uint64_t token = r.getToken();
  if (!eraseInFlight(token)) return;
  const auto code = r.getCode();
  if (code == schema::RejectCode::OVERLOADED || code == schema::RejectCode::INTERNAL) {
    // Keep it; pause all publishing so an overloaded broker is not pushed harder.
    retry_.insert(token);
    retryBackoffMs_ = retryBackoffMs_ == 0 ? std::max<uint32_t>(opt_.reconnectMinMs, 1)
                                           : std::min<uint32_t>(retryBackoffMs_ * 2, opt_.reconnectMaxMs);
    pausedUntilMs_ = now + retryBackoffMs_;
    caughtUp_ = false;
    return;
  }
  if (code == schema::RejectCode::NOT_READY && role_ != schema::Role::OUTLET) {
    // We had a Welcome, so the broker has lost our session (it restarted behind the same connection, or
    // expired us). Our role may publish, so this is not final: start a new session; the entry stays.
    requestReset("broker answered a publish with notReady");
    return;
  }
  try {
    outbox_->remove(token);
  } catch (const std::exception& e) {
    report("outbox", "outbox", opt_.outboxPath, e.what());
  }
  ++stats_.rejected;
  if (owner_.onReject) {
    RejectInfo info{rejectCodeName(code), r.getField(), r.getValue(), r.getReason()};
    owner_.onReject(token, info);
  }
}

void Client::Impl::prune(uint64_t cursor) {
  if (cursor == 0 || seen_.empty()) return;
  seen_.erase(seen_.begin(), seen_.upper_bound(cursor));
}

// Bounded: beyond kSeenLimit the oldest seqs are forgotten; a later redelivery of one of those (only if
// the broker's cursor is stuck far behind) would reach the application a second time.
void Client::Impl::rememberSeen(uint64_t seq) {
  seen_.emplace(seq, false);
  while (seen_.size() > kSeenLimit) seen_.erase(seen_.begin());
}

void Client::Impl::onDeliver(schema::Deliver::Reader d) {
  const uint64_t seq = d.getSeq();
  const uint64_t cursor = d.getCursor();
  prune(cursor);
  if (seq <= cursor && cursor != 0) {
    // Already acknowledged durably for this outlet: a broker-side redelivery. Ack again to free credit.
    ++stats_.redeliveriesDropped;
    ack(seq);
    return;
  }
  auto known = seen_.find(seq);
  if (known != seen_.end()) {
    // At-least-once on the wire, once to the application. If the application has acked it, the ack
    // was lost with an earlier session: send it again. If not, its ack is still to come.
    ++stats_.redeliveriesDropped;
    if (known->second) ack(seq);
    return;
  }
  DecodeError err;
  // The broker type-checked this message when it was published (model/typecheck.h); bounds are checked
  // again here, the field-by-field walk is not repeated for every delivery.
  DecodeLimits limits = opt_.limits;
  limits.typeCheck = false;
  if (!decodeMessage(d.getMessage(), limits, message_, err)) {
    // Not acked on purpose: the message stays in the journal (redelivered on the next session) instead
    // of being lost silently; it holds one credit meanwhile. The application may ack(seq) from onError
    // to skip it after logging.
    ++stats_.badFrames;
    report(err.code, "deliver.message", std::to_string(seq), err.reason);
    return;
  }
  rememberSeen(seq);
  highestSeen_ = std::max(highestSeen_, seq);
  ++stats_.delivered;
  if (!owner_.onDeliver) return;
  delivery_.seq = seq;
  delivery_.sender = d.getSender();
  delivery_.receivedMs = d.getReceivedMs();
  auto targets = d.getTargets();
  delivery_.targets.resize(targets.size());
  for (unsigned i = 0; i < targets.size(); ++i) delivery_.targets[i].assign(targets[i].cStr(), targets[i].size());
  auto follows = d.getFollows();
  delivery_.follows.assign(targets.size(), 0);  // absent (an older broker) or short: rules only
  for (unsigned i = 0; i < follows.size() && i < targets.size(); ++i) delivery_.follows[i] = follows[i];
  auto refs = d.getReferences();
  delivery_.references.clear();
  for (auto r : refs) delivery_.references.push_back(r);
  delivery_.urgent = d.getUrgent();
  delivery_.messageBytes = d.getMessage();
  delivery_.message = message_.message();
  owner_.onDeliver(delivery_);
}

void Client::Impl::onError(schema::Error::Reader e) {
  const auto code = e.getCode();
  report(errorCodeName(code), e.getField(), e.getValue(), e.getReason());
  if (state_ == State::helloSent) {
    requestReset(std::string("Hello refused: ") + errorCodeName(code));  // retried with backoff
  } else if (code == schema::ErrorCode::SESSION_EXPIRED || code == schema::ErrorCode::NOT_READY) {
    requestReset(std::string("session ended by the broker: ") + errorCodeName(code));
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

void Client::Impl::report(const std::string& code, const std::string& field, const std::string& value,
                          const std::string& reason) {
  if (owner_.onError) owner_.onError(RejectInfo{code, field, value, reason});
}

void Client::Impl::commitOutbox() {
  try {
    outbox_->commit();
    outboxErrorReported_ = false;
  } catch (const std::exception& e) {
    // Nothing is lost (the batch stays in memory and is retried); say so once per failure streak.
    if (!outboxErrorReported_) report("outbox", "outbox", opt_.outboxPath, e.what());
    outboxErrorReported_ = true;
  }
}

void Client::Impl::deliverAdminFailures() {
  if (adminFailures_.empty()) return;
  std::vector<std::pair<uint64_t, std::string>> failures;
  failures.swap(adminFailures_);
  for (auto& [token, json] : failures) {
    if (owner_.onAdminReply) owner_.onAdminReply(token, false, json);
  }
}

// ---------------------------------------------------------------------------------------------------
// Operations

uint64_t Client::Impl::publish(kj::ArrayPtr<const kj::byte> bytes) {
  const uint64_t token = outbox_->append(bytes);
  const int64_t now = monoMs();
  if (caughtUp_ && canSendPublishNow(now)) {
    // Fast path: nothing older is waiting, so this one can go straight out.
    if (sendPublish(token, bytes)) {
      inFlight_.push_back(token);
      lastQueued_ = token;
      return token;
    }
  }
  caughtUp_ = false;  // poll() sends it in order
  return token;
}

uint64_t Client::Impl::publish(capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  flat_.resize(flatSize(segments));
  writeFlat(segments, flat_.data());
  return publish(kj::arrayPtr(flat_.data(), flat_.size()));
}

void Client::Impl::subscribe(const std::string& outlet, uint32_t credit, uint64_t fromSeq) {
  if (outlet.empty()) throw std::invalid_argument("subscribe: outlet is empty");
  if (credit == 0) throw std::invalid_argument("subscribe: credit must be at least 1");
  if (hasSub_ && outlet != outlet_) {
    seen_.clear();  // seqs are per outlet
    highestSeen_ = 0;
  }
  hasSub_ = true;
  outlet_ = outlet;
  credit_ = credit;
  fromSeq_ = fromSeq;
  needSubscribe_ = state_ == State::ready;
  if (needSubscribe_ && !wantWrite_) sendSubscribe();
}

void Client::Impl::ack(uint64_t seq) {
  auto it = seen_.find(seq);
  if (it != seen_.end()) it->second = true;
  pendingAcks_.push_back(seq);
  if (pendingAcks_.size() >= kAckBatch && !wantWrite_) flushAcks();
}

uint64_t Client::Impl::adminRequest(const std::string& command, const std::string& json) {
  const uint64_t token = ++adminToken_;
  if (state_ != State::ready) {
    adminFailures_.emplace_back(token, "{\"error\":\"not connected\"}");
  } else if (adminOutstanding_.size() >= kMaxAdminOutstanding) {
    adminFailures_.emplace_back(token, "{\"error\":\"too many admin requests awaiting a reply\"}");
  } else if (!sendFrame([&](schema::Frame::Builder f) {
               auto r = f.initAdminRequest();
               r.setToken(token);
               r.setCommand(command);
               r.setJson(json);
             })) {
    adminFailures_.emplace_back(token, "{\"error\":\"send queue full\"}");
  } else {
    adminOutstanding_.insert(token);
  }
  return token;
}

void Client::Impl::flush() { outbox_->commit(); }

void Client::Impl::poll(int timeoutMs) {
  if (inPoll_) return;  // called from a callback: the outer poll() carries on
  inPoll_ = true;
  struct Guard {
    bool& flag;
    ~Guard() { flag = false; }
  } guard{inPoll_};

  const int64_t deadline = monoMs() + std::max(timeoutMs, 0);
  commitOutbox();
  deliverAdminFailures();
  for (;;) {
    int64_t now = monoMs();
    tick(now);
    if (resetRequested_) loseSession(now, *resetRequested_);
    bool worked = false;
    if (!sock_) {
      const int64_t wake = std::min(deadline, reconnectAtMs_);
      if (wake > now) std::this_thread::sleep_for(std::chrono::milliseconds(wake - now));
    } else {
      int64_t wait = std::min(deadline, nextTimerMs(now)) - now;
      if (wait < 1) wait = deadline > now ? 1 : 0;  // a due timer is handled by tick(); never spin
      zmq::pollitem_t item{sock_->handle(), 0, static_cast<short>(ZMQ_POLLIN | (wantWrite_ ? ZMQ_POLLOUT : 0)), 0};
      const int rc = zmq_poll(&item, 1, static_cast<long>(wait));  // C API: EINTR is not an exception here
      now = monoMs();
      if (rc > 0 && (item.revents & ZMQ_POLLOUT)) wantWrite_ = false;
      if (rc > 0 && (item.revents & ZMQ_POLLIN)) worked = readAll(now) > 0;
      if (resetRequested_) loseSession(now, *resetRequested_);
      tick(now);
      if (resetRequested_) loseSession(now, *resetRequested_);
    }
    if (worked || monoMs() >= deadline) break;
  }
  flushAcks();
  commitOutbox();
  deliverAdminFailures();
}

// ---------------------------------------------------------------------------------------------------
// Client

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(*this, std::move(options))) {}
Client::~Client() = default;

uint64_t Client::publish(kj::ArrayPtr<const kj::byte> messageBytes) { return impl_->publish(messageBytes); }
uint64_t Client::publish(capnp::MessageBuilder& message) { return impl_->publish(message); }
void Client::subscribe(const std::string& outlet, uint32_t credit, uint64_t fromSeq) {
  impl_->subscribe(outlet, credit, fromSeq);
}
void Client::ack(uint64_t seq) { impl_->ack(seq); }
void Client::setFeeds(std::vector<FeedReport> feeds) {
  if (feeds == impl_->feeds_) return;
  impl_->feeds_ = std::move(feeds);
  impl_->feedsDirty_ = true;
}
void Client::flush() { impl_->flush(); }
uint64_t Client::adminRequest(const std::string& command, const std::string& json) {
  return impl_->adminRequest(command, json);
}
void Client::poll(int timeoutMs) { impl_->poll(timeoutMs); }
bool Client::connected() const { return impl_->state_ == Impl::State::ready; }
std::string Client::agency() const { return impl_->agency_; }
size_t Client::pending() const { return impl_->outbox_->size(); }
const ClientStats& Client::stats() const { return impl_->stats_; }

}  // namespace alertbus
