// sms_fanout_bench: the SMS outlet's work between a broker delivery's arrival and "every recipient row
// persisted and queued" for a 43,000-person target (the planning size of a typhoon season), next to its
// baseline measured in the same run on the same disk: a bare 43,000-row SQLite insert in one transaction
// (WAL, synchronous=FULL, one prepared statement). The outlet's path: resolve the roster group
// (RosterStore), allocate an answer code, and DeliveryStore::fanOut (one transaction, the idempotency
// key UNIQUE(alert, person) and the queue index). The template rendering is per alert, not per person,
// and is included. Rounds interleave baseline and outlet, each on fresh files; medians and the ratio of
// medians are printed. Targets (issue 4): under 1 s, at most 2x the baseline.
// Usage: sms_fanout_bench [--quick] [recipients (default 43000)] [rounds (default 5; 3 with --quick)] [dir]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>
#include <unistd.h>

#include "outlets/sms/delivery_store.h"
#include "outlets/sms/roster.h"
#include "outlets/sms/roster_store.h"

using namespace alertbus::sms;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string rosterCsv(int n) {
  std::string csv = "id,name,mobile,roles,admin_code,groups,deputy,superior\n";
  csv.reserve(static_cast<size_t>(n) * 80);
  char line[200];
  for (int i = 0; i < n; ++i) {
    snprintf(line, sizeof line, "p%06d,值班员%06d,138%08d,village-flood-monitor,3302%02d%03d%03d,flood-duty-officers,,\n", i,
             i, i, i % 30, i % 200, i % 300);
    csv += line;
  }
  return csv;
}

// Baseline: the same number of rows, similar width, into a table without any index, one transaction.
double bareInsert(const std::string& file, int n) {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE t(id INTEGER PRIMARY KEY, alert_key TEXT, person_id TEXT, mobile TEXT, state TEXT,"
               " queued_ms INTEGER)",
               nullptr, nullptr, nullptr);
  auto t0 = Clock::now();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t(alert_key, person_id, mobile, state, queued_ms) VALUES(?,?,?,'queued',?)", -1,
                     &st, nullptr);
  char person[32], mobile[32];
  for (int i = 0; i < n; ++i) {
    snprintf(person, sizeof person, "p%06d", i);
    snprintf(mobile, sizeof mobile, "+86138%08d", i);
    sqlite3_bind_text(st, 1, "met/TY-BENCH-1", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, person, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, mobile, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, 1785200000000LL);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  double elapsed = ms(Clock::now() - t0);
  sqlite3_close(db);
  return elapsed;
}

struct OutletTimes {
  double resolve = 0, fanOut = 0, total = 0;
};

OutletTimes outletFanOut(RosterStore& roster, const std::string& file, int n) {
  DeliveryStore store(file);
  OutletTimes t;
  auto t0 = Clock::now();
  Resolution r = roster.resolve(parseTarget("flood-duty-officers"));
  auto t1 = Clock::now();
  AlertRow a;
  a.key = "met/TY-BENCH-1";
  a.sender = "met";
  a.messageId = "TY-BENCH-1";
  a.msgType = "alert";
  a.status = "actual";
  a.event = "typhoon";
  a.priority = 0;
  a.answerDeadlineMs = 1785200000000LL + 1800000;
  a.answerCode = store.freeAnswerCode(4, 42, 1785200000000LL);
  a.text = "宁波市气象台发布台风红色预警信号。请立即到岗，落实防台措施。回复" + a.answerCode + "确认收到。";
  std::vector<Addressee> to;
  to.reserve(r.recipients.size());
  for (auto& p : r.recipients) to.push_back({p.personId, p.name, p.mobile, 0, "", ""});
  auto t2 = Clock::now();
  FanOutResult fo = store.fanOut(a, to, 1785200000000LL);
  auto t3 = Clock::now();
  if (fo.inserted != static_cast<size_t>(n)) fprintf(stderr, "fan-out inserted %zu, expected %d\n", fo.inserted, n);
  t.resolve = ms(t1 - t0);
  t.fanOut = ms(t3 - t2);
  t.total = ms(t3 - t0);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";  // scripts/bench.sh --quick: fewer rounds
  if (quick) --argc, ++argv;
  int n = argc > 1 ? std::atoi(argv[1]) : 43000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : (quick ? 3 : 5);
  std::string base = argc > 3 ? argv[3] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (n <= 0 || rounds <= 0) {
    fprintf(stderr, "usage: sms_fanout_bench [--quick] [recipients] [rounds] [dir]\n");
    return 2;
  }
  fs::path dir = fs::path(base) / ("alertbus-sms-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);

  printf("sms fan-out: %d recipients, %d rounds, files in %s\n", n, rounds, dir.c_str());
  RosterStore roster((dir / "roster.sqlite").string());
  {
    auto t0 = Clock::now();
    RosterParse parse = parseRosterCsv(rosterCsv(n), "bench.csv");
    ImportReport rep;
    roster.import(parse, ImportMode::replace, nullptr, rep);
    printf("  roster import (setup, not timed below): %d persons in %.0f ms\n", n, ms(Clock::now() - t0));
  }
  std::vector<double> bare, total, resolve, fan;
  for (int r = 0; r < rounds; ++r) {
    std::string b = (dir / ("bare-" + std::to_string(r) + ".sqlite")).string();
    std::string o = (dir / ("out-" + std::to_string(r) + ".sqlite")).string();
    bare.push_back(bareInsert(b, n));
    OutletTimes t = outletFanOut(roster, o, n);
    total.push_back(t.total);
    resolve.push_back(t.resolve);
    fan.push_back(t.fanOut);
    printf("  round %d: baseline %.0f ms, outlet %.0f ms (resolve %.0f, fan-out %.0f)\n", r + 1, bare.back(),
           t.total, t.resolve, t.fanOut);
  }
  double mb = median(bare), mt = median(total);
  printf("baseline: bare SQLite insert of %d rows in one transaction: median %.0f ms\n", n, mb);
  printf("outlet:   delivery -> every row persisted and queued:      median %.0f ms (resolve %.0f, fan-out %.0f)\n",
         mt, median(resolve), median(fan));
  printf("ratio outlet/baseline: %.2f; targets: < 1000 ms %s, <= 2.0x %s\n", mt / mb, mt < 1000 ? "met" : "NOT met",
         mt / mb <= 2.0 ? "met" : "NOT met");
  fs::remove_all(dir);
  return 0;
}
