// See adapter_harness.h.
#include "tests/integration/adapter_harness.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "model/json.h"

namespace alertbus::test {

std::string writeAdapterConfig(const TempDir& dir, const BrokerProcess& broker, const std::string& adapter,
                               const std::string& agency, const std::string& extra) {
  std::string path = dir.file(adapter + ".toml");
  std::ofstream f(path);
  f << "[broker]\nendpoint = \"" << broker.endpoint() << "\"\nserver_key = \"" << broker.serverPublicKey()
    << "\"\nkey_file = \"" << broker.keyFileOf(agency) << "\"\nheartbeat_ms = 200\n\n[state]\ndir = \""
    << dir.file(adapter + "-state") << "\"\n\n"
    << extra;
  return path;
}

std::string isoIn(int64_t secondsFromNow) {
  time_t t = time(nullptr) + secondsFromNow;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

bool waitForFile(const std::string& path, int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string feedState(const std::string& statusJson, const std::string& agency, const std::string& feed) {
  auto j = nlohmann::json::parse(statusJson, nullptr, false);
  if (j.is_discarded() || !j.contains("agencies")) return "";
  for (auto& a : j["agencies"]) {
    if (a.value("agency", "") != agency || !a.contains("feeds")) continue;
    for (auto& f : a["feeds"])
      if (f.value("name", "") == feed) return f.value("state", "") + ": " + f.value("detail", "");
  }
  return "";
}

JournalTail::JournalTail(const BrokerProcess& broker) {
  client_ = std::make_unique<Client>(broker.clientOptions("admin"));
  client_->onDeliver = [this](const Delivery& d) {
    std::string id(d.message.getId().cStr(), d.message.getId().size());
    ++counts_[id];
    ++total_;
    order_.push_back(id);
    json_[id] = messageToJson(d.message);
    client_->ack(d.seq);
  };
  client_->onAdminReply = [this](uint64_t token, bool, const std::string& json) {
    if (token == statusToken_) lastStatus_ = json;
  };
  client_->subscribe("*", 1000, 1);
}

JournalTail::~JournalTail() = default;

void JournalTail::poll(int ms) { client_->poll(ms); }

bool JournalTail::waitFor(const std::function<bool()>& cond, int timeoutMs) {
  return test::waitFor(cond, timeoutMs, client_.get());
}

int JournalTail::count(const std::string& id) const {
  auto it = counts_.find(id);
  return it == counts_.end() ? 0 : it->second;
}

std::string JournalTail::json(const std::string& id) const {
  auto it = json_.find(id);
  return it == json_.end() ? "" : it->second;
}

std::vector<std::string> JournalTail::ids() const { return order_; }

std::string JournalTail::status(int timeoutMs) {
  lastStatus_.clear();
  if (!waitFor([&] { return client_->connected(); }, timeoutMs)) return "";
  statusToken_ = client_->adminRequest("status", "{}");
  waitFor([&] { return !lastStatus_.empty(); }, timeoutMs);
  return lastStatus_;
}

}  // namespace alertbus::test
