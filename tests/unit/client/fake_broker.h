// A small stand-in for alertbusd, for client tests: one thread owns one ROUTER bound to
// tcp://127.0.0.1:* (or a given endpoint) and speaks the protocol frames of schemas/protocol.capnp the
// way docs/protocol-notes describe (Welcome, acks in order, Reject, Subscribed, Deliver, Heartbeat,
// AdminReply, notReady for unknown sessions). The test thread steers it through atomics and a command
// queue and reads what it saw through mutex-guarded accessors; the socket never leaves its thread.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "model/codec.h"

namespace alertbus::test {

inline std::vector<kj::byte> toBytes(capnp::MessageBuilder& b) {
  auto words = capnp::messageToFlatArray(b);
  auto bytes = words.asBytes();
  return std::vector<kj::byte>(bytes.begin(), bytes.end());
}

// A minimal valid Message with the given id.
inline std::vector<kj::byte> makeMessage(const std::string& id) {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  m.setId(id);
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::ALERT);
  m.setSentMs(1700000000000);
  return toBytes(b);
}

inline kj::ArrayPtr<const kj::byte> view(const std::vector<kj::byte>& v) { return kj::arrayPtr(v.data(), v.size()); }

// Polls the client until `done()` or the deadline; returns done(). Never a bare sleep.
template <typename Pred>
bool pollUntil(Client& client, Pred done, int timeoutMs = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    client.poll(10);
  }
  return true;
}

// Waits for a condition on the broker side alone (no client to drive).
template <typename Pred>
bool waitUntil(Pred done, int timeoutMs = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

struct FakeBrokerOptions {
  std::string endpoint = "tcp://127.0.0.1:*";
  std::string curveSecretKey;  // Z85; non-empty = CURVE server (no ZAP handler: any client key is let in)
  uint32_t heartbeatMs = 1000;
  std::string agency = "met";
  schema::Role role = schema::Role::ADAPTER;
};

class FakeBroker {
 public:
  using Options = FakeBrokerOptions;
  struct Publish {
    std::string peer;
    uint64_t token;
    std::string id;
  };

  std::atomic<bool> mute{false};     // read and record, answer nothing (a hung broker)
  std::atomic<bool> autoAck{true};   // false: hold publishes until ackHeld()

  explicit FakeBroker(Options options = {}) : opt_(std::move(options)) {
    std::promise<std::string> bound;
    auto ready = bound.get_future();
    thread_ = std::thread([this, p = std::move(bound)]() mutable { run(p); });
    endpoint_ = ready.get();  // rethrows a bind failure
  }
  ~FakeBroker() {
    stop_ = true;
    thread_.join();
  }
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // Reject the message with this id `times` times with `code`, then accept it.
  void rejectId(const std::string& id, schema::RejectCode code, int times) {
    std::lock_guard<std::mutex> lock(mu_);
    rejects_[id] = {code, times};
  }

  // ---- commands, run on the broker thread at its next turn
  void deliver(uint64_t seq, uint64_t cursor, std::vector<kj::byte> messageBytes, bool urgent = false) {
    post([=](zmq::socket_t& s) {
      sendTo(s, lastPeer_, [&](schema::Frame::Builder f) {
        auto d = f.initDeliver();
        d.setSeq(seq);
        d.setCursor(cursor);
        d.setSender(opt_.agency);
        d.setReceivedMs(1700000000123);
        d.setUrgent(urgent);
        auto t = d.initTargets(1);
        t.set(0, "flood-duty-officers");
        d.setMessage(kj::arrayPtr(messageBytes.data(), messageBytes.size()));
      });
    });
  }
  // Arbitrary bytes (hostile or broken frames), `parts` ZeroMQ parts of them.
  void sendRaw(std::vector<kj::byte> bytes, int parts = 1) {
    post([=](zmq::socket_t& s) {
      if (lastPeer_.empty()) return;
      s.send(zmq::buffer(lastPeer_), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      for (int i = 0; i < parts; ++i) {
        auto more = i + 1 < parts ? zmq::send_flags::sndmore : zmq::send_flags::none;
        s.send(zmq::buffer(bytes.data(), bytes.size()), more | zmq::send_flags::dontwait);
      }
    });
  }
  void sendError(schema::ErrorCode code, const std::string& reason) {
    post([=](zmq::socket_t& s) {
      sendTo(s, lastPeer_, [&](schema::Frame::Builder f) {
        auto e = f.initError();
        e.setCode(code);
        e.setReason(reason);
      });
    });
  }
  void ackHeld() {
    post([this](zmq::socket_t& s) {
      std::deque<Publish> held;
      {
        std::lock_guard<std::mutex> lock(mu_);
        held.swap(held_);
      }
      for (auto& p : held) answer(s, p);
    });
  }
  // Like a broker restarted behind the same TCP connection: every peer must Hello again.
  void forgetSessions() {
    post([this](zmq::socket_t&) {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.clear();
    });
  }

  // ---- what it saw
  std::vector<Publish> publishes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return publishes_;
  }
  std::vector<std::string> publishedIds() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> ids;
    for (auto& p : publishes_) ids.push_back(p.id);
    return ids;
  }
  size_t heldCount() const {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  int hellos() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hellos_;
  }
  std::set<std::string> helloPeers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return helloPeers_;
  }
  std::vector<std::string> subscribes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return subscribes_;
  }
  std::vector<uint64_t> subscribeFromSeqs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return subscribeFromSeqs_;
  }
  std::vector<uint64_t> deliverAcks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deliverAcks_;
  }
  int deliverAckFrames() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deliverAckFrames_;
  }
  std::vector<std::string> adminCommands() const {
    std::lock_guard<std::mutex> lock(mu_);
    return adminCommands_;
  }

 private:
  struct RejectRule {
    schema::RejectCode code;
    int remaining;
  };

  void post(std::function<void(zmq::socket_t&)> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back(std::move(fn));
  }

  template <typename Fill>
  static void sendTo(zmq::socket_t& s, const std::string& peer, Fill&& fill) {
    if (peer.empty()) return;
    capnp::MallocMessageBuilder b;
    fill(b.initRoot<schema::Frame>());
    auto bytes = toBytes(b);
    s.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    s.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
  }

  void answer(zmq::socket_t& s, const Publish& p) {
    std::unique_lock<std::mutex> lock(mu_);
    auto rule = rejects_.find(p.id);
    if (rule != rejects_.end() && rule->second.remaining > 0) {
      --rule->second.remaining;
      auto code = rule->second.code;
      lock.unlock();
      sendTo(s, p.peer, [&](schema::Frame::Builder f) {
        auto r = f.initReject();
        r.setToken(p.token);
        r.setCode(code);
        r.setField("id");
        r.setValue(p.id);
        r.setReason("rejected by the test");
      });
      return;
    }
    bool duplicate = seqOfId_.count(p.id) != 0;
    uint64_t seq = duplicate ? seqOfId_[p.id] : (seqOfId_[p.id] = ++nextSeq_);
    lock.unlock();
    sendTo(s, p.peer, [&](schema::Frame::Builder f) {
      auto a = f.initPublishAck();
      a.setToken(p.token);
      a.setSeq(seq);
      a.setDuplicate(duplicate);
    });
  }

  void handle(zmq::socket_t& s, const std::string& peer, const zmq::message_t& payload) {
    DecodedFrame decoded;
    DecodeError err;
    if (!decodeFrame(payload.data(), payload.size(), DecodeLimits{}, decoded, err)) return;
    auto frame = decoded.frame();
    std::unique_lock<std::mutex> lock(mu_);
    if (frame.isPublish()) {
      DecodedMessage m;
      std::string id = decodeMessage(frame.getPublish().getMessage(), DecodeLimits{}, m, err)
                           ? std::string(m.message().getId().cStr())
                           : std::string("<malformed>");
      publishes_.push_back({peer, frame.getPublish().getToken(), id});
    }
    if (mute) return;
    const bool known = sessions_.count(peer) != 0;
    switch (frame.which()) {
      case schema::Frame::HELLO: {
        ++hellos_;
        helloPeers_.insert(peer);
        sessions_.insert(peer);
        lastPeer_ = peer;
        lock.unlock();
        sendTo(s, peer, [&](schema::Frame::Builder f) {
          auto w = f.initWelcome();
          w.setProtocolVersion(schema::PROTOCOL_VERSION);
          w.setAgency(opt_.agency);
          w.setRole(opt_.role);
          w.setHeartbeatMs(opt_.heartbeatMs);
          w.setBrokerId("fake");
          w.setMaxFrameBytes(1 << 20);
        });
        return;
      }
      case schema::Frame::HEARTBEAT:
        lock.unlock();
        sendTo(s, peer, [&](schema::Frame::Builder f) { f.initHeartbeat().setTimeMs(1); });
        return;
      default:
        break;
    }
    if (!known) {
      lock.unlock();
      if (frame.isPublish()) {
        sendTo(s, peer, [&](schema::Frame::Builder f) {
          auto r = f.initReject();
          r.setToken(frame.getPublish().getToken());
          r.setCode(schema::RejectCode::NOT_READY);
          r.setReason("no Hello on this connection");
        });
      } else {
        sendTo(s, peer, [&](schema::Frame::Builder f) { f.initError().setCode(schema::ErrorCode::NOT_READY); });
      }
      return;
    }
    switch (frame.which()) {
      case schema::Frame::PUBLISH: {
        Publish p = publishes_.back();
        if (!autoAck) {
          held_.push_back(p);
          return;
        }
        lock.unlock();
        answer(s, p);
        return;
      }
      case schema::Frame::SUBSCRIBE: {
        std::string outlet = frame.getSubscribe().getOutlet();
        subscribes_.push_back(outlet);
        subscribeFromSeqs_.push_back(frame.getSubscribe().getFromSeq());
        lastPeer_ = peer;
        lock.unlock();
        sendTo(s, peer, [&](schema::Frame::Builder f) {
          auto r = f.initSubscribed();
          r.setOutlet(outlet);
        });
        return;
      }
      case schema::Frame::DELIVER_ACK:
        ++deliverAckFrames_;
        for (auto seq : frame.getDeliverAck().getSeqs()) deliverAcks_.push_back(seq);
        return;
      case schema::Frame::ADMIN_REQUEST: {
        auto r = frame.getAdminRequest();
        adminCommands_.push_back(r.getCommand());
        uint64_t token = r.getToken();
        lock.unlock();
        sendTo(s, peer, [&](schema::Frame::Builder f) {
          auto a = f.initAdminReply();
          a.setToken(token);
          a.setOk(true);
          a.setJson("{\"status\":\"fine\"}");
        });
        return;
      }
      default:
        return;
    }
  }

  void run(std::promise<std::string>& bound) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::router);
    try {
      s.set(zmq::sockopt::linger, 0);
      if (!opt_.curveSecretKey.empty()) {
        s.set(zmq::sockopt::curve_server, 1);
        s.set(zmq::sockopt::curve_secretkey, opt_.curveSecretKey);
      }
      s.bind(opt_.endpoint);
      bound.set_value(s.get(zmq::sockopt::last_endpoint));
    } catch (...) {
      bound.set_exception(std::current_exception());
      return;
    }
    while (!stop_) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(5));
      for (;;) {
        zmq::message_t peer;
        if (!s.recv(peer, zmq::recv_flags::dontwait)) break;
        zmq::message_t payload;
        if (!peer.more() || !s.recv(payload, zmq::recv_flags::dontwait)) continue;
        while (payload.more()) {
          zmq::message_t extra;
          (void)s.recv(extra, zmq::recv_flags::dontwait);
          if (!extra.more()) break;
        }
        handle(s, peer.to_string(), payload);
      }
      std::deque<std::function<void(zmq::socket_t&)>> commands;
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands.swap(commands_);
      }
      for (auto& c : commands) c(s);
    }
  }

  Options opt_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mu_;  // guards everything below (the socket itself is only touched by thread_)
  std::deque<std::function<void(zmq::socket_t&)>> commands_;
  std::set<std::string> sessions_;
  std::string lastPeer_;
  std::map<std::string, RejectRule> rejects_;
  std::map<std::string, uint64_t> seqOfId_;
  uint64_t nextSeq_ = 0;
  std::vector<Publish> publishes_;
  std::deque<Publish> held_;
  int hellos_ = 0;
  std::set<std::string> helloPeers_;
  std::vector<std::string> subscribes_;
  std::vector<uint64_t> subscribeFromSeqs_;
  std::vector<uint64_t> deliverAcks_;
  int deliverAckFrames_ = 0;
  std::vector<std::string> adminCommands_;
};

}  // namespace alertbus::test
