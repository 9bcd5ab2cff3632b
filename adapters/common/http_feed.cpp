// See http_feed.h. cpp-httplib (Debian's build has OpenSSL support) does the HTTP; this file adds the
// conditional-request bookkeeping and the health states.
#include "adapters/common/http_feed.h"

#include <httplib.h>

namespace alertbus::adapter {

namespace {

bool splitUrl(const std::string& url, std::string& origin, std::string& path) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  auto slash = url.find('/', scheme + 3);
  origin = url.substr(0, slash);
  path = slash == std::string::npos ? "/" : url.substr(slash);
  return origin.size() > scheme + 3;
}

std::string describe(httplib::Error e, int64_t timeoutMs) {
  switch (e) {
    case httplib::Error::Read:
    case httplib::Error::ConnectionTimeout:
      return "timeout or read error (timeout " + std::to_string(timeoutMs) + " ms)";
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLServerVerification: return "TLS certificate not trusted";
    case httplib::Error::Canceled: return "body larger than the limit";
    default: return httplib::to_string(e);
  }
}

}  // namespace

bool isHttpUrl(const std::string& url) {
  std::string origin, path;
  return (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) && splitUrl(url, origin, path);
}

namespace {

FetchResult getOnce(const std::string& url, const std::string& etag, const std::string& lastModified,
                    const HttpFeedConfig& cfg) {
  FetchResult r;
  std::string origin, path;
  if (!isHttpUrl(url) || !splitUrl(url, origin, path)) {
    r.error = "not an http(s) URL: " + url;
    return r;
  }
  httplib::Client cli(origin);
  if (!cli.is_valid()) {
    r.error = "unsupported URL: " + url;
    return r;
  }
  auto sec = static_cast<time_t>(cfg.timeoutMs / 1000);
  auto usec = static_cast<time_t>((cfg.timeoutMs % 1000) * 1000);
  cli.set_connection_timeout(sec, usec);
  cli.set_read_timeout(sec, usec);
  cli.set_write_timeout(sec, usec);
  // Redirects are followed by httpGet, not by cpp-httplib: its follow_location treats a 304 (a 3xx
  // without Location) as a failed redirect.
  if (!cfg.caFile.empty()) cli.set_ca_cert_path(cfg.caFile.c_str());
  httplib::Headers headers;
  for (auto& [k, v] : cfg.headers) headers.emplace(k, v);
  if (!etag.empty()) headers.emplace("If-None-Match", etag);
  if (!lastModified.empty()) headers.emplace("If-Modified-Since", lastModified);
  bool tooBig = false;
  auto res = cli.Get(path, headers, [&](const char* data, size_t len) {
    if (r.body.size() + len > cfg.maxBytes) {
      tooBig = true;
      return false;
    }
    r.body.append(data, len);
    return true;
  });
  if (!res) {
    r.error = tooBig ? "body larger than " + std::to_string(cfg.maxBytes) + " bytes" : describe(res.error(), cfg.timeoutMs);
    r.body.clear();
    return r;
  }
  r.status = res->status;
  r.contentType = res->get_header_value("Content-Type");
  r.etag = res->get_header_value("ETag");
  r.lastModified = res->get_header_value("Last-Modified");
  r.location = res->get_header_value("Location");
  if (res->status == 304) {
    r.kind = FetchResult::Kind::notModified;
    r.body.clear();
  } else if (res->status >= 200 && res->status < 300) {
    r.kind = FetchResult::Kind::ok;
  } else {
    r.error = "HTTP " + std::to_string(res->status);
    r.body.clear();
  }
  return r;
}

}  // namespace

FetchResult httpGet(const std::string& url, const std::string& etag, const std::string& lastModified,
                    const HttpFeedConfig& cfg) {
  std::string current = url;
  for (int hop = 0;; ++hop) {
    FetchResult r = getOnce(current, etag, lastModified, cfg);
    bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    if (!redirect) return r;
    if (hop == 5 || r.location.empty()) {
      r.kind = FetchResult::Kind::failed;
      r.error = hop == 5 ? "more than 5 redirects" : "HTTP " + std::to_string(r.status) + " without Location";
      return r;
    }
    if (r.location[0] == '/') {
      std::string origin, path;
      splitUrl(current, origin, path);
      current = origin + r.location;
    } else {
      current = r.location;
    }
  }
}

FetchResult HttpFeed::poll(int64_t nowMs) {
  lastAttemptMs_ = nowMs;
  nextMs_ = nowMs + cfg_.intervalMs;
  FetchResult r = httpGet(cfg_.url, etag_, lastModified_, cfg_);
  if (r.kind == FetchResult::Kind::failed) {
    lastFailed_ = true;
    lastError_ = r.error;
    return r;
  }
  lastFailed_ = false;
  lastError_.clear();
  prevOkMs_ = lastOkMs_;
  lastOkMs_ = nowMs;
  if (r.kind == FetchResult::Kind::ok) {
    // Validators are only taken from a full answer: they describe the body we now hold.
    etag_ = r.etag;
    lastModified_ = r.lastModified;
  }
  return r;
}

void HttpFeed::bodyUnreadable(const std::string& reason) {
  lastFailed_ = true;
  lastError_ = reason;
  lastOkMs_ = prevOkMs_;
  etag_.clear();
  lastModified_.clear();
}

HttpFeed::State HttpFeed::state(int64_t nowMs) const {
  if (lastAttemptMs_ == 0) return State::unknown;
  if (lastFailed_) return State::down;
  int64_t stale = cfg_.staleAfterMs > 0 ? cfg_.staleAfterMs : 3 * cfg_.intervalMs;
  if (nowMs - lastOkMs_ > stale) return State::stale;
  return State::up;
}

}  // namespace alertbus::adapter
