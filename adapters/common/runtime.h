// The part every adapter executable shares: command line, config file, inputs (watched directory, HTTP(S)
// feeds, stdin, files named on the command line), de-duplication, expiry, validation, publishing through
// the client library's outbox (or printing JSON with --dry-run), feed health in heartbeats, and the
// corpus check. An adapter main() fills an AdapterSpec with its pure parsing library and calls
// runAdapter(). Everything runs on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "adapters/common/output.h"
#include "common/toml_reader.h"
#include "schemas/message.capnp.h"

namespace alertbus::adapter {

struct AdapterSpec {
  std::string name;        // "met": executable alertbus-met, config table [met], default config/met.toml
  std::string summary;     // one line for --help

  // Reads the adapter's own [<name>] table (nullptr when absent). Reports errors through `reader`
  // (file:line, unknown keys); called once before any input is read.
  std::function<void(TomlReader& reader, const toml::table* section)> configure;

  // One whole input: a file, an HTTP body, or stdin read to EOF. Must not throw on any input.
  std::function<Output(std::string_view bytes, const std::string& source, int64_t receivedMs)> parseDocument;

  // Optional: stdin is a stream of lines (AIS from a receiver, `nc host port | alertbus-maritime --stdin`);
  // each line (without its end) goes here. Without it stdin is read to EOF and parsed as one document.
  std::function<Output(std::string_view line, const std::string& source, int64_t receivedMs)> parseLine;

  // Optional: called about every tickMs with the wall clock, for time-driven output (a quiet fire
  // cluster cancelled, a periodic vessels-at-risk report).
  std::function<Output(int64_t nowMs)> tick;
  int64_t tickMs = 1000;

  // Optional persistent state (thresholds crossed, clusters, active warnings): saved with the
  // de-duplication records after each input has been handed to the outbox, loaded at start.
  std::function<std::string()> saveState;
  std::function<bool(const std::string& state, std::string* error)> loadState;

  // Optional: read this outlet (agencies.toml serve_outlets) and pass each delivered message to
  // onDelivery; the delivery is acknowledged once its output is in the outbox.
  std::string subscribeOutlet;
  std::function<Output(schema::Message::Reader message, int64_t nowMs)> onDelivery;
};

// Parses argv, runs until SIGINT/SIGTERM (or, with --once/--dry-run/--check, until the inputs are done)
// and returns the process exit code: 0 ok, 1 runtime failure, 2 usage or config error.
int runAdapter(const AdapterSpec& spec, int argc, char** argv);

// True when every info of a warning/forecast has an expiry and all of them are at or before nowMs
// (CAP: the alert is over). Other payloads never expire here. Pure.
bool isExpired(schema::Message::Reader m, int64_t nowMs);

}  // namespace alertbus::adapter
