#include "tls/dummy_interface.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>  // before linux/ headers: they defer to it
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace edgecore::metaserver::tls {
namespace {

// One rtnetlink request under construction: header, fixed part, then attributes.
class NlRequest {
 public:
  NlRequest(uint16_t type, uint16_t flags) : buf_(NLMSG_HDRLEN, 0) {
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
  }
  template <class T>
  void fixed(const T& body) {
    append(&body, sizeof body);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    append(&a, sizeof a);
    append(data, len);
  }
  void attr(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  size_t beginNested(uint16_t type) {
    size_t at = buf_.size();
    attr(type, nullptr, 0);
    return at;
  }
  void endNested(size_t at) {
    auto* a = reinterpret_cast<rtattr*>(buf_.data() + at);
    a->rta_len = static_cast<uint16_t>(buf_.size() - at);
  }
  std::vector<char>& finish(uint32_t seq) {
    hdr()->nlmsg_len = static_cast<uint32_t>(buf_.size());
    hdr()->nlmsg_seq = seq;
    return buf_;
  }

 private:
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  void append(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    if (n) buf_.insert(buf_.end(), c, c + n);
    buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  }
  std::vector<char> buf_;
};

// Sends one request and returns the kernel's answer as an errno (0 = done).
int talk(NlRequest& req) {
  static uint32_t seq = 1;
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  auto& bytes = req.finish(++seq);
  int result = EIO;
  if (::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    result = errno;
  } else {
    alignas(nlmsghdr) char answer[8192];
    timeval tv{5, 0};  // the kernel answers at once; bounded anyway
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = ::recv(fd, answer, sizeof answer, 0);
    if (n < 0) {
      result = errno;
    } else {
      for (auto* h = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(h, static_cast<unsigned>(n));
           h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
          result = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
          break;
        }
      }
    }
  }
  ::close(fd);
  return result;
}

int addDummyLink(const std::string& name) {
  NlRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.fixed(ifinfomsg{});
  req.attr(IFLA_IFNAME, name);
  size_t info = req.beginNested(IFLA_LINKINFO);
  req.attr(IFLA_INFO_KIND, std::string("dummy"));
  req.endNested(info);
  return talk(req);
}

int setUp(int index) {
  NlRequest req(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_index = index;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  req.fixed(ifi);
  return talk(req);
}

int deleteLink(int index) {
  NlRequest req(RTM_DELLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_index = index;
  req.fixed(ifi);
  return talk(req);
}

int changeAddress(uint16_t type, uint16_t flags, int index, const in_addr& ip,
                  const std::string& label) {
  NlRequest req(type, flags);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 32;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(index);
  req.fixed(ifa);
  req.attr(IFA_LOCAL, &ip, sizeof ip);
  req.attr(IFA_ADDRESS, &ip, sizeof ip);
  if (!label.empty()) req.attr(IFA_LABEL, label);
  return talk(req);
}

core::Status fromErrno(int err, const std::string& what) {
  if (err == EPERM || err == EACCES) {
    return core::Status(
        core::StatusCode::PermissionDenied,
        what + ": " + std::strerror(err) + ". requireAuthorization needs CAP_NET_ADMIN for the " +
            kDummyInterfaceName +
            " interface: run edgecore as root (the packaged systemd unit does) or grant the "
            "capability (systemd AmbientCapabilities=CAP_NET_ADMIN, or setcap cap_net_admin+ep on "
            "the "
            "binary), or turn featureGates.requireAuthorization off");
  }
  return core::internalError(what + ": " + std::strerror(err));
}

}  // namespace

core::Result<std::unique_ptr<DummyInterface>> DummyInterface::create(
    const std::string& ipv4, std::shared_ptr<spdlog::logger> log, const std::string& name) {
  in_addr ip{};
  if (::inet_pton(AF_INET, ipv4.c_str(), &ip) != 1) {
    return core::invalidArgument("modules.metaManager.metaServer.dummyServer: " + ipv4 +
                                 " is not an IPv4 address");
  }
  std::unique_ptr<DummyInterface> d(new DummyInterface());
  d->ip_ = ipv4;
  d->log_ = std::move(log);
  std::string label;
  int err = addDummyLink(name);
  if (err == 0 || err == EEXIST) {
    d->device_ = name;
    d->created_link_ = true;  // ours to remove on stop, even when left over from a crash
  } else if (err == EOPNOTSUPP || err == ENODEV || err == ENOENT) {
    // No dummy driver in this kernel ("Unknown device type"): same reachability from lo.
    d->device_ = "lo";
    d->on_loopback_ = true;
    label = kLoopbackFallbackLabel;
    if (d->log_) {
      d->log_->warn(
          "dummy interface unsupported by the kernel, binding the dummy address to lo instead "
          "iface={} addr={} label={} err={}",
          name, ipv4, label, std::strerror(err));
    }
  } else {
    return fromErrno(err, "creating interface " + name);
  }
  int index = static_cast<int>(::if_nametoindex(d->device_.c_str()));
  if (index == 0) return fromErrno(errno, "looking up interface " + d->device_);
  if (!d->on_loopback_) {
    if (int e = setUp(index); e != 0) return fromErrno(e, "setting " + name + " up");
  }
  err = changeAddress(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, index, ip, label);
  if (err != 0 && err != EEXIST) {
    return fromErrno(err, "adding " + ipv4 + "/32 to " + d->device_);
  }
  if (d->log_) {
    d->log_->info("dummy interface ready iface={} addr={}", d->device_, ipv4);
  }
  return d;
}

DummyInterface::~DummyInterface() { remove(); }

void DummyInterface::remove() {
  if (removed_ || device_.empty()) return;
  removed_ = true;
  int index = static_cast<int>(::if_nametoindex(device_.c_str()));
  if (index == 0) return;  // already gone
  int err = 0;
  if (on_loopback_) {
    in_addr ip{};
    ::inet_pton(AF_INET, ip_.c_str(), &ip);
    err = changeAddress(RTM_DELADDR, 0, index, ip, "");
    if (err == EADDRNOTAVAIL) err = 0;
  } else if (created_link_) {
    err = deleteLink(index);
  }
  if (err != 0 && log_) {
    log_->warn("dummy interface removal failed iface={} addr={} err={}", device_, ip_,
               std::strerror(err));
  } else if (log_) {
    log_->info("dummy interface removed iface={} addr={}", device_, ip_);
  }
}

}  // namespace edgecore::metaserver::tls
