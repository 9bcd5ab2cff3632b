// Test harness: a real Kannel 1.4.5 (bearerbox + smsbox) in a TempDir with a generated config, on ports the
// OS chose, with fake SMSCs behind it: Kannel's own fakesmsc (reports every message delivered, injects
// replies) and/or tests/integration/smpp_sim.pl (Net::SMPP; per number delivered / undeliverable /
// rejected). Nothing is mocked on the Kannel side. Logs stay in the TempDir for failure messages.
// Not thread-safe: used from the test's thread only, which must outlive it (children get
// PR_SET_PDEATHSIG = SIGKILL, so a test killed by its timeout leaves no Kannel behind).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/integration/broker_process.h"

namespace alertbus::test {

struct KannelSetup {
  bool fakeSmsc = true;   // smsc-id "fake": group smsc = fake + the fakesmsc program connected to it
  bool smppSmsc = false;  // smsc-id "smpp": group smsc = smpp (transceiver) + smpp_sim.pl
  std::vector<std::pair<std::string, std::string>> smppRules;  // number -> delivered|undeliverable|rejected
  std::string moUrl;      // sms-service get-url, with Kannel escapes (e.g. base + callbacks moUrlPath());
                          // empty = no sms-service (replies are then dropped by smsbox)
  std::string username = "alertbus";
  std::string password = "sendsms-secret";
};

// One message as fakesmsc printed it ("Got message N: <from to type [udh] data>").
struct FakeSmscMessage {
  std::string from, to;
  std::string type;       // "text", "data", "ucs-2" or "udh" (a part of a concatenated message)
  std::string udh;        // raw UDH bytes for "udh" ("\x05\x00\x03<ref><total><index>")
  std::string data;       // raw message bytes (url-decoded): UCS-2BE for coding 2
  std::string line;       // as printed
  int partIndex() const;  // from the UDH (1-based), 0 when not a part
  int partCount() const;  // from the UDH, 0 when not a part
};

class KannelProcess {
 public:
  KannelProcess(const TempDir& dir, KannelSetup setup);
  ~KannelProcess();  // stop()

  // Starts the SMPP simulator (if any), bearerbox, smsbox and fakesmsc (if any); returns when
  // status.txt shows smsbox connected and every SMSC online, and the sendsms port answers (20 s
  // deadline). If bearerbox or smsbox dies during start-up (a port taken between our probe and their
  // bind), retries once on new ports. Throws std::runtime_error with the logs otherwise.
  void start();
  // GET /shutdown, waits up to 10 s for the processes, then SIGTERM, then SIGKILL. Idempotent.
  void stop();
  bool running() const { return bearerbox_ > 0; }

  int sendsmsPort() const { return sendsmsPort_; }
  int adminPort() const { return adminPort_; }
  const std::string& adminPassword() const { return adminPassword_; }
  const KannelSetup& setup() const { return setup_; }
  std::string status();  // status.txt ("" if bearerbox does not answer)

  // Messages fakesmsc received so far, in order (reads its log).
  std::vector<FakeSmscMessage> fakeSmscMessages() const;
  // A mobile-originated reply through fakesmsc: "from to ucs2 <UCS-2, url-encoded>" on its stdin. The
  // text is converted to UCS-2 (UTF-16BE). fakesmsc reads at most 255 bytes per line (about 40 Chinese
  // characters); longer texts throw. One line per call; fakesmsc polls stdin about once a second.
  void injectReply(const std::string& from, const std::string& to, const std::string& utf8Text);
  std::string smppLog() const;  // the simulator's PDU log
  // Kills fakesmsc (the SMSC "goes down"); bearerbox keeps the fake SMSC group and queues what comes.
  void disconnectFakeSmsc();

  std::string logs() const;  // every log (config included), for REQUIRE failure messages

 private:
  void startOnce();
  void writeConfig();
  void killAll();
  const TempDir& dir_;
  KannelSetup setup_;
  std::string adminPassword_ = "admin-secret";
  int adminPort_ = 0, smsboxPort_ = 0, sendsmsPort_ = 0, fakePort_ = 0, smppPort_ = 0;
  pid_t bearerbox_ = -1, smsbox_ = -1, fakesmsc_ = -1, smppSim_ = -1;
  int fakeStdin_ = -1;  // write end of fakesmsc's stdin pipe
  std::string configPath_;
};

// n distinct free TCP ports on 127.0.0.1, chosen by the OS (bound, read, closed: nothing keeps them; a
// httplib::Server used as a probe would keep its listening socket, and with SO_REUSEPORT the kernel would
// then hand half the connections to it).
std::vector<int> freePorts(int n);

// UCS-2/UTF-16BE bytes to UTF-8 (for checking what the SMSC received).
std::string ucs2ToUtf8(const std::string& bytes);

}  // namespace alertbus::test
