// A feed an agency publishes over HTTP(S), polled on a schedule with conditional requests (ETag /
// If-None-Match, Last-Modified / If-Modified-Since) so an unchanged feed costs one 304. A timeout, a
// refused connection, an HTTP error or a 200 whose body cannot be read marks the feed down with the
// reason: never "no alerts". I/O edge (cpp-httplib, OpenSSL); one thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace alertbus::adapter {

struct HttpFeedConfig {
  std::string name;                     // shown in logs and in the broker's status
  std::string url;                      // http:// or https://
  int64_t intervalMs = 60000;           // between polls
  int64_t timeoutMs = 10000;            // connect and read timeout, each
  int64_t staleAfterMs = 0;             // no success for this long: state stale (0 = 3 x interval)
  uint64_t maxBytes = 16 << 20;         // larger bodies are cut off and the poll counts as failed
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers (e.g. an API key)
  std::string caFile;                   // PEM bundle for https; "" = the system's
};

struct FetchResult {
  enum class Kind { ok, notModified, failed };
  Kind kind = Kind::failed;
  int status = 0;                       // HTTP status; 0 when no response
  std::string body;                     // Kind::ok
  std::string contentType;
  std::string etag, lastModified;       // validators of a 200 answer, for the next conditional request
  std::string location;                 // Location header of a redirect
  std::string error;                    // Kind::failed: "timeout after 10000 ms", "HTTP 503", ...
};

// One GET with optional validators. Follows up to 5 redirects (absolute or /path Locations). Bounded by timeoutMs and maxBytes.
FetchResult httpGet(const std::string& url, const std::string& etag, const std::string& lastModified,
                    const HttpFeedConfig& cfg);

// True for "http://..." and "https://..." URLs with a host.
bool isHttpUrl(const std::string& url);

class HttpFeed {
 public:
  explicit HttpFeed(HttpFeedConfig cfg) : cfg_(std::move(cfg)) {}
  const HttpFeedConfig& config() const { return cfg_; }
  bool due(int64_t nowMs) const { return nowMs >= nextMs_; }
  // Polls now; schedules the next poll; remembers validators from a 200.
  FetchResult poll(int64_t nowMs);
  // The 200 body the last poll() returned could not be read (the parser refused it whole): the feed is
  // down with `reason` until a poll brings a readable body, and its last success stays the one before.
  // Its validators are dropped, so the next poll fetches the body again instead of hearing "not
  // modified" about a body nobody could read.
  void bodyUnreadable(const std::string& reason);

  // Health, for heartbeats.
  enum class State { unknown, up, down, stale };
  State state(int64_t nowMs) const;
  int64_t lastOkMs() const { return lastOkMs_; }
  int64_t lastAttemptMs() const { return lastAttemptMs_; }
  const std::string& lastError() const { return lastError_; }

 private:
  HttpFeedConfig cfg_;
  int64_t nextMs_ = 0, lastOkMs_ = 0, lastAttemptMs_ = 0, prevOkMs_ = 0;
  bool lastFailed_ = false;
  std::string etag_, lastModified_, lastError_;
};

}  // namespace alertbus::adapter
