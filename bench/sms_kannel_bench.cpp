// sms_kannel_bench: sustained SMS sending throughput through a real Kannel 1.4.5 (bearerbox + smsbox, with
// Kannel's fakesmsc as the SMSC, started on ports the OS chooses as the integration tests do), next to the
// embedded default measured in the same run: the spool sender writing one durable file per SMS. Both with
// the outlet's sender pool shape: `threads` threads submitting concurrently, one Chinese one-part text each.
// Kannel figures: submit rate (HTTP sendsms answered "Accepted") and end-to-end rate (every delivery report
// "delivered" back at a callback server). Rounds alternate; medians.
// Usage: sms_kannel_bench [--quick] [messages per round (default 1000)] [threads (default 4)] [rounds (default 3)]
// The fake SMSC (fakesmsc) reads bearerbox's socket between 1-second polls of its stdin, so the delivered-report
// rate is bounded by the fake, not by Kannel or the outlet.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "outlets/sms/callbacks.h"
#include "outlets/sms/kannel_sender.h"
#include "outlets/sms/spool_sender.h"
#include "tests/integration/kannel_process.h"

using namespace alertbus::sms;
using namespace alertbus::test;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kText = "【宁波市防汛防台指挥部】台风橙色预警：请立即到岗，落实防台措施。回复4821确认";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Submits n messages from `threads` threads; returns seconds until every submit() answered, and counts
// the non-accepted answers.
double submitAll(SmsSender& sender, int n, int threads, const std::string& idPrefix, std::atomic<int>& refused) {
  std::atomic<int> next{0};
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        SmsRequest r;
        r.deliveryId = idPrefix + std::to_string(i);
        char to[32];
        snprintf(to, sizeof to, "+86138%08d", i);
        r.to = to;
        r.text = kText;
        r.maxParts = 4;
        if (sender.submit(r).kind != SubmitResult::Kind::accepted) ++refused;
      }
    });
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";  // scripts/bench.sh --quick
  if (quick) --argc, ++argv;
  int n = argc > 1 ? std::atoi(argv[1]) : (quick ? 300 : 1000);
  int threads = argc > 2 ? std::atoi(argv[2]) : 4;
  int rounds = argc > 3 ? std::atoi(argv[3]) : (quick ? 1 : 3);
  if (n <= 0 || threads <= 0 || rounds <= 0) {
    fprintf(stderr, "usage: sms_kannel_bench [--quick] [messages] [threads] [rounds]\n");
    return 2;
  }

  // Delivery reports come back here, as to the outlet's /dlr.
  std::mutex mu;
  std::set<std::string> delivered;
  httplib::Server callbacks;
  callbacks.set_keep_alive_max_count(1);
  callbacks.new_task_queue = [] { return new httplib::ThreadPool(16); };
  callbacks.Get("/dlr", [&](const httplib::Request& req, httplib::Response& res) {
    DeliveryReport r;
    CallbackError err;
    if (parseDeliveryReport(req.params, r, err) && r.status == DlrStatus::delivered) {
      std::lock_guard<std::mutex> lock(mu);
      delivered.insert(r.deliveryId);
    }
    res.set_content("ok", "text/plain");
  });
  int port = callbacks.bind_to_any_port("127.0.0.1");
  std::thread server([&] { callbacks.listen_after_bind(); });

  TempDir dir;
  KannelSetup ks;
  KannelProcess kannel(dir, ks);
  kannel.start();
  KannelOptions ko;
  ko.port = kannel.sendsmsPort();
  ko.username = ks.username;
  ko.password = ks.password;
  ko.from = "12379";
  ko.smsc = "fake";
  ko.callbackBaseUrl = "http://127.0.0.1:" + std::to_string(port);
  KannelSender kannelSender(ko);
  std::filesystem::create_directories(dir.file("spool"));
  SpoolOptions so;
  so.directory = dir.file("spool");
  SpoolSender spool(so);

  printf("sms sending: %d one-part Chinese messages per round, %d sender threads, %d rounds\n", n, threads, rounds);
  std::vector<double> spoolRate, submitRate, endToEndRate;
  for (int r = 0; r < rounds; ++r) {
    std::atomic<int> refused{0};
    double s = submitAll(spool, n, threads, "s" + std::to_string(r) + "-", refused);
    spoolRate.push_back(n / s);

    std::string prefix = "k" + std::to_string(r) + "-";
    auto t0 = Clock::now();
    double k = submitAll(kannelSender, n, threads, prefix, refused);
    auto deadline = Clock::now() + std::chrono::seconds(120);
    size_t got = 0;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        got = std::count_if(delivered.begin(), delivered.end(),
                            [&](const std::string& id) { return id.rfind(prefix, 0) == 0; });
      }
      if (got >= static_cast<size_t>(n) || Clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double e2e = std::chrono::duration<double>(Clock::now() - t0).count();
    submitRate.push_back(n / k);
    endToEndRate.push_back(got / e2e);
    printf("  round %d: spool %.0f msg/s; kannel submit %.0f msg/s, delivered reports %zu/%d at %.0f msg/s%s\n", r + 1,
           spoolRate.back(), submitRate.back(), got, n, endToEndRate.back(),
           refused ? (" (" + std::to_string(refused.load()) + " refused)").c_str() : "");
  }
  printf("baseline: spool sender (one fsynced file per SMS): median %.0f msg/s\n", median(spoolRate));
  printf("kannel:   sendsms accepted: median %.0f msg/s; submit to delivered report: median %.0f msg/s "
         "(ratio to baseline %.2f)\n",
         median(submitRate), median(endToEndRate), median(endToEndRate) / median(spoolRate));
  kannel.stop();
  callbacks.stop();
  server.join();
  return 0;
}
