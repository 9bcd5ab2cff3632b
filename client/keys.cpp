// CURVE key pairs and key files (see keys.h). Files are written crash-safely (x.new, fsync, rename,
// fsync of the directory); the secret file is created 0600 and never passes through a wider mode.
#include "client/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace alertbus {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

bool pathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `text` to path.new with `mode`, fsyncs it, renames it over `path`. Throws naming the path.
void writeFileAtomically(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) throw std::runtime_error(tmp + ": cannot create: " + errnoText(errno));
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error(tmp + ": " + what + ": " + errnoText(err));
  };
  // O_CREAT applies the umask and keeps an existing file's mode: set it explicitly.
  if (::fchmod(fd, mode) != 0) fail("cannot set mode");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(tmp + ": cannot close: " + errnoText(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename " + tmp + ": " + errnoText(err));
  }
}

void fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(dir + ": cannot open directory: " + errnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error(dir + ": cannot fsync directory: " + errnoText(err));
}

}  // namespace

namespace {
constexpr std::string_view kZ85 =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
}  // namespace

// 40 Z85 characters that decode to 32 bytes: each group of 5 must encode a value below 2^32 (some
// 5-character strings of the alphabet overflow and are not a valid encoding).
bool checkZ85Key(std::string_view s, std::string& why) {
  if (s.size() != 40) {
    why = "is " + std::to_string(s.size()) + " characters, expected 40 Z85 characters";
    return false;
  }
  for (size_t g = 0; g < 40; g += 5) {
    uint64_t v = 0;
    for (size_t i = g; i < g + 5; ++i) {
      auto pos = kZ85.find(s[i]);
      if (pos == std::string_view::npos) {
        why = "has a character outside the Z85 alphabet at position " + std::to_string(i + 1);
        return false;
      }
      v = v * 85 + pos;
    }
    if (v > 0xFFFFFFFFull) {
      why = "is not a valid Z85 encoding (group " + std::to_string(g / 5 + 1) + " overflows 32 bits)";
      return false;
    }
  }
  return true;
}


bool isZ85Key(const std::string& s) {
  std::string why;
  return checkZ85Key(s, why);
}

KeyPair generateKeyPair() {
  char pub[41];
  char sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    throw std::runtime_error(std::string("cannot generate a CURVE key pair: ") + zmq_strerror(zmq_errno()) +
                             " (libzmq built without CURVE?)");
  }
  return KeyPair{std::string(pub, 40), std::string(sec, 40)};
}

void writeKeyFiles(const std::string& dir, const std::string& name, const KeyPair& pair, bool overwrite) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    throw std::runtime_error("key name \"" + name + "\": must be a plain file name (no '/')");
  }
  if (!isZ85Key(pair.publicKey)) throw std::runtime_error("key " + name + ": public key is not 40 Z85 characters");
  if (!isZ85Key(pair.secretKey)) throw std::runtime_error("key " + name + ": secret key is not 40 Z85 characters");
  const std::string base = (dir.empty() ? std::string(".") : dir) + "/" + name;
  const std::string keyPath = base + ".key";
  const std::string pubPath = base + ".pub";
  if (!overwrite) {
    for (const auto& p : {keyPath, pubPath}) {
      if (pathExists(p)) throw std::runtime_error(p + ": already exists; refusing to overwrite a key");
    }
  }
  writeFileAtomically(keyPath,
                      "# alertbus CURVE key pair \"" + name + "\". SECRET: keep this file mode 0600, never share it.\n"
                      "public = \"" + pair.publicKey + "\"\n"
                      "secret = \"" + pair.secretKey + "\"\n",
                      0600);
  writeFileAtomically(pubPath,
                      "# alertbus CURVE public key \"" + name + "\" (give this file to the bureau's admin).\n"
                      "public = \"" + pair.publicKey + "\"\n",
                      0644);
  fsyncDir(dir.empty() ? std::string(".") : dir);
}

KeyPair readKeyFile(const std::string& path, bool needSecret) {
  // Open it ourselves first: toml++ reports an unreadable file without the reason.
  if (::access(path.c_str(), R_OK) != 0) {
    throw std::runtime_error(path + ": cannot open key file: " + errnoText(errno));
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw std::runtime_error(path + ":" + std::to_string(where.line) + ": TOML syntax error: " +
                             std::string(e.description()));
  }
  KeyPair pair;
  auto lineOf = [](const toml::node& n) { return n.source().begin.line; };
  for (auto&& [key, node] : table) {
    const std::string k(key.str());
    const std::string at = path + ":" + std::to_string(key.source().begin.line) + ": ";
    if (k != "public" && k != "secret") {
      throw std::runtime_error(at + "unknown key '" + k + "' (expected: public, secret)");
    }
    const std::string* value = node.as_string() ? &node.as_string()->get() : nullptr;
    if (value == nullptr) throw std::runtime_error(at + k + ": expected a string of 40 Z85 characters");
    std::string why;
    if (!checkZ85Key(*value, why)) {
      throw std::runtime_error(path + ":" + std::to_string(lineOf(node)) + ": " + k + " key " + why);
    }
    (k == "public" ? pair.publicKey : pair.secretKey) = *value;
  }
  if (pair.publicKey.empty()) throw std::runtime_error(path + ": missing key 'public'");
  if (needSecret && pair.secretKey.empty()) {
    throw std::runtime_error(path + ": missing key 'secret' (this looks like a .pub file; use the .key file)");
  }
  if (!pair.secretKey.empty()) {
    char derived[41];
    if (zmq_curve_public(derived, pair.secretKey.c_str()) == 0 && pair.publicKey != std::string(derived, 40)) {
      throw std::runtime_error(path + ": the secret key does not belong to the public key");
    }
  }
  return pair;
}

}  // namespace alertbus
