// Broker throughput and latency, each next to a baseline measured in the same run:
//   (a) baseline: a bare ZeroMQ forwarder (ROUTER in, DEALER out), 4 publishers, 300-byte messages;
//   (b) the real alertbusd (separate process) with durability on (ack after fsync), 4 publishers using the
//       client library, one outlet subscribed to everything and acknowledging; CURVE off and CURVE on;
//   (c) publish-to-delivery latency p50/p99 through the real broker at a paced 10,000 msg/s;
//   (d) broker restart time with 1,000,000 journaled messages, next to a restart on an empty journal.
// Prints medians of several runs and the ratios. Usage: bench_broker [--quick]
#include <capnp/message.h>
#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_message.h"
#include "broker/sqlite_journal.h"
#include "client/client.h"
#include "tests/integration/broker_process.h"

using namespace alertbus;
using namespace alertbus::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPublishers = 4;
constexpr size_t kMessageBytes = 300;

uint32_t outletCredit() { return getenv("BENCH_CREDIT") ? atoi(getenv("BENCH_CREDIT")) : 2000; }
size_t publisherWindow() { return getenv("BENCH_WINDOW") ? atoi(getenv("BENCH_WINDOW")) : 4000; }
int64_t nowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

kj::Array<capnp::word> benchMessage(const std::string& id) { return bench::paddedWarning(id, kMessageBytes); }

// (a) bare forwarder: returns messages/s.
double bareForwarder(int perPublisher) {
  zmq::context_t ctx(2);
  zmq::socket_t front(ctx, zmq::socket_type::router), back(ctx, zmq::socket_type::dealer);
  front.bind("tcp://127.0.0.1:*");
  back.bind("tcp://127.0.0.1:*");
  std::string fe = front.get(zmq::sockopt::last_endpoint), be = back.get(zmq::sockopt::last_endpoint);
  std::atomic<bool> stop{false};
  std::thread fwd([&] {
    zmq::message_t id, body;
    while (!stop.load()) {
      zmq::pollitem_t it[] = {{front.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(it, 1, std::chrono::milliseconds(100));
      while (front.recv(id, zmq::recv_flags::dontwait)) {
        (void)front.recv(body);
        back.send(body, zmq::send_flags::none);
      }
    }
  });
  size_t total = size_t(perPublisher) * kPublishers;
  std::atomic<int64_t> t0{0}, t1{0};
  std::thread sub([&] {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.connect(be);
    zmq::message_t m;
    for (size_t n = 0; n < total; ++n) (void)s.recv(m);
    t1 = nowNs();
  });
  auto payload = benchMessage("bare-0000000000");
  std::vector<std::thread> pubs;
  std::atomic<int> ready{0};
  for (int p = 0; p < kPublishers; ++p)
    pubs.emplace_back([&] {
      zmq::socket_t s(ctx, zmq::socket_type::dealer);
      s.connect(fe);
      ready++;
      while (ready.load() < kPublishers) std::this_thread::yield();
      int64_t expected = 0;
      t0.compare_exchange_strong(expected, nowNs());
      for (int i = 0; i < perPublisher; ++i) s.send(zmq::const_buffer(payload.asBytes().begin(), payload.asBytes().size()));
      s.set(zmq::sockopt::linger, -1);  // close() waits until every message has left
    });
  for (auto& t : pubs) t.join();
  sub.join();
  stop = true;
  fwd.join();
  return total / ((t1 - t0) / 1e9);
}

BrokerSetup benchSetup(bool curve) {
  BrokerSetup s;
  s.curve = curve;
  s.agencies = {{"p0", "adapter", {"*"}, {}, {}}, {"p1", "adapter", {"*"}, {}, {}}, {"p2", "adapter", {"*"}, {}, {}},
                {"p3", "adapter", {"*"}, {}, {}}, {"out", "outlet", {"ack"}, {}, {"dashboard"}}};
  s.rulesToml = "[[rule]]\nname = \"all\"\nto = [\"dashboard:bench\"]\n";
  s.extraConfig = "[limits]\nmax_pending_acks = 1000000\noutlet_memory_window = 200000\n";
  return s;
}

struct BrokerRun {
  double rate = 0;            // messages/s, first publish to last delivery
  double ackRate = 0;         // messages/s, first publish to last publish acknowledgement
  std::vector<int64_t> latNs; // per message publish->delivery (paced runs)
};

// (b)/(c): publishers and the outlet are threads of this process, each with its own Client.
// ratePerPublisher = 0: as fast as the window allows.
BrokerRun realBroker(bool curve, int perPublisher, double ratePerPublisher) {
  // One ZeroMQ context for all clients of this process (as in the bare forwarder baseline): 2 I/O threads.
  zmq::context_t ctx(2);
  TempDir dir;
  BrokerProcess broker(dir, benchSetup(curve));
  broker.start();
  size_t total = size_t(perPublisher) * kPublishers;
  std::vector<std::vector<int64_t>> sentNs(kPublishers, std::vector<int64_t>(perPublisher, 0));
  BrokerRun run;
  run.latNs.reserve(total);
  std::atomic<bool> outletReady{false};
  std::atomic<int64_t> t0{0}, t1{0}, tAcks{0};
  std::thread outlet([&] {
    auto outOpts = broker.clientOptions("out");
    outOpts.zmqContext = &ctx;
    Client c(outOpts);
    size_t got = 0;
    c.onDeliver = [&](const Delivery& d) {
      int64_t now = nowNs();
      std::string id = d.message.getId().cStr();  // "p<publisher>-<index>"
      int p = id[1] - '0';
      int i = std::stoi(id.substr(3));
      if (ratePerPublisher > 0) run.latNs.push_back(now - sentNs[p][i]);
      c.ack(d.seq);
      if (++got == total) t1 = nowNs();
    };
    c.subscribe("dashboard", outletCredit());
    waitFor([&] { return c.connected(); }, 10000, &c);
    outletReady = true;
    while (got < total) c.poll(100);
    c.poll(0);
  });
  while (!outletReady.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<std::thread> pubs;
  std::atomic<int> ready{0};
  for (int p = 0; p < kPublishers; ++p)
    pubs.emplace_back([&, p] {
      auto opts = broker.clientOptions("p" + std::to_string(p));
      opts.maxInFlight = publisherWindow();
      opts.zmqContext = &ctx;
      Client c(opts);
      size_t acked = 0;
      c.onAck = [&](uint64_t, uint64_t, bool) { ++acked; };
      waitFor([&] { return c.connected(); }, 10000, &c);
      std::vector<kj::Array<capnp::word>> msgs;
      msgs.reserve(perPublisher);
      for (int i = 0; i < perPublisher; ++i) {
        char id[32];
        snprintf(id, sizeof id, "p%d-%010d", p, i);
        msgs.push_back(benchMessage(id));
      }
      ready++;
      while (ready.load() < kPublishers) std::this_thread::yield();
      int64_t expected = 0;
      t0.compare_exchange_strong(expected, nowNs());
      int64_t start = nowNs();
      for (int i = 0; i < perPublisher; ++i) {
        if (ratePerPublisher > 0) {
          int64_t due = start + int64_t(i * 1e9 / ratePerPublisher);
          while (nowNs() < due) c.poll(1);  // sleeps in zmq_poll (never spins: 2 cores are shared)
        } else if (c.pending() >= opts.maxInFlight) {
          while (c.pending() >= opts.maxInFlight / 2) c.poll(10);
        }
        sentNs[p][i] = nowNs();
        c.publish(msgs[i].asBytes());
      }
      while (acked < size_t(perPublisher)) c.poll(50);
      int64_t prev = tAcks.load();
      while (nowNs() > prev && !tAcks.compare_exchange_weak(prev, nowNs())) {
      }
    });
  for (auto& t : pubs) t.join();
  outlet.join();
  run.rate = total / ((t1 - t0) / 1e9);
  run.ackRate = total / ((tAcks - t0) / 1e9);
  broker.stop();
  return run;
}

// (d) seconds from exec to a client's Welcome.
double restartSeconds(size_t messages) {
  TempDir dir;
  BrokerProcess broker(dir, benchSetup(false));
  if (messages) {
    SqliteJournalOptions o;
    o.path = dir.file("journal.db");
    o.sync = SqliteJournalOptions::Sync::Normal;
    SqliteJournal j(o);
    auto body = benchMessage("restart-0000000000");
    for (size_t i = 0; i < messages;) {
      j.begin();
      for (size_t k = 0; k < 10000 && i < messages; ++k, ++i) {
        std::string id = "m" + std::to_string(i);
        JournalEntry e;
        e.sender = "p0";
        e.id = id;
        e.receivedMs = 1;
        e.destinations = "dashboard:bench";
        e.body = body.asBytes();
        j.append(e);
      }
      j.commit();
    }
    j.flush();
  }
  auto t = Clock::now();
  broker.start();
  Client c(broker.clientOptions("out"));
  waitFor([&] { return c.connected(); }, 20000, &c);
  double s = std::chrono::duration<double>(Clock::now() - t).count();
  broker.stop();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  if (argc > 1 && std::string(argv[1]) == "--only-curve-off") {  // for profiling the broker alone
    auto r = realBroker(false, 200000, 0);
    printf("broker_bench: CURVE off only: %.0f msg/s delivered, %.0f acknowledged\n", r.rate, r.ackRate);
    return 0;
  }
  int per = quick ? 10000 : 50000;
  int runs = quick ? 1 : 5;
  // Rounds interleave (a), (b) CURVE off and (b) CURVE on, so each ratio compares runs made moments
  // apart; the reported ratio is the median of the per-round ratios (the machines are shared and the
  // bare forwarder's rate alone swings by a third between rounds).
  std::vector<double> bare, off, on, ratioOff, ratioOn;
  for (int r = 0; r < runs; ++r) {
    bare.push_back(bareForwarder(per));
    auto offRun = realBroker(false, per, 0);
    off.push_back(offRun.rate);
    on.push_back(realBroker(true, per, 0).rate);
    ratioOff.push_back(off.back() / bare.back());
    ratioOn.push_back(on.back() / bare.back());
    if (getenv("BENCH_VERBOSE"))
      printf("    round %d: bare %.0f, CURVE off %.0f (acked %.0f), CURVE on %.0f msg/s\n", r, bare.back(), offRun.rate,
             offRun.ackRate, on.back());
  }
  auto range = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    char buf[64];
    snprintf(buf, sizeof buf, "%.3f..%.3f", v.front(), v.back());
    return std::string(buf);
  };
  printf("broker_bench: %d publishers x %d messages of %zu bytes, %d interleaved rounds (medians)\n", kPublishers,
         per, kMessageBytes, runs);
  printf("  (a) bare ZeroMQ forwarder (baseline)       %10.0f msg/s\n", median(bare));
  printf("  (b) alertbusd, fsync before ack, CURVE off %10.0f msg/s   ratio %.3f (rounds %s; target >= 0.25)\n",
         median(off), median(ratioOff), range(ratioOff).c_str());
  printf("  (b) alertbusd, fsync before ack, CURVE on  %10.0f msg/s   ratio %.3f (rounds %s; target >= 0.15)\n",
         median(on), median(ratioOn), range(ratioOn).c_str());
  fflush(stdout);

  for (bool curve : {false, true}) {
    auto lat = realBroker(curve, quick ? 5000 : 25000, 2500.0);  // 4 x 2,500 = 10,000 msg/s
    std::sort(lat.latNs.begin(), lat.latNs.end());
    auto pct = [&](double q) { return lat.latNs.empty() ? 0 : lat.latNs[size_t(q * (lat.latNs.size() - 1))] / 1e6; };
    printf("  (c) latency at 10,000 msg/s, CURVE %-3s: p50 %.2f ms  p99 %.2f ms  max %.2f ms (target p99 <= 5 ms)\n",
           curve ? "on" : "off", pct(0.5), pct(0.99), pct(1.0));
    fflush(stdout);
  }
  size_t big = quick ? 100000 : 1000000;
  double empty = restartSeconds(0), full = restartSeconds(big);
  printf("  (d) restart to first Welcome: empty journal %.3f s; %zu messages %.3f s (target < 2 s)\n", empty, big, full);
  return 0;
}
