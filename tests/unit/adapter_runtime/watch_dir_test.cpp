// WatchDir (adapters/common/watch_dir.h) on a real temporary directory: which files are ready, in which
// order, how they are moved with their reasons, and bounded reads.
#include "adapters/common/watch_dir.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace alertbus::adapter;
namespace fs = std::filesystem;

namespace {

struct Tmp {
  fs::path path;
  Tmp() {
    char tmpl[] = "/tmp/alertbus-watch-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Tmp() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("watch dir: creates done/ and failed/, lists only finished files, oldest first", "[watch]") {
  Tmp t;
  WatchDir w((t.path / "in").string());
  CHECK(fs::is_directory(t.path / "in/done"));
  CHECK(fs::is_directory(t.path / "in/failed"));
  write(t.path / "in/b.xml", "b");
  write(t.path / "in/a.xml", "a");
  fs::last_write_time(t.path / "in/a.xml", fs::last_write_time(t.path / "in/b.xml") + std::chrono::seconds(5));
  write(t.path / "in/.hidden", "x");
  write(t.path / "in/c.xml.tmp", "x");
  write(t.path / "in/d.part", "x");
  write(t.path / "in/e.reason", "x");
  fs::create_directory(t.path / "in/sub");
  std::string err;
  auto ready = w.ready(10, &err);
  CHECK(err.empty());
  REQUIRE(ready.size() == 2);
  CHECK(fs::path(ready[0]).filename() == "b.xml");  // older first
  CHECK(fs::path(ready[1]).filename() == "a.xml");
  CHECK(w.ready(1, &err).size() == 1);               // bounded
}

TEST_CASE("watch dir: finish moves the file, keeps names unique and writes the reason beside it", "[watch]") {
  Tmp t;
  WatchDir w((t.path / "in").string());
  write(t.path / "in/x.csv", "1");
  std::string to = w.finish((t.path / "in/x.csv").string(), false, "");
  CHECK(to == (t.path / "in/done/x.csv").string());
  CHECK_FALSE(fs::exists(t.path / "in/done/x.csv.reason"));
  write(t.path / "in/x.csv", "2");
  to = w.finish((t.path / "in/x.csv").string(), false, "line 3: Z=-99999: no-data marker\n");
  CHECK(to == (t.path / "in/done/x.csv.1").string());
  CHECK(read(t.path / "in/done/x.csv.1") == "2");
  CHECK(read(t.path / "in/done/x.csv.1.reason") == "line 3: Z=-99999: no-data marker\n");
  write(t.path / "in/y.xml", "3");
  to = w.finish((t.path / "in/y.xml").string(), true, "refused\n");
  CHECK(to == (t.path / "in/failed/y.xml").string());
  CHECK(read(t.path / "in/failed/y.xml.reason") == "refused\n");
  CHECK_THROWS_WITH(w.finish((t.path / "in/missing").string(), false, ""), Catch::Contains("cannot move"));
}

TEST_CASE("watch dir: an unreadable directory is an error, not an empty inbox", "[watch]") {
  Tmp t;
  WatchDir w((t.path / "in").string());
  fs::remove_all(t.path / "in");
  std::string err;
  CHECK(w.ready(10, &err).empty());
  CHECK(err.find("cannot read") != std::string::npos);
}

TEST_CASE("watch dir: files are read whole up to a bound", "[watch]") {
  Tmp t;
  write(t.path / "f", std::string(2000, 'x'));
  std::string out, err;
  CHECK(readFileBounded((t.path / "f").string(), 2000, out, &err));
  CHECK(out.size() == 2000);
  CHECK_FALSE(readFileBounded((t.path / "f").string(), 1999, out, &err));
  CHECK(err.find("larger than 1999 bytes") != std::string::npos);
  CHECK_FALSE(readFileBounded((t.path / "nope").string(), 10, out, &err));
  CHECK(err.find("cannot open") != std::string::npos);
}
