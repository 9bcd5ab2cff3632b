// Kannel test harness implementation; see kannel_process.h. Config written (absolute paths, since Kannel
// may chdir): group core (admin/smsbox ports on 127.0.0.1, internal DLR storage), one group smsc per fake
// SMSC (allowed-smsc-id = its own id, so a sendsms smsc= parameter picks it and nothing else leaks to it),
// group smsbox (sendsms port, mo-recode so UCS-2 replies reach get-url as UTF-8), one sendsms-user
// (concatenation on, max-messages 10) and, with moUrl, a catch-all sms-service that never answers the
// handset (max-messages = 0).
#include "tests/integration/kannel_process.h"

#include "outlets/sms/callbacks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace alertbus::test {
namespace fs = std::filesystem;
namespace {

const char* kBearerbox = "/usr/sbin/bearerbox";
const char* kSmsbox = "/usr/sbin/smsbox";
const char* kFakesmsc = "/usr/lib/kannel/test/fakesmsc";

std::string smppSimPath() {
  // Beside this file in the source tree (CMake compiles with absolute source paths).
  return (fs::path(__FILE__).parent_path() / "smpp_sim.pl").string();
}

// fork + exec with stdout/stderr appended to logPath; stdin from /dev/null or, when stdinWrite is given,
// from a new pipe whose write end is returned there (close-on-exec, so other children do not hold it).
pid_t spawn(const std::vector<std::string>& argv, const std::string& logPath, int* stdinWrite = nullptr) {
  int pipeFds[2] = {-1, -1};
  if (stdinWrite && ::pipe2(pipeFds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test killed by its timeout takes Kannel with it
    int out = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    int in = stdinWrite ? pipeFds[0] : ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  if (stdinWrite) {
    ::close(pipeFds[0]);
    *stdinWrite = pipeFds[1];
  }
  return pid;
}

bool reaped(pid_t& pid) {  // true (and pid = -1) once the child has exited
  if (pid <= 0) return true;
  int st = 0;
  if (::waitpid(pid, &st, WNOHANG) == pid) {
    pid = -1;
    return true;
  }
  return false;
}

void waitOrKill(pid_t& pid, int graceMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(graceMs);
  while (!reaped(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!reaped(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int st;
  ::waitpid(pid, &st, 0);
  pid = -1;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string urlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string urlEncodeAll(const std::string& bytes) {  // every byte as %XX except alphanumerics
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

std::string utf8ToUcs2(const std::string& s) {
  std::string out;
  auto put = [&](uint32_t u) {
    out += static_cast<char>(u >> 8);
    out += static_cast<char>(u & 0xFF);
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put(0xD800 + (cp >> 10));
      put(0xDC00 + (cp & 0x3FF));
    } else {
      put(cp);
    }
  }
  return out;
}

std::string httpGet(int port, const std::string& target, int timeoutMs, int* status = nullptr) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(timeoutMs / 1000, (timeoutMs % 1000) * 1000);
  c.set_read_timeout(timeoutMs / 1000, (timeoutMs % 1000) * 1000);
  auto r = c.Get(target.c_str());
  if (status) *status = r ? r->status : 0;
  return r ? r->body : "";
}

}  // namespace

std::string ucs2ToUtf8(const std::string& bytes) {
  std::string out;
  sms::utf16beToUtf8(bytes, out);  // the outlet's own decoder (outlets/sms/callbacks.h)
  return out;
}

int FakeSmscMessage::partIndex() const {
  return udh.size() >= 6 && udh[1] == 0x00 ? static_cast<unsigned char>(udh[5]) : 0;
}
int FakeSmscMessage::partCount() const {
  return udh.size() >= 6 && udh[1] == 0x00 ? static_cast<unsigned char>(udh[4]) : 0;
}

KannelProcess::KannelProcess(const TempDir& dir, KannelSetup setup) : dir_(dir), setup_(std::move(setup)) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead fakesmsc must not kill the test through its stdin pipe
  configPath_ = dir_.file("kannel.conf");
}

KannelProcess::~KannelProcess() { stop(); }

void KannelProcess::writeConfig() {
  std::ostringstream c;
  c << "# generated by tests/integration/kannel_process.cpp\n"
    << "group = core\n"
    << "admin-port = " << adminPort_ << "\nadmin-interface = 127.0.0.1\nadmin-password = " << adminPassword_
    << "\nstatus-password = " << adminPassword_ << "\nadmin-allow-ip = 127.0.0.1\n"
    << "smsbox-port = " << smsboxPort_ << "\nsmsbox-interface = 127.0.0.1\nbox-allow-ip = 127.0.0.1\n"
    << "log-file = \"" << dir_.file("bearerbox.log") << "\"\nlog-level = 0\n"
    << "access-log = \"" << dir_.file("access.log") << "\"\n"
    << "dlr-storage = internal\n\n";
  if (setup_.fakeSmsc) {
    c << "group = smsc\nsmsc = fake\nsmsc-id = fake\nallowed-smsc-id = fake\nport = " << fakePort_
      << "\nconnect-allow-ip = 127.0.0.1\n\n";
  }
  if (setup_.smppSmsc) {
    c << "group = smsc\nsmsc = smpp\nsmsc-id = smpp\nallowed-smsc-id = smpp\nhost = 127.0.0.1\nport = "
      << smppPort_
      << "\ntransceiver-mode = true\nsmsc-username = alertbus\nsmsc-password = smpp-secret\n"
         "system-type = \"VMA\"\nreconnect-delay = 1\nenquire-link-interval = 30\n\n";
  }
  c << "group = smsbox\nbearerbox-host = 127.0.0.1\nsendsms-port = " << sendsmsPort_
    << "\nsendsms-interface = 127.0.0.1\nmo-recode = true\nhttp-request-retry = 5\nhttp-queue-delay = 1\nlog-file = \"" << dir_.file("smsbox.log")
    << "\"\nlog-level = 0\naccess-log = \"" << dir_.file("smsbox-access.log") << "\"\n\n";
  c << "group = sendsms-user\nusername = " << setup_.username << "\npassword = " << setup_.password
    << "\nmax-messages = 10\nconcatenation = true\n\n";
  if (!setup_.moUrl.empty()) {
    c << "group = sms-service\nkeyword = default\ncatch-all = true\nmax-messages = 0\nget-url = \""
      << setup_.moUrl << "\"\n\n";
  }
  std::ofstream(configPath_) << c.str();
}

void KannelProcess::start() {
  try {
    startOnce();
  } catch (const std::exception& first) {
    // The usual cause is a port taken between freePorts() and Kannel's bind: try once more on new ports.
    std::string firstLogs = logs();
    killAll();
    for (auto name : {"bearerbox.log", "smsbox.log", "bearerbox.out", "smsbox.out", "fakesmsc.out"})
      fs::remove(dir_.file(name));
    try {
      startOnce();
    } catch (const std::exception& second) {
      killAll();
      throw std::runtime_error(std::string("Kannel did not start (twice).\nFirst attempt: ") + first.what() +
                               "\n" + firstLogs + "\nSecond attempt: " + second.what() + "\n" + logs());
    }
  }
}

void KannelProcess::startOnce() {
  auto ports = freePorts(4);
  adminPort_ = ports[0];
  smsboxPort_ = ports[1];
  sendsmsPort_ = ports[2];
  fakePort_ = ports[3];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto expired = [&] { return std::chrono::steady_clock::now() > deadline; };
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); };  // polling with a deadline

  if (setup_.smppSmsc && smppSim_ <= 0) {
    std::string portFile = dir_.file("smpp.port");
    fs::remove(portFile);
    std::vector<std::string> argv = {"/usr/bin/perl", smppSimPath(), "--port-file", portFile, "--log",
                                     dir_.file("smpp.log")};
    for (auto& [number, outcome] : setup_.smppRules) {
      argv.push_back("--rule");
      argv.push_back(number + "=" + outcome);
    }
    smppSim_ = spawn(argv, dir_.file("smpp_sim.out"));
    while (!fs::exists(portFile)) {
      if (reaped(smppSim_)) throw std::runtime_error("smpp_sim.pl exited during start-up");
      if (expired()) throw std::runtime_error("smpp_sim.pl wrote no port file");
      pause();
    }
    smppPort_ = std::stoi(slurp(portFile));
  }
  writeConfig();

  bearerbox_ = spawn({kBearerbox, "-v", "1", configPath_}, dir_.file("bearerbox.out"));
  while (status().find("Status: running") == std::string::npos) {
    if (reaped(bearerbox_)) throw std::runtime_error("bearerbox exited during start-up");
    if (expired()) throw std::runtime_error("bearerbox status.txt never said running");
    pause();
  }
  smsbox_ = spawn({kSmsbox, "-v", "1", configPath_}, dir_.file("smsbox.out"));
  if (setup_.fakeSmsc) fakesmsc_ = spawn({kFakesmsc, "-H", "127.0.0.1", "-r", std::to_string(fakePort_)},
                                         dir_.file("fakesmsc.out"), &fakeStdin_);

  auto ready = [&] {
    std::string s = status();
    if (s.find("smsbox:") == std::string::npos) return false;
    if (setup_.fakeSmsc && s.find("fake[fake]") == std::string::npos) return false;
    if (setup_.smppSmsc && s.find("smpp[smpp]") == std::string::npos) return false;
    std::istringstream lines(s);
    for (std::string line; std::getline(lines, line);)
      if ((line.find("[fake]") != std::string::npos || line.find("[smpp]") != std::string::npos) &&
          line.find("(online") == std::string::npos)
        return false;
    int code = 0;
    httpGet(sendsmsPort_, "/cgi-bin/sendsms", 500, &code);
    return code != 0;
  };
  while (!ready()) {
    if (reaped(bearerbox_)) throw std::runtime_error("bearerbox exited during start-up");
    if (reaped(smsbox_)) throw std::runtime_error("smsbox exited during start-up");
    if (setup_.fakeSmsc && reaped(fakesmsc_)) throw std::runtime_error("fakesmsc exited during start-up");
    if (setup_.smppSmsc && reaped(smppSim_)) throw std::runtime_error("smpp_sim.pl exited during start-up");
    if (expired()) throw std::runtime_error("Kannel not ready within 20 s; status:\n" + status());
    pause();
  }
}

std::string KannelProcess::status() {
  if (adminPort_ <= 0) return "";
  return httpGet(adminPort_, "/status.txt?password=" + adminPassword_, 1000);
}

void KannelProcess::stop() {
  if (bearerbox_ > 0) {
    httpGet(adminPort_, "/shutdown?password=" + adminPassword_, 2000);
    waitOrKill(bearerbox_, 10000);
  }
  killAll();
}

void KannelProcess::killAll() {
  if (bearerbox_ > 0) ::kill(bearerbox_, SIGTERM);
  waitOrKill(bearerbox_, 3000);
  waitOrKill(smsbox_, 3000);    // exits once bearerbox is gone
  waitOrKill(fakesmsc_, 2000);  // exits on EOF from bearerbox
  if (fakeStdin_ >= 0) {
    ::close(fakeStdin_);
    fakeStdin_ = -1;
  }
  if (smppSim_ > 0) ::kill(smppSim_, SIGTERM);
  waitOrKill(smppSim_, 2000);
}

std::vector<FakeSmscMessage> KannelProcess::fakeSmscMessages() const {
  std::vector<FakeSmscMessage> out;
  std::istringstream in(slurp(dir_.file("fakesmsc.out")));
  for (std::string line; std::getline(in, line);) {
    auto at = line.find("Got message ");
    if (at == std::string::npos) continue;
    auto open = line.find(": <", at);
    auto close = line.rfind('>');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::istringstream fields(line.substr(open + 3, close - open - 3));
    FakeSmscMessage m;
    m.line = line;
    std::string payload;
    fields >> m.from >> m.to >> m.type;
    if (m.type == "udh") {
      std::string udh, dataWord;
      fields >> udh >> dataWord >> payload;
      m.udh = urlDecode(udh);
      m.data = urlDecode(payload);
    } else {
      std::getline(fields, payload);
      if (!payload.empty() && payload[0] == ' ') payload.erase(0, 1);
      m.data = m.type == "text" ? payload : urlDecode(payload);
    }
    out.push_back(std::move(m));
  }
  return out;
}

void KannelProcess::injectReply(const std::string& from, const std::string& to, const std::string& utf8Text) {
  if (fakeStdin_ < 0) throw std::runtime_error("injectReply: no fakesmsc running");
  std::string line = from + " " + to + " ucs2 " + urlEncodeAll(utf8ToUcs2(utf8Text)) + "\n";
  if (line.size() > 255) throw std::runtime_error("injectReply: line longer than fakesmsc's 255-byte buffer");
  if (::write(fakeStdin_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throw std::runtime_error(std::string("injectReply: write to fakesmsc failed: ") + std::strerror(errno));
}

void KannelProcess::disconnectFakeSmsc() {
  if (fakesmsc_ > 0) ::kill(fakesmsc_, SIGKILL);
  waitOrKill(fakesmsc_, 2000);
  if (fakeStdin_ >= 0) {
    ::close(fakeStdin_);
    fakeStdin_ = -1;
  }
}

std::string KannelProcess::smppLog() const { return slurp(dir_.file("smpp.log")); }

std::string KannelProcess::logs() const {
  std::string s = "--- kannel.conf ---\n" + slurp(configPath_);
  for (auto name : {"bearerbox.out", "smsbox.out", "fakesmsc.out", "smpp_sim.out", "smpp.log"}) {
    if (fs::exists(dir_.file(name))) s += std::string("--- ") + name + " ---\n" + slurp(dir_.file(name));
  }
  // The debug logs are long: their tails carry the reason.
  for (auto name : {"bearerbox.log", "smsbox.log"}) {
    std::string t = slurp(dir_.file(name));
    if (t.size() > 6000) t = "...\n" + t.substr(t.size() - 6000);
    if (!t.empty()) s += std::string("--- ") + name + " (tail) ---\n" + t;
  }
  return s;
}

// Ports the OS chooses: bind n sockets to 127.0.0.1:0 at once (so they differ), read them, close. Another
// process may take one before its user binds it; start() retries once on new ports.
std::vector<int> freePorts(int n) {
  std::vector<int> fds, ports;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("bind/getsockname to 127.0.0.1:0 failed");
    fds.push_back(fd);
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}


}  // namespace alertbus::test
