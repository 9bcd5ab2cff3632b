// ZeroMQ edge of the broker; see transport.h for the thread/socket layout.
#include "broker/transport.h"

#include "model/flat.h"

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace alertbus {
namespace {

// Helper threads never take SIGINT/SIGTERM: the event loop's thread handles them (its poll returns EINTR).
// Each is named (at most 15 characters) so top -H, perf sched and /proc/PID/task tell them apart.
void enterHelperThread(const char* name) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), name);
}

// ZAP (RFC 27) handler: accepts a CURVE client only if its public key is in the registry and answers
// with the agency name as User-Id, which arrives on every message from that connection.
// `rep` is bound by the caller before the ROUTER binds and is owned by this thread from then on.
void zapLoop(zmq::socket_t rep, std::atomic<bool>& stop, std::shared_ptr<const Registry>* registrySlot,
             const Logger& log) {
  enterHelperThread("alertbusd-zap");
  while (!stop.load()) {
    zmq::pollitem_t items[] = {{rep.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 1, 200) <= 0 || !(items[0].revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(rep, std::back_inserter(parts))) continue;
    // version, request id, domain, address, identity, mechanism, credentials...
    std::string version = parts.size() > 0 ? parts[0].to_string() : "";
    std::string requestId = parts.size() > 1 ? parts[1].to_string() : "";
    std::string address = parts.size() > 3 ? parts[3].to_string() : "";
    std::string mechanism = parts.size() > 5 ? parts[5].to_string() : "";
    std::string status = "400", text = "denied", user;
    if (version == "1.0" && mechanism == "CURVE" && parts.size() >= 7 && parts[6].size() == 32) {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const uint8_t*>(parts[6].data()), 32);
      auto reg = std::atomic_load(registrySlot);
      const Agency* a = reg->byKey(z85);
      if (a) {
        status = "200";
        text = "OK";
        user = a->name;
      } else {
        text = "unknown public key";
        log.warn("zap", std::string("refused CURVE key ") + z85 + " from " + address + ": not in the agency registry");
      }
    } else {
      log.warn("zap", "refused " + (mechanism.empty() ? std::string("?") : mechanism) + " handshake from " + address);
    }
    std::array<zmq::const_buffer, 6> reply = {zmq::buffer(version), zmq::buffer(requestId), zmq::buffer(status),
                                              zmq::buffer(text), zmq::buffer(user), zmq::const_buffer(nullptr, 0)};
    zmq::send_multipart(rep, reply);
  }
}

// Flusher: receives "flush up to batch N" and answers N once Journal::flush() returned. Requests that
// pile up while it syncs are coalesced: one fsync covers every commit made before it started.
void flushLoop(zmq::context_t& ctx, Journal& journal, const Logger& log) {
  enterHelperThread("alertbusd-flush");
  zmq::socket_t pair(ctx, zmq::socket_type::pair);
  pair.set(zmq::sockopt::linger, 0);
  pair.connect("inproc://alertbus-flush");
  for (;;) {
    zmq::message_t m;
    if (!pair.recv(m)) continue;
    if (m.size() != sizeof(uint64_t)) break;  // empty message = stop
    uint64_t id;
    memcpy(&id, m.data(), sizeof id);
    zmq::message_t more;
    while (pair.recv(more, zmq::recv_flags::dontwait)) {
      if (more.size() != sizeof(uint64_t)) return;
      memcpy(&id, more.data(), sizeof id);
    }
    try {
      journal.flush();
    } catch (const std::exception& e) {
      // An fsync failure means we cannot promise durability: fail fast rather than ack (the classic
      // fsyncgate lesson: the kernel may have dropped the dirty pages).
      log.error("flusher", std::string("fsync failed, stopping the broker: ") + e.what());
      std::abort();
    }
    pair.send(zmq::buffer(&id, sizeof id));
  }
}

// The checker thread's queues. Lock order: only `mu` exists. Jobs go in and results come out in the
// same order; the event loop is woken through the checker's PAIR socket (one signal per batch).
struct CheckerQueues {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<PublishJob> jobs;
  std::deque<std::pair<PublishJob, CheckedPublish>> results;
  bool stop = false;
  std::atomic<bool> signalled{false};
};

// Runs checkPublish for queued jobs; results leave in job order.
void checkLoop(zmq::context_t& ctx, CheckerQueues& q) {
  enterHelperThread("alertbusd-check");
  zmq::socket_t pair(ctx, zmq::socket_type::pair);
  pair.set(zmq::sockopt::linger, 0);
  pair.connect("inproc://alertbus-check");
  CheckScratch scratch;
  std::deque<PublishJob> batch;
  std::deque<std::pair<PublishJob, CheckedPublish>> done;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(q.mu);
      q.cv.wait(lock, [&] { return q.stop || !q.jobs.empty(); });
      if (q.stop && q.jobs.empty()) return;
      batch.swap(q.jobs);
    }
    for (auto& job : batch) {
      CheckedPublish c;
      if (!job.overloaded)
        c = checkPublish(*job.agency, job.agencyName, job.bodyBytes(), job.limits, *job.rules, job.nowMs, scratch);
      done.emplace_back(std::move(job), std::move(c));
    }
    batch.clear();
    {
      std::lock_guard<std::mutex> lock(q.mu);
      for (auto& r : done) q.results.push_back(std::move(r));
    }
    done.clear();
    if (!q.signalled.exchange(true)) pair.send(zmq::const_buffer("c", 1), zmq::send_flags::dontwait);
  }
}

}  // namespace

struct Transport::Impl : FrameSink {
  TransportOptions opt;
  Journal& journal;
  const Logger& log;
  std::shared_ptr<const Registry> registry;
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  zmq::socket_t flushPair{ctx, zmq::socket_type::pair};
  zmq::socket_t checkPair{ctx, zmq::socket_type::pair};
  CheckerQueues checker;
  std::vector<PublishJob> outgoingJobs;  // collected during a turn, handed over once per turn
  std::atomic<bool> zapStop{false};
  std::thread zapThread, flushThread, checkThread;

  Impl(TransportOptions o, Journal& j, const Logger& l, std::shared_ptr<const Registry> r)
      : opt(std::move(o)), journal(j), log(l), registry(std::move(r)) {}

  bool send(std::string_view peer, kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override {
    try {
      if (!router.send(zmq::const_buffer(peer.data(), peer.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        return false;
      zmq::message_t msg(flatSize(segments));  // written in place: the only copy of the frame
      writeFlat(segments, static_cast<kj::byte*>(msg.data()));
      return router.send(msg, zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      return false;  // EHOSTUNREACH: peer gone (ROUTER_MANDATORY)
    }
  }
};

Transport::Transport(TransportOptions options, Journal& journal, const Logger& log,
                     std::shared_ptr<const Registry> registry)
    : impl_(std::make_unique<Impl>(std::move(options), journal, log, std::move(registry))) {}

Transport::~Transport() {
  auto& i = *impl_;
  if (i.checkThread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(i.checker.mu);
      i.checker.stop = true;
    }
    i.checker.cv.notify_one();
    i.checkThread.join();
  }
  i.zapStop.store(true);
  if (i.flushThread.joinable()) {
    i.flushPair.send(zmq::const_buffer(nullptr, 0));
    i.flushThread.join();
  }
  if (i.zapThread.joinable()) i.zapThread.join();
}

void Transport::setRegistry(std::shared_ptr<const Registry> registry) {
  std::atomic_store(&impl_->registry, std::move(registry));
}

std::string Transport::bind() {
  auto& i = *impl_;
  if (i.opt.curve) {
    // ZAP must be listening before the ROUTER accepts, or CURVE authenticates nobody (TOOLCHAIN.md).
    zmq::socket_t rep(i.ctx, zmq::socket_type::rep);
    rep.set(zmq::sockopt::linger, 0);
    rep.bind("inproc://zeromq.zap.01");
    i.zapThread = std::thread(zapLoop, std::move(rep), std::ref(i.zapStop), &i.registry, std::cref(i.log));
    i.router.set(zmq::sockopt::curve_server, 1);
    i.router.set(zmq::sockopt::curve_secretkey, i.opt.serverSecretKey);
    i.router.set(zmq::sockopt::zap_domain, "alertbus");
  }
  i.router.set(zmq::sockopt::linger, 0);
  i.router.set(zmq::sockopt::router_mandatory, 1);
  i.router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(i.opt.hardMaxFrameBytes));
  i.router.set(zmq::sockopt::sndhwm, i.opt.sendHighWaterMark);
  i.router.set(zmq::sockopt::rcvhwm, i.opt.receiveHighWaterMark);
  i.router.bind(i.opt.endpoint);
  i.flushPair.set(zmq::sockopt::linger, 0);
  i.flushPair.bind("inproc://alertbus-flush");
  i.flushThread = std::thread(flushLoop, std::ref(i.ctx), std::ref(i.journal), std::cref(i.log));
  if (i.opt.checkerThread) {
    i.checkPair.set(zmq::sockopt::linger, 0);
    i.checkPair.bind("inproc://alertbus-check");
    i.checkThread = std::thread(checkLoop, std::ref(i.ctx), std::ref(i.checker));
  }
  return i.router.get(zmq::sockopt::last_endpoint);
}

void Transport::run(const std::function<std::unique_ptr<BrokerCore>(FrameSink&)>& makeCore) {
  auto& i = *impl_;
  std::unique_ptr<BrokerCore> core = makeCore(i);
  if (i.opt.checkerThread) core->setOffload([&i](PublishJob&& job) { i.outgoingJobs.push_back(std::move(job)); });
  auto handOverJobs = [&] {
    if (i.outgoingJobs.empty()) return;
    {
      std::lock_guard<std::mutex> lock(i.checker.mu);
      for (auto& j : i.outgoingJobs) i.checker.jobs.push_back(std::move(j));
    }
    i.outgoingJobs.clear();
    i.checker.cv.notify_one();
  };
  std::deque<std::pair<PublishJob, CheckedPublish>> checked;
  auto takeResults = [&] {
    zmq::message_t sig;
    while (i.checkPair.recv(sig, zmq::recv_flags::dontwait)) {
    }
    i.checker.signalled.store(false);
    {
      std::lock_guard<std::mutex> lock(i.checker.mu);
      checked.swap(i.checker.results);
    }
    for (auto& [job, result] : checked) core->onChecked(std::move(job), std::move(result));
    checked.clear();
  };
  bool flushing = false;
  std::optional<uint64_t> waitingBatch;
  zmq::message_t idFrame, body;
  core->onTimer();
  while (!stop_.load()) {
    zmq::pollitem_t items[] = {{i.router.handle(), 0, ZMQ_POLLIN, 0},
                               {i.flushPair.handle(), 0, ZMQ_POLLIN, 0},
                               {i.checkPair.handle(), 0, ZMQ_POLLIN, 0}};
    int timeout = std::min(core->timerDueInMs(), 500);
    // The C call: cppzmq's zmq::poll throws on EINTR, which is how SIGTERM arrives here.
    if (zmq_poll(items, i.opt.checkerThread ? 3 : 2, timeout) < 0 && zmq_errno() != EINTR) throw zmq::error_t();
    if (i.opt.checkerThread && (items[2].revents & ZMQ_POLLIN)) takeResults();
    if (items[0].revents & ZMQ_POLLIN) {
      // Drain up to maxFramesPerTurn: one EAGAIN per turn at most, never a spin on an empty socket.
      for (size_t n = 0; n < i.opt.maxFramesPerTurn; ++n) {
        if (!i.router.recv(idFrame, zmq::recv_flags::dontwait)) break;
        if (!idFrame.more()) continue;  // cannot happen on ROUTER; be defensive
        if (!i.router.recv(body, zmq::recv_flags::none)) break;
        const char* uid = i.opt.curve ? body.gets("User-Id") : "";
        core->onFrame(std::string_view(static_cast<const char*>(idFrame.data()), idFrame.size()), body.data(),
                      body.size(), uid ? uid : "");
        // The protocol is single-part: further parts of a multipart message are discarded.
        while (body.more() && i.router.recv(body, zmq::recv_flags::none)) {
        }
      }
      handOverJobs();
    }
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t done;
      while (i.flushPair.recv(done, zmq::recv_flags::dontwait)) {
        uint64_t id;
        memcpy(&id, done.data(), sizeof id);
        core->onDurable(id);
      }
      flushing = false;
    }
    // Group commit follows the fsync cycle: while the flusher syncs, keep appending to the open
    // transaction (bounded by commitEveryAppends) and commit when it is free: fewer, larger commits, and
    // no publisher waits longer (its ack needs the next fsync either way).
    if (!flushing || core->uncommittedAppends() >= i.opt.commitEveryAppends) {
      if (auto batch = core->endTurn()) waitingBatch = batch;
    }
    if (waitingBatch && !flushing) {
      uint64_t id = *waitingBatch;
      i.flushPair.send(zmq::buffer(&id, sizeof id));
      flushing = true;
      waitingBatch.reset();
    }
    if (core->timerDueInMs() == 0) core->onTimer();
  }
  // Graceful stop: answer what the checker still holds, then let the last batch become durable so its
  // publishers get their acks.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (i.opt.checkerThread && core->publishesBeingChecked() > 0 && std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t items[] = {{i.checkPair.handle(), 0, ZMQ_POLLIN, 0}};
    (void)zmq_poll(items, 1, 100);
    takeResults();
  }
  if (auto batch = core->endTurn()) waitingBatch = batch;
  while ((flushing || waitingBatch) && std::chrono::steady_clock::now() < deadline) {
    if (waitingBatch && !flushing) {
      uint64_t id = *waitingBatch;
      i.flushPair.send(zmq::buffer(&id, sizeof id));
      flushing = true;
      waitingBatch.reset();
    }
    zmq::message_t done;
    zmq::pollitem_t items[] = {{i.flushPair.handle(), 0, ZMQ_POLLIN, 0}};
    (void)zmq_poll(items, 1, 100);
    if (i.flushPair.recv(done, zmq::recv_flags::dontwait)) {
      uint64_t id;
      memcpy(&id, done.data(), sizeof id);
      core->onDurable(id);
      flushing = false;
    }
  }
}

}  // namespace alertbus
