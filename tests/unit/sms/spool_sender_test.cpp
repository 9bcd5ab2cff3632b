// Unit tests of SpoolSender: one durable JSON file per SMS, temporary on file-system errors (a full disk is
// injected with RLIMIT_FSIZE, which makes write() fail with EFBIG like a quota would), never a partial file.
#include "outlets/sms/spool_sender.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

using namespace alertbus::sms;
namespace fs = std::filesystem;

namespace {
struct Dir {
  std::string path;
  Dir() {
    std::string t = (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + std::string("/alertbus-spool-XXXXXX");
    std::vector<char> b(t.begin(), t.end());
    b.push_back('\0');
    REQUIRE(mkdtemp(b.data()));
    path = b.data();
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (auto& e : fs::directory_iterator(path)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
};
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
SmsRequest request(const std::string& id) {
  SmsRequest r;
  r.deliveryId = id;
  r.to = "+8613800000001";
  r.text = "【宁波市防汛防台指挥部】台风红色预警：请立即到岗。回复1确认";
  r.maxParts = 3;
  r.wantReports = true;
  return r;
}
}  // namespace

TEST_CASE("spool: a typhoon warning becomes one complete JSON file named by its delivery id", "[sms][spool]") {
  Dir dir;
  SpoolSender s({dir.path, [] { return int64_t{1795977210000}; }});
  auto r = s.submit(request("d-42"));
  REQUIRE(r.kind == SubmitResult::Kind::accepted);
  CHECK(r.detail == dir.path + "/d-42.json");
  CHECK(r.httpStatus == 0);
  CHECK(dir.names() == std::vector<std::string>{"d-42.json"});
  auto j = nlohmann::json::parse(slurp(dir.path + "/d-42.json"));
  CHECK(j["deliveryId"] == "d-42");
  CHECK(j["to"] == "+8613800000001");
  CHECK(j["text"] == request("d-42").text);
  CHECK(j["maxParts"] == 3);
  CHECK(j["wantReports"] == true);
  CHECK(j["queuedAtMs"] == 1795977210000LL);

  SECTION("resubmitting the same id replaces the file") {
    auto again = request("d-42");
    again.text = "更新";
    REQUIRE(s.submit(again).kind == SubmitResult::Kind::accepted);
    CHECK(dir.names() == std::vector<std::string>{"d-42.json"});
    CHECK(nlohmann::json::parse(slurp(dir.path + "/d-42.json"))["text"] == "更新");
  }
}

TEST_CASE("spool: concurrent submits from a sender pool all land", "[sms][spool]") {
  Dir dir;
  SpoolSender s({dir.path, {}});
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        // threads 0 and 1 write the same ids: the last rename wins, no .tmp clash
        auto r = s.submit(request("d-" + std::to_string(t / 2) + "-" + std::to_string(i)));
        if (r.kind == SubmitResult::Kind::accepted) ++accepted;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(accepted == 100);
  auto names = dir.names();
  CHECK(names.size() == 50);
  for (auto& n : names) CHECK(n.find(".tmp") == std::string::npos);
}

TEST_CASE("spool: file-system failures are temporary and leave no partial file", "[sms][spool]") {
  SECTION("missing directory") {
    SpoolSender s({"/nonexistent/alertbus-spool", {}});
    auto r = s.submit(request("d-1"));
    CHECK(r.kind == SubmitResult::Kind::temporary);
    CHECK(r.detail.find("/nonexistent/alertbus-spool/d-1.json.") != std::string::npos);
    CHECK(r.detail.find("open: No such file or directory") != std::string::npos);
  }
  SECTION("the spool path is a file, not a directory") {
    Dir dir;
    std::ofstream(dir.path + "/plain") << "x";
    SpoolSender s({dir.path + "/plain", {}});
    auto r = s.submit(request("d-1"));
    CHECK(r.kind == SubmitResult::Kind::temporary);
    CHECK(r.detail.find("Not a directory") != std::string::npos);
  }
  SECTION("disk full (write fails: file size limit)") {
    Dir dir;
    SpoolSender s({dir.path, {}});
    struct rlimit old {};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto oldHandler = signal(SIGXFSZ, SIG_IGN);  // else the kernel kills us instead of returning EFBIG
    struct rlimit tiny = old;
    tiny.rlim_cur = 16;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
    auto r = s.submit(request("d-full"));
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldHandler);
    CHECK(r.kind == SubmitResult::Kind::temporary);
    CHECK(r.detail.find("write: File too large") != std::string::npos);
    CHECK(dir.names().empty());  // the partial .tmp was removed
  }
  SECTION("unwritable directory (skipped as root, who may write anyway)") {
    if (geteuid() == 0) {
      WARN("running as root: permission bits do not stop root; covered by the other failure sections");
    } else {
      Dir dir;
      fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
      SpoolSender s({dir.path, {}});
      auto r = s.submit(request("d-1"));
      fs::permissions(dir.path, fs::perms::owner_all);
      CHECK(r.kind == SubmitResult::Kind::temporary);
      CHECK(r.detail.find("Permission denied") != std::string::npos);
    }
  }
}

TEST_CASE("spool: a delivery id that is not a safe file name is rejected permanently", "[sms][spool]") {
  Dir dir;
  SpoolSender s({dir.path, {}});
  for (std::string id : {"../escape", "", "a/b", "a b"}) {
    INFO(id);
    auto r = s.submit(request(id));
    CHECK(r.kind == SubmitResult::Kind::permanent);
  }
  CHECK(dir.names().empty());
  CHECK(fs::exists(fs::path(dir.path).parent_path() / "escape.json") == false);
}
