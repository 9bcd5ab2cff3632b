// The client library every adapter, outlet, the CLI and the benchmarks use to talk to alertbusd:
// connect (CURVE), hello/welcome, publish-with-ack through an outbox, subscribe-with-credit, explicit
// delivery acks with de-duplication by journal seq, admin requests, heartbeats and reconnect.
//
// Threading: a Client owns one ZeroMQ DEALER socket and is NOT thread-safe. One thread constructs it,
// calls its methods and poll(); callbacks run inside poll() on that thread.
#pragma once

#include <capnp/message.h>
#include <kj/array.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/codec.h"

namespace alertbus {

struct ClientOptions {
  std::string endpoint;            // e.g. "tcp://127.0.0.1:7750"
  std::string serverPublicKey;     // Z85 (40 chars); empty = CURVE off (insecure dev mode, see docs)
  std::string publicKey;           // this client's Z85 public key (CURVE on)
  std::string secretKey;           // this client's Z85 secret key (CURVE on)
  std::string agency;              // sent in Hello; only honoured by a broker running with CURVE off
  std::string clientName;          // shown by `alertbus status`
  std::string outboxPath;          // SQLite file for the outbox; "" = in memory (lost when the process dies)
  size_t maxInFlight = 1000;       // publishes sent and not yet acknowledged
  size_t outboxLimit = 1000000;    // messages waiting; publish() throws OutboxFull beyond
  uint32_t heartbeatMs = 1000;     // send a heartbeat after this much idle time; peer dead after 3x silence
  uint32_t reconnectMinMs = 100;   // reconnect backoff starts here, doubles per failure ...
  uint32_t reconnectMaxMs = 5000;  // ... up to here
  DecodeLimits limits;             // bounds on frames received from the broker
  void* zmqContext = nullptr;      // a zmq::context_t* (void* keeps ZeroMQ out of this header) to share
                                   // with other Clients of the process, as ZeroMQ advises (one context,
                                   // one set of I/O threads); it must outlive the Client. nullptr: the
                                   // Client owns a context with one I/O thread.
};

class OutboxFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RejectInfo {
  std::string code;    // RejectCode name: "invalid", "notPermitted", "malformed", ...
  std::string field;
  std::string value;
  std::string reason;
};

// One delivery as the application sees it. The byte views are valid only during the callback.
struct Delivery {
  uint64_t seq = 0;
  std::string sender;                   // stamped by the broker
  int64_t receivedMs = 0;
  std::vector<std::string> targets;     // this outlet's targets
  std::vector<uint64_t> follows;        // parallel to targets: seq of the original it follows, 0 = rules only
  std::vector<uint64_t> references;     // update/cancel: seqs of the referenced messages this outlet had
  bool urgent = false;
  kj::ArrayPtr<const kj::byte> messageBytes;
  schema::Message::Reader message;      // decoded, bounds-checked
};

// Adapter role: the health of one input (a watched directory, a polled feed, stdin), carried by
// heartbeats so the broker can tell "no alerts" (up, nothing new) from "feed down".
struct FeedReport {
  enum class State { up, down, stale };
  std::string name;                     // e.g. "cma-feed" or "watch:/srv/alertbus/in"; <= 200 bytes shown
  State state = State::up;
  int64_t lastOkMs = 0;                 // last successful read, unix ms; 0 = never
  int64_t lastAttemptMs = 0;
  std::string detail;                   // why down/stale, e.g. "HTTP 503"; <= 200 bytes shown
  uint64_t accepted = 0, rejected = 0;  // inputs since start
  bool operator==(const FeedReport& o) const {
    return name == o.name && state == o.state && lastOkMs == o.lastOkMs && lastAttemptMs == o.lastAttemptMs &&
           detail == o.detail && accepted == o.accepted && rejected == o.rejected;
  }
};

struct ClientStats {
  uint64_t published = 0;          // acknowledged by the broker
  uint64_t duplicates = 0;         // acknowledged as duplicates
  uint64_t rejected = 0;
  uint64_t delivered = 0;          // deliveries passed to the application
  uint64_t redeliveriesDropped = 0;  // deliveries of an already-acked seq, re-acked and not passed on
  uint64_t reconnects = 0;
  uint64_t badFrames = 0;          // frames from the broker that failed to decode
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Queues a serialised Message (message.capnp) for publishing: the bytes are stored in the outbox first,
  // then sent in order as the in-flight window allows, and re-sent in order after every reconnect until
  // acknowledged or rejected. Returns the token that onAck/onReject will carry. Throws OutboxFull at
  // outboxLimit, std::runtime_error if the outbox file cannot be written. Works while disconnected.
  // With outboxPath set, stores are batched: durable after the next flush() or poll() (and every 1024).
  uint64_t publish(kj::ArrayPtr<const kj::byte> messageBytes);
  uint64_t publish(capnp::MessageBuilder& message);

  // Makes every earlier publish() durable in the outbox file now (one SQLite commit + fsync; nothing to do
  // for an in-memory outbox). Call it before treating input as handed over when no poll() follows.
  // Throws std::runtime_error if the file cannot be written (the batch stays in memory and is retried).
  void flush();

  // Called when the broker has durably journaled a publish (duplicate = it already had that id).
  std::function<void(uint64_t token, uint64_t seq, bool duplicate)> onAck;
  // Called when the broker refused a publish for good. overloaded/internal rejects are retried instead.
  std::function<void(uint64_t token, const RejectInfo&)> onReject;

  // Outlet role: receive deliveries for `outlet` with at most `credit` unacknowledged in flight.
  // Re-sent automatically after every reconnect. outlet "*" tails every message from fromSeq (admin).
  // One subscription per Client: calling it again replaces the previous one.
  void subscribe(const std::string& outlet, uint32_t credit, uint64_t fromSeq = 0);
  // Called once per journal seq per Client lifetime; the application must call ack(seq) once handled.
  std::function<void(const Delivery&)> onDeliver;
  void ack(uint64_t seq);

  // Admin role: sends a command (docs/protocol.md lists them); the reply arrives via onAdminReply.
  // Not queued across reconnects: a request sent while disconnected gets ok=false "not connected".
  uint64_t adminRequest(const std::string& command, const std::string& json);
  std::function<void(uint64_t token, bool ok, const std::string& json)> onAdminReply;

  // Connection state changes: true after Welcome, false when the peer is found dead or the socket resets.
  std::function<void(bool connected)> onConnection;
  // Session-level errors from the broker (ErrorCode name, field, value, reason), and the client's own:
  // "noAnswer" (no session could be set up; once per outage), "outbox" (outbox I/O failure; nothing is
  // lost while the process lives), "malformed"/"tooLarge" for undecodable frames. A delivery whose message
  // does not decode comes here (field "deliver.message", value = its seq) and is NOT acked, so it stays
  // in the journal; ack(seq) skips it.
  std::function<void(const RejectInfo& error)> onError;

  // Adapter role: replaces the list of input health reports. Every heartbeat carries the list, and a
  // changed list is sent at the next poll() without waiting for idle time (the broker keeps the last
  // list per agency, also after a disconnect). At most 32 reports are sent.
  void setFeeds(std::vector<FeedReport> feeds);

  // Does I/O: receives and dispatches frames, sends queued publishes and acks, heartbeats, detects a
  // dead peer and reconnects. Returns after the first turn that received something, or at timeoutMs
  // (0 = do what is ready and return). Call it at least every heartbeatMs: after 3 x heartbeatMs without
  // it the broker has dropped the session, and the next poll() starts a new one.
  void poll(int timeoutMs);

  bool connected() const;
  std::string agency() const;     // as granted in Welcome ("" before)
  size_t pending() const;         // publishes in the outbox, not yet acknowledged or rejected
  const ClientStats& stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace alertbus
