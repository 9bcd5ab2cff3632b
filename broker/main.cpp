// alertbusd: the broker executable. Builds the parts (config, registry, rules, journal, transport, core)
// and runs the event loop until SIGINT/SIGTERM. Exits non-zero before binding on any configuration error.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>
#include <fcntl.h>

#include "broker/broker_core.h"
#include "broker/config.h"
#include "common/log.h"
#include "broker/registry.h"
#include "broker/rules.h"
#include "broker/sqlite_journal.h"
#include "broker/transport.h"
#include "client/keys.h"

namespace {

std::atomic<alertbus::Transport*> gTransport{nullptr};  // only for the signal handler
void onSignal(int) {
  if (auto* t = gTransport.load()) t->stop();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Crash-safe small file write: x.new, fsync, rename.
void writeFileAtomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp);
  (void)!::write(fd, text.data(), text.size());
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace alertbus;
  CLI::App app{"alertbusd: the alertbus broker"};
  std::string configPath = "config/alertbusd.toml";
  std::string endpoint, journalPath, endpointFile, logLevel, rulesFile, agenciesFile;
  bool checkOnly = false, noCurve = false;
  app.add_option("-c,--config", configPath, "broker configuration file")->capture_default_str();
  app.add_option("--endpoint", endpoint, "override broker.endpoint (tcp://127.0.0.1:* picks a free port)");
  app.add_option("--journal", journalPath, "override journal.path");
  app.add_option("--rules", rulesFile, "override files.rules");
  app.add_option("--agencies", agenciesFile, "override files.agencies");
  app.add_option("--endpoint-file", endpointFile, "write the bound endpoint and the server public key here");
  app.add_option("--log-level", logLevel, "override broker.log_level (debug, info, warn, error)");
  app.add_flag("--insecure-no-curve", noCurve, "run without CURVE (dev/benchmark only: Hello.agency is trusted)");
  app.add_flag("--check", checkOnly, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  std::vector<RuleError> errors;
  BrokerConfig cfg;
  bool ok = loadBrokerConfig(configPath, cfg, errors);
  if (!endpoint.empty()) cfg.endpoint = endpoint;
  if (!journalPath.empty()) cfg.journalPath = journalPath;
  if (!rulesFile.empty()) cfg.rulesFile = rulesFile;
  if (!agenciesFile.empty()) cfg.agenciesFile = agenciesFile;
  if (!logLevel.empty()) cfg.logLevel = logLevel;
  if (noCurve) cfg.curve = false;
  LogLevel level = LogLevel::info;
  if (!parseLogLevel(cfg.logLevel, level)) errors.push_back({configPath, 0, "bad log level '" + cfg.logLevel + "'"});
  Logger log(level);

  std::shared_ptr<const Registry> registry;
  std::shared_ptr<const RuleSet> rules;
  if (ok) {
    registry = Registry::parseFile(cfg.agenciesFile, errors);
    rules = RuleSet::parseFile(cfg.rulesFile, errors);
  }
  KeyPair serverKeys;
  if (ok && cfg.curve) {
    try {
      serverKeys = readKeyFile(cfg.secretKeyFile, true);
    } catch (const std::exception& e) {
      errors.push_back({cfg.secretKeyFile, 0, e.what()});
    }
  }
  if (!errors.empty() || !registry || !rules) {
    for (auto& e : errors) std::cerr << e.str() << "\n";
    std::cerr << "alertbusd: " << errors.size() << " configuration error(s); not starting\n";
    return 2;
  }
  if (checkOnly) {
    std::cout << "configuration OK: " << registry->agencies().size() << " agencies, " << rules->size() << " rules\n";
    return 0;
  }
  try {
    std::filesystem::create_directories(std::filesystem::path(cfg.journalPath).parent_path());
    SqliteJournalOptions jopt;
    jopt.path = cfg.journalPath;
    jopt.sync = cfg.journalSync == "full" ? SqliteJournalOptions::Sync::Full : SqliteJournalOptions::Sync::Normal;
    jopt.checkpointIntervalMs = cfg.checkpointIntervalMs;
    SqliteJournal journal(jopt);
    int64_t now = wallClockMs();
    int64_t regVersion = 0, rulesVersion = 0;
    journal.putConfig("agencies", readFile(cfg.agenciesFile), now);
    journal.getConfig("agencies", &regVersion);
    journal.putConfig("rules", readFile(cfg.rulesFile), now);
    journal.getConfig("rules", &rulesVersion);

    TransportOptions topt;
    topt.endpoint = cfg.endpoint;
    topt.curve = cfg.curve;
    topt.serverSecretKey = serverKeys.secretKey;
    topt.serverPublicKey = serverKeys.publicKey;
    topt.maxFramesPerTurn = cfg.framesPerTurn;
    topt.hardMaxFrameBytes = std::max<size_t>(cfg.maxFrameBytes * 4, 1 << 20);
    Transport transport(topt, journal, log, registry);
    std::string bound = transport.bind();
    gTransport.store(&transport);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    if (!endpointFile.empty())
      writeFileAtomic(endpointFile, "endpoint = \"" + bound + "\"\npublic = \"" + serverKeys.publicKey + "\"\n");
    log.info("alertbusd", "listening on " + bound + (cfg.curve ? " (CURVE, server key " + serverKeys.publicKey + ")"
                                                                : " (INSECURE: CURVE off)") +
                              "; journal " + cfg.journalPath + " at seq " + std::to_string(journal.lastSeq()) +
                              "; registry v" + std::to_string(regVersion) + " (" +
                              std::to_string(registry->agencies().size()) + " agencies); rules v" +
                              std::to_string(rulesVersion) + " (" + std::to_string(rules->size()) + " rules)");
    BrokerOptions bopt;
    bopt.brokerId = cfg.id;
    bopt.curve = cfg.curve;
    bopt.limits.maxFrameBytes = cfg.maxFrameBytes;
    bopt.limits.traversalLimitWords = cfg.traversalLimitWords;
    bopt.limits.nestingLimit = cfg.nestingLimit;
    bopt.heartbeatMs = cfg.heartbeatMs;
    bopt.maxCredit = cfg.maxCredit;
    bopt.outletMemoryWindow = cfg.outletMemoryWindow;
    bopt.maxPendingAcks = cfg.maxPendingAcks;
    transport.run([&](FrameSink& sink) {
      return std::make_unique<BrokerCore>(journal, sink, log, registry, rules, bopt, wallClockMs);
    });
    gTransport.store(nullptr);
    log.info("alertbusd", "stopped at seq " + std::to_string(journal.lastSeq()));
  } catch (const std::exception& e) {
    log.error("alertbusd", e.what());
    return 1;
  }
  return 0;
}
