// Test harness: runs the real alertbusd executable in a fresh temporary directory with generated CURVE
// keys, an agency registry, rules and a broker config, on a port the OS chooses. Used by every
// integration test; nothing here is a mock.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/keys.h"

namespace alertbus::test {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct AgencySpec {
  std::string name;
  std::string role = "adapter";                      // adapter | outlet | admin
  std::vector<std::string> kinds = {"*"};
  std::vector<std::string> events;                   // empty = any
  std::vector<std::string> outlets;
};

struct BrokerSetup {
  std::vector<AgencySpec> agencies;                  // keys generated for each
  std::string rulesToml;                             // whole rules file
  bool curve = true;
  std::string extraConfig;                           // appended to alertbusd.toml (e.g. "[limits]\n...")
  std::string journalSync = "full";
};

// Rules as the sample rules once were for SMS: alerts (not their updates or cancels) to sms:duty, and
// everything to dashboard:city-desk. Updates and cancels then reach SMS only by following their original.
extern const char* const kAlertsOnlySmsRules;

// Default setup: agencies met, water (adapter, may publish observation only, events river-level*),
// fire, sms (outlet serving sms), dashboard (outlet serving dashboard), admin; rules routing everything
// actual to dashboard:city-desk and warnings to sms:duty.
BrokerSetup defaultSetup();

class BrokerProcess {
 public:
  BrokerProcess(const TempDir& dir, BrokerSetup setup);
  ~BrokerProcess();  // SIGKILLs a running broker

  void start();                                      // waits (10 s deadline) until the endpoint file appears
  void restart();                                    // start again on the same endpoint (same port)
  void kill9();                                      // SIGKILL and reap
  int stop();                                        // SIGTERM, wait (10 s), returns exit status
  bool running() const { return pid_ > 0; }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& serverPublicKey() const { return serverKeys_.publicKey; }
  const std::string& configPath() const { return configPath_; }
  const std::string& logPath() const { return logPath_; }
  std::string log() const;                           // everything the broker wrote to stderr
  KeyPair keysOf(const std::string& agency) const;
  // Writes <dir>/<agency>.key (the agency's key pair) and returns its path, for executables under test.
  std::string keyFileOf(const std::string& agency) const;
  ClientOptions clientOptions(const std::string& agency) const;  // CURVE keys of that agency

 private:
  void startOn(const std::string& endpoint);
  const TempDir& dir_;
  BrokerSetup setup_;
  KeyPair serverKeys_;
  std::map<std::string, KeyPair> keys_;
  std::string configPath_, logPath_, endpointFile_, endpoint_;
  pid_t pid_ = -1;
};

// Runs a shell command to completion; stdout and stderr together (stdin from /dev/null unless the
// command redirects it).
struct CommandResult {
  int status = -1;      // exit code; -1 if killed by a signal
  std::string out;
};
CommandResult runCommand(const std::string& shellCommand);

// A long-running child process (an adapter, an outlet): argv[0] is the executable; stdout and stderr go
// to logPath. Stopped with SIGTERM (then SIGKILL after 10 s) on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string logPath);
  ~ChildProcess();
  int stop();                                        // SIGTERM, wait up to 10 s, returns exit status
  void kill9();                                      // SIGKILL and reap (a crash)
  bool exited(int* status = nullptr);                // reaps if it has exited
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::string logPath_;
  int status_ = -1;
};

// Polls `client` (may be null) until `cond` holds or `timeoutMs` passes. Returns cond().
bool waitFor(const std::function<bool()>& cond, int timeoutMs, Client* client = nullptr);
bool waitFor(const std::function<bool()>& cond, int timeoutMs, std::vector<Client*> clients);

// A serialised warning message with the given id (and optional event/colour/area) for tests.
kj::Array<capnp::word> sampleWarning(const std::string& id, const std::string& event = "typhoon",
                                     schema::Colour colour = schema::Colour::YELLOW,
                                     const std::string& adminCode = "330212", int64_t expiresMs = 0);
// `message` (serialised) changed by `edit`, serialised again: a sample turned into an update, a drill, ...
kj::Array<capnp::word> edited(const kj::Array<capnp::word>& message,
                              const std::function<void(schema::Message::Builder)>& edit);

}  // namespace alertbus::test
