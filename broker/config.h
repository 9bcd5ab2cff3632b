// alertbusd's own configuration file (config/alertbusd.toml explains every key and unit). Parsed and
// validated before any socket is bound: every error as file:line: reason, unknown keys are errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/rules.h"  // RuleError

namespace alertbus {

struct BrokerConfig {
  std::string file;                    // the config file itself
  std::string id = "alertbus";
  std::string endpoint = "tcp://127.0.0.1:7750";
  bool curve = true;
  std::string secretKeyFile;           // absolute after parsing
  std::string logLevel = "info";
  uint32_t heartbeatMs = 1000;
  std::string journalPath;             // absolute after parsing
  std::string journalSync = "full";    // full | normal
  uint32_t checkpointIntervalMs = 200;
  std::string agenciesFile;            // absolute after parsing
  std::string rulesFile;               // absolute after parsing
  uint64_t maxFrameBytes = 1 << 20;
  uint64_t traversalLimitWords = 1 << 18;
  uint32_t nestingLimit = 32;
  uint32_t framesPerTurn = 1024;
  uint32_t outletMemoryWindow = 20000;
  uint32_t maxCredit = 10000;
  uint32_t maxPendingAcks = 200000;
};

// Parses `path`; relative paths inside are resolved against the file's directory. Returns false and
// appends every error found.
bool loadBrokerConfig(const std::string& path, BrokerConfig& out, std::vector<RuleError>& errors);

}  // namespace alertbus
