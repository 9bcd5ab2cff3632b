// SpoolSender implementation; see spool_sender.h. Write .tmp, fsync, rename, fsync the directory (as
// mosquitto's persist_write does), so a crash leaves either the old file, the new file or a stray .tmp.
#include "outlets/sms/spool_sender.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "outlets/sms/callbacks.h"

namespace alertbus::sms {
namespace {

std::atomic<uint64_t> tmpCounter{0};  // unique temporary names across threads (same id, same process)

SubmitResult temporary(const std::string& path, const char* op, int err) {
  SubmitResult r;
  r.kind = SubmitResult::Kind::temporary;
  r.detail = "spool " + path + ": " + op + ": " + std::strerror(err);
  return r;
}

bool writeAll(int fd, const std::string& data, int& err) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

SpoolSender::SpoolSender(SpoolOptions options) : options_(std::move(options)) {}

std::string SpoolSender::pathFor(const std::string& deliveryId) const {
  return options_.directory + "/" + deliveryId + ".json";
}

SubmitResult SpoolSender::submit(const SmsRequest& request) {
  if (!isValidDeliveryId(request.deliveryId)) {
    SubmitResult r;
    r.kind = SubmitResult::Kind::permanent;
    r.detail = "deliveryId '" + request.deliveryId + "': not 1-128 of A-Z a-z 0-9 - . _ ~";
    return r;
  }
  int64_t now = options_.nowMs ? options_.nowMs()
                               : std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  nlohmann::json j = {{"deliveryId", request.deliveryId}, {"to", request.to},
                      {"text", request.text},             {"maxParts", request.maxParts},
                      {"wantReports", request.wantReports}, {"queuedAtMs", now}};
  // Invalid UTF-8 is replaced (U+FFFD) rather than thrown: the text came through our own templates.
  std::string data = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";

  std::string path = pathFor(request.deliveryId);
  std::string tmp = path + "." + std::to_string(::getpid()) + "." + std::to_string(++tmpCounter) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return temporary(tmp, "open", errno);
  int err = 0;
  if (!writeAll(fd, data, err)) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return temporary(tmp, "write", err);
  }
  if (::fsync(fd) != 0) {
    err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return temporary(tmp, "fsync", err);
  }
  if (::close(fd) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return temporary(tmp, "close", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return temporary(path, "rename", err);
  }
  int dfd = ::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return temporary(options_.directory, "open directory", errno);
  if (::fsync(dfd) != 0) {
    err = errno;
    ::close(dfd);
    return temporary(options_.directory, "fsync directory", err);
  }
  ::close(dfd);

  SubmitResult r;
  r.kind = SubmitResult::Kind::accepted;
  r.detail = path;
  return r;
}

}  // namespace alertbus::sms
