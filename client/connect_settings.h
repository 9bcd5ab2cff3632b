// Where a client finds the broker and which keys it speaks with: the one set of connection settings every
// agency process (adapters, outlets, the CLI) uses, read from a config file's [broker] table (config/met.toml
// documents the keys) or filled from command-line flags. Pure: parsing and merging only; the files the
// settings name are read by client/connect.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/toml_reader.h"

namespace alertbus {

struct ConnectSettings {
  std::string brokerFile = "var/broker.endpoint";  // written by alertbusd --endpoint-file: endpoint + public key
  std::string endpoint;                            // overrides the broker file's endpoint
  std::string serverKey;                           // Z85 or a key file holding it; overrides the broker file's key
  std::string keyFile = "var/keys/admin.key";      // this client's key pair (CURVE on)
  std::string agency;                              // insecure mode only: the agency this client speaks for
  bool insecure = false;                           // CURVE off (a broker started with --insecure-no-curve)
  std::string clientName;                          // shown by `alertbus status`; the caller sets a default
  int64_t heartbeatMs = 1000;                      // idle time before a heartbeat, ms
  std::string outboxPath;                          // SQLite outbox file; "" = in memory (lost with the process)
};

// Reads a [broker] table (keys broker_file, endpoint, server_key, key_file, insecure, agency, client_name,
// heartbeat_ms) into `s`, leaving absent keys as they are. Paths are made absolute relative to the config
// file; a server_key of 40 characters is a Z85 key, anything else a key file. Errors (unknown keys, wrong
// types, heartbeat_ms outside 100..60000, insecure without agency) go to `r` as file:line: reason.
void readBrokerTable(TomlReader& r, const toml::table& t, ConnectSettings& s);

// Command-line flags over the config file: every non-empty path/endpoint/key/agency/client name of
// `flags` replaces the one in `s`; `insecure` is turned on, never off. Other fields are kept.
void applyOverrides(ConnectSettings& s, const ConnectSettings& flags);

// True when the endpoint, or (CURVE on) the server key, has to come from the broker file.
bool needsBrokerFile(const ConnectSettings& s);

// What alertbusd --endpoint-file writes:  endpoint = "tcp://..."  public = "<Z85>".
struct BrokerFileContents {
  std::string endpoint;
  std::string publicKey;
};
// Parses that text. False with `error` = "source:line: reason" when it is not TOML or a value is not a
// string. Missing keys are left empty (the caller says which one it needed).
bool parseBrokerFile(std::string_view text, const std::string& source, BrokerFileContents& out, std::string& error);

}  // namespace alertbus
