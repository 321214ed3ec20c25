#include "probe/prober.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <string_view>

namespace edgecore::edged {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

std::string_view probeTypeName(ProbeType t) {
  switch (t) {
    case ProbeType::Liveness:
      return "Liveness";
    case ProbeType::Readiness:
      return "Readiness";
    case ProbeType::Startup:
      return "Startup";
  }
  return "Unknown";
}

namespace {

constexpr size_t kMaxStatusLine = 4096;

// One network probe: resolve, connect, (for HTTP) send a GET and read the status line.
struct NetOp : std::enable_shared_from_this<NetOp> {
  NetOp(asio::any_io_executor ex, std::function<void(ProbeOutcome)> done)
      : resolver(ex), socket(ex), timer(ex), buf(kMaxStatusLine), done(std::move(done)) {}

  void finish(ProbeResult r, std::string out) {
    if (finished) return;
    finished = true;
    timer.cancel();
    resolver.cancel();
    error_code ignored;
    socket.close(ignored);
    auto d = std::move(done);
    d(ProbeOutcome{r, std::move(out)});
  }

  void run(const std::string& host, int port, std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    timer.expires_after(timeout);
    timer.async_wait([self](error_code ec) {
      if (!ec) self->finish(ProbeResult::Failure, "probe timed out");
    });
    resolver.async_resolve(
        host, std::to_string(port), [self](error_code ec, tcp::resolver::results_type results) {
          if (ec) return self->finish(ProbeResult::Failure, ec.message());
          asio::async_connect(self->socket, results, [self](error_code ec2, const tcp::endpoint&) {
            self->connected(ec2);
          });
        });
  }

  void connected(error_code ec) {
    if (finished) return;
    if (ec) return finish(ProbeResult::Failure, "dial tcp: " + ec.message());
    if (request.empty()) return finish(ProbeResult::Success, "");
    auto self = shared_from_this();
    asio::async_write(socket, asio::buffer(request), [self](error_code ec2, size_t) {
      if (ec2) return self->finish(ProbeResult::Failure, ec2.message());
      asio::async_read_until(self->socket, self->buf, "\r\n",
                             [self](error_code ec3, size_t n) { self->statusLine(ec3, n); });
    });
  }

  void statusLine(error_code ec, size_t n) {
    if (finished) return;
    if (ec) return finish(ProbeResult::Failure, "reading response: " + ec.message());
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
    // "HTTP/1.1 200 OK"
    int code = 0;
    if (line.rfind("HTTP/", 0) == 0) {
      auto sp = line.find(' ');
      if (sp != std::string::npos && line.size() >= sp + 4) {
        code = std::atoi(line.substr(sp + 1, 3).c_str());
      }
    }
    if (code >= 200 && code < 400) return finish(ProbeResult::Success, "");
    if (code == 0) return finish(ProbeResult::Failure, "malformed HTTP response");
    finish(ProbeResult::Failure, "HTTP probe failed with statuscode: " + std::to_string(code));
  }

  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer timer;
  asio::streambuf buf;
  std::string request;
  std::function<void(ProbeOutcome)> done;
  bool finished = false;
};

// A control byte (CR, LF, NUL, ... DEL) in a value that goes into the request line or a header
// would let a pod spec write its own request or headers.
bool hasControlByte(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

// RFC 9110 token characters, what a header name may hold.
bool isToken(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != kExtra.npos;
  });
}

// Why the httpGet action cannot be sent as given, or "" when it can. Checked before any
// connection is made, so a refused request never leaves the node.
std::string httpTargetError(const Action& a, const std::string& host) {
  if (hasControlByte(a.path) || a.path.find(' ') != std::string::npos) {
    return "invalid httpGet path: control characters and spaces are not allowed";
  }
  if (!a.path.empty() && a.path[0] != '/') {
    return "invalid httpGet path: must start with '/'";
  }
  if (hasControlByte(host) || host.find_first_of(" /?#@") != std::string::npos) {
    return "invalid httpGet host: control characters, spaces and URL delimiters are not allowed";
  }
  if (hasControlByte(a.scheme)) {
    return "invalid httpGet scheme: control characters are not allowed";
  }
  for (const auto& h : a.http_headers) {
    if (!isToken(h.key)) {
      return "invalid httpGet header name: control characters, spaces and ':' are not allowed "
             "(an HTTP token is required)";
    }
    // Horizontal tab is allowed inside a field value; nothing else below 0x20.
    if (std::any_of(h.value.begin(), h.value.end(), [](char ch) {
          auto c = static_cast<unsigned char>(ch);
          return (c < 0x20 && c != '\t') || c == 0x7f;
        })) {
      return "invalid httpGet header value for \"" + h.key +
             "\": control characters are not allowed";
    }
  }
  return "";
}

std::string httpRequest(const Action& a, const std::string& host, int port) {
  std::string path = a.path.empty() ? "/" : a.path;
  std::string req = "GET " + path + " HTTP/1.1\r\n";
  bool has_host = false, has_ua = false, has_accept = false;
  std::string headers;
  for (const auto& h : a.http_headers) {
    std::string lower = h.key;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    has_host |= lower == "host";
    has_ua |= lower == "user-agent";
    has_accept |= lower == "accept";
    headers += h.key + ": " + h.value + "\r\n";
  }
  if (!has_host) req += "Host: " + host + ":" + std::to_string(port) + "\r\n";
  if (!has_ua) req += "User-Agent: kube-probe/1.30\r\n";
  if (!has_accept) req += "Accept: */*\r\n";
  req += headers;
  req += "Connection: close\r\n\r\n";
  return req;
}

}  // namespace

void runProbeAction(asio::any_io_executor strand, const Action& action,
                    const std::string& default_host, std::chrono::milliseconds timeout,
                    const ExecProbeFn& exec, std::function<void(ProbeOutcome)> done) {
  const std::string host = action.host.empty()
                               ? (default_host.empty() ? std::string("127.0.0.1") : default_host)
                               : action.host;
  switch (action.kind) {
    case Action::Kind::HttpGet: {
      if (std::string bad = httpTargetError(action, host); !bad.empty()) {
        asio::post(strand, [done = std::move(done), bad = std::move(bad)] {
          done(ProbeOutcome{ProbeResult::Failure, bad});
        });
        return;
      }
      if (action.scheme != "HTTP" && action.scheme != "http") {
        asio::post(strand, [done = std::move(done), s = action.scheme] {
          done(ProbeOutcome{ProbeResult::Failure, "scheme " + s + " is not supported"});
        });
        return;
      }
      auto op = std::make_shared<NetOp>(strand, std::move(done));
      op->request = httpRequest(action, host, action.port);
      op->run(host, action.port, timeout);
      return;
    }
    case Action::Kind::TcpSocket: {
      auto op = std::make_shared<NetOp>(strand, std::move(done));
      op->run(host, action.port, timeout);
      return;
    }
    case Action::Kind::Exec: {
      if (!exec) {
        asio::post(strand, [done = std::move(done)] {
          done(ProbeOutcome{ProbeResult::Unknown, "no exec runner"});
        });
        return;
      }
      struct State {
        explicit State(asio::any_io_executor ex) : timer(ex) {}
        asio::steady_timer timer;
        bool finished = false;
        std::function<void(ProbeOutcome)> done;
      };
      auto st = std::make_shared<State>(strand);
      st->done = std::move(done);
      st->timer.expires_after(timeout);
      st->timer.async_wait([st](error_code ec) {
        if (ec || st->finished) return;
        st->finished = true;
        st->done(ProbeOutcome{ProbeResult::Failure, "command timed out"});
      });
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
      exec(action.command, std::max(secs, std::chrono::seconds(1)), [st, strand](ProbeOutcome out) {
        asio::post(strand, [st, out = std::move(out)]() mutable {
          if (st->finished) return;
          st->finished = true;
          st->timer.cancel();
          st->done(std::move(out));
        });
      });
      return;
    }
    case Action::Kind::Sleep:
    case Action::Kind::None:
      asio::post(strand, [done = std::move(done)] {
        done(ProbeOutcome{ProbeResult::Unknown, "probe has no handler"});
      });
      return;
  }
}

// ---------------------------------------------------------------------------------------------

struct ContainerProber::Worker : std::enable_shared_from_this<ContainerProber::Worker> {
  Worker(asio::any_io_executor ex, ProbeType t, ProbeSpec s)
      : type(t), spec(std::move(s)), timer(ex) {}
  ProbeType type;
  ProbeSpec spec;
  asio::steady_timer timer;
  ProbeResult reported = ProbeResult::Unknown;
  ProbeResult last = ProbeResult::Unknown;
  int run = 0;
  bool on_hold = false;
  bool in_flight = false;
};

std::shared_ptr<ContainerProber> ContainerProber::create(asio::any_io_executor strand,
                                                         Options options) {
  return std::shared_ptr<ContainerProber>(
      new ContainerProber(std::move(strand), std::move(options)));
}

ContainerProber::ContainerProber(asio::any_io_executor strand, Options options)
    : strand_(std::move(strand)), options_(std::move(options)) {}

ContainerProber::~ContainerProber() = default;

void ContainerProber::start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->started_ || self->stopped_) return;
    self->started_ = true;
    if (self->options_.startup) self->launch(ProbeType::Startup, *self->options_.startup);
    if (self->options_.liveness) self->launch(ProbeType::Liveness, *self->options_.liveness);
    if (self->options_.readiness) self->launch(ProbeType::Readiness, *self->options_.readiness);
  });
}

void ContainerProber::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    for (auto& w : self->workers_) w->timer.cancel();
  });
}

ProbeResult ContainerProber::result(ProbeType t) const {
  for (const auto& w : workers_) {
    if (w->type == t) return w->reported;
  }
  // No probe of this type: the kubelet treats the container as live/ready/started.
  return ProbeResult::Success;
}

bool ContainerProber::started() const { return result(ProbeType::Startup) == ProbeResult::Success; }

bool ContainerProber::ready() const {
  return started() && result(ProbeType::Readiness) == ProbeResult::Success;
}

void ContainerProber::launch(ProbeType t, const ProbeSpec& spec) {
  auto w = std::make_shared<Worker>(strand_, t, spec);
  w->reported = t == ProbeType::Readiness  ? ProbeResult::Failure
                : t == ProbeType::Liveness ? ProbeResult::Success
                                           : ProbeResult::Unknown;
  workers_.push_back(w);
  schedule(w, options_.second * spec.initial_delay_seconds);
}

// Wait (initial delay, then period), probe, account, repeat. The pending handler owns the
// references, so there is no cycle: stop() cancels the timer and the chain ends.
void ContainerProber::schedule(const std::shared_ptr<Worker>& w, std::chrono::milliseconds wait) {
  w->timer.expires_after(wait);
  w->timer.async_wait([self = shared_from_this(), w](error_code ec) {
    if (ec || self->stopped_) {
      return;
    }
    const auto period = self->options_.second * w->spec.period_seconds;
    const bool gated = w->type != ProbeType::Startup && !self->started();
    if (gated || w->on_hold) {
      return self->schedule(w, period);
    }
    runProbeAction(self->strand_, w->spec.action, self->options_.host,
                   self->options_.second * w->spec.timeout_seconds, self->options_.exec,
                   [self, w, period](ProbeOutcome out) {
                     if (self->stopped_) {
                       return;
                     }
                     self->account(*w, out);
                     self->schedule(w, period);
                   });
  });
}

void ContainerProber::account(Worker& w, const ProbeOutcome& out) {
  if (out.result == ProbeResult::Unknown) {
    return;  // an infrastructure error keeps the previous result
  }
  if (out.result == w.last) {
    ++w.run;
  } else {
    w.last = out.result;
    w.run = 1;
  }
  if ((w.last == ProbeResult::Failure && w.run < w.spec.failure_threshold) ||
      (w.last == ProbeResult::Success && w.run < w.spec.success_threshold)) {
    return;
  }
  const bool changed = w.reported != w.last;
  w.reported = w.last;
  if ((w.type == ProbeType::Liveness || w.type == ProbeType::Startup) &&
      w.last == ProbeResult::Failure) {
    w.on_hold = true;  // the container gets restarted; a new prober takes over
    w.run = 0;
  }
  if (changed && options_.on_result) {
    options_.on_result(w.type, w.reported, out.output);
  }
}

}  // namespace edgecore::edged
