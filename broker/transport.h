// The broker's ZeroMQ edge: the ROUTER socket, the ZAP handler thread (CURVE key -> agency) and the
// flusher thread (fsync before acks). Runs the event loop that feeds BrokerCore.
//
// Threads and sockets (one socket per thread):
//   event loop : ROUTER (clients), PAIR "inproc://alertbus-flush" (to the flusher)
//   ZAP        : REP "inproc://zeromq.zap.01"
//   flusher    : PAIR (the other end); calls Journal::flush() only
//   checker    : PAIR "inproc://alertbus-check" (wake-ups only); runs checkPublish() on queued jobs
//                (CheckerQueues, one mutex) and returns results in order
// The registry used by ZAP is swapped atomically (std::atomic_store on shared_ptr).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "broker/broker_core.h"
#include "broker/journal.h"
#include "common/log.h"
#include "broker/registry.h"

namespace alertbus {

struct TransportOptions {
  std::string endpoint = "tcp://127.0.0.1:7750";  // "tcp://127.0.0.1:*" picks a free port
  bool curve = true;
  std::string serverSecretKey;       // Z85; required when curve
  std::string serverPublicKey;       // Z85; reported in logs/status
  size_t maxFramesPerTurn = 1024;    // frames handled per event-loop turn
  size_t commitEveryAppends = 8192;  // while an fsync runs, commit anyway once this many appends wait
  bool checkerThread = true;         // decode/validate/route publishes on a second thread (see broker_core.h)
  size_t hardMaxFrameBytes = 4 << 20;  // libzmq drops a connection sending more (ZMQ_MAXMSGSIZE)
  int sendHighWaterMark = 100000;    // frames queued per peer before sends fail (counted)
  int receiveHighWaterMark = 100000;
};

class Transport {
 public:
  Transport(TransportOptions options, Journal& journal, const Logger& log,
            std::shared_ptr<const Registry> registry);
  ~Transport();

  // Binds; returns the bound endpoint (with the real port). Throws std::runtime_error on failure.
  std::string bind();
  // Runs the event loop until stop() (from a signal handler or another thread). `makeCore` builds the
  // core with the transport's sink; it runs on the event-loop thread.
  void run(const std::function<std::unique_ptr<BrokerCore>(FrameSink&)>& makeCore);
  void stop() { stop_.store(true); }
  void setRegistry(std::shared_ptr<const Registry> registry);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
};

}  // namespace alertbus
