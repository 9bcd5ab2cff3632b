// Test harness for the adapter executables: a config file pointing an adapter at a BrokerProcess, and an
// admin client that records every journaled message and can ask the broker for its status. Real
// processes and sockets only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/broker_process.h"

namespace alertbus::test {

// Writes <dir>/<adapter>.toml with [broker] (endpoint, server key, the agency's key file, heartbeat
// 200 ms), [state] dir <dir>/<adapter>-state and `extra` appended (e.g. [input], [[feed]], [<adapter>]).
// Returns its path.
std::string writeAdapterConfig(const TempDir& dir, const BrokerProcess& broker, const std::string& adapter,
                               const std::string& agency, const std::string& extra);

// Now plus `secondsFromNow` as an ISO 8601 UTC time with offset, as CAP writes <sent> and <expires>.
std::string isoIn(int64_t secondsFromNow);

// Polls (5 ms steps) until `path` exists or timeoutMs passes.
bool waitForFile(const std::string& path, int timeoutMs = 15000);

// From a `status` JSON: the state ("up", "down", "stale") and detail of an agency's feed, as "state: detail";
// "" when the agency has not reported that feed.
std::string feedState(const std::string& statusJson, const std::string& agency, const std::string& feed);

// An admin client tailing every message the broker journals.
class JournalTail {
 public:
  explicit JournalTail(const BrokerProcess& broker);
  ~JournalTail();
  void poll(int ms);
  // Waits (polling) until `cond` holds or timeoutMs passes.
  bool waitFor(const std::function<bool()>& cond, int timeoutMs);
  int count(const std::string& id) const;           // how many times id was journaled
  size_t total() const { return total_; }
  std::string json(const std::string& id) const;    // the message as JSON ("" if not seen)
  std::vector<std::string> ids() const;              // in journal order
  // The broker's status (admin command "status") as JSON text; "" after timeoutMs without a reply.
  std::string status(int timeoutMs = 5000);
  Client& client() { return *client_; }

 private:
  std::unique_ptr<Client> client_;
  std::map<std::string, int> counts_;
  std::map<std::string, std::string> json_;
  std::vector<std::string> order_;
  size_t total_ = 0;
  std::string lastStatus_;
  uint64_t statusToken_ = 0;
};

}  // namespace alertbus::test
