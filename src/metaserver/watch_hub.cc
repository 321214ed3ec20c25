#include "watch_hub.h"

#include <tuple>

namespace edgecore::metaserver {

using metamanager::ChangeType;

bool WatchHub::Subscriber::pop(std::vector<WatchEventPtr>& out) {
  std::lock_guard lock(mu_);
  if (overflow_) return false;
  out.insert(out.end(), queue_.begin(), queue_.end());
  queue_.clear();
  return true;
}

WatchHub::WatchHub(metamanager::MetaStore& store, size_t window)
    : store_(store), window_size_(window == 0 ? 1 : window) {
  listener_id_ =
      store_.addChangeListener([this](const metamanager::ObjectChange& c) { onChange(c); });
  // Seed the current state after registering, so no change falls in between. A change the
  // listener already recorded is newer than the snapshot and wins.
  std::lock_guard lock(mu_);
  for (const auto& gvr : store_.listGvrs()) {
    for (auto& obj : store_.listObjects(gvr, "")) {
      latest_.emplace(Id{obj->key.gvr, obj->key.ns, obj->key.name}, obj);
    }
  }
  uint64_t rev = store_.revision();
  if (window_.empty()) {
    covered_from_ = rev;
    revision_ = rev;
  }
}

WatchHub::~WatchHub() { store_.removeChangeListener(listener_id_); }

void WatchHub::onChange(const metamanager::ObjectChange& change) {
  if (!change.object) return;
  std::vector<std::function<void()>> notifies;
  {
    std::lock_guard lock(mu_);
    const auto& k = change.object->key;
    Id id{k.gvr, k.ns, k.name};
    metamanager::StoredObjectPtr prev;
    auto it = latest_.find(id);
    if (it != latest_.end()) prev = it->second;
    if (change.type == ChangeType::Deleted) {
      if (it != latest_.end()) latest_.erase(it);
    } else if (it != latest_.end()) {
      it->second = change.object;
    } else {
      latest_.emplace(id, change.object);
    }
    auto ev = std::make_shared<WatchEvent>(
        WatchEvent{change.type, change.revision, change.object,
                   change.type == ChangeType::Modified ? prev : nullptr});
    if (window_.empty() && covered_from_ >= change.revision) {
      covered_from_ = change.revision - 1;
    }
    window_.push_back(ev);
    revision_ = std::max(revision_, change.revision);
    while (window_.size() > window_size_) {
      covered_from_ = window_.front()->revision;
      window_.pop_front();
    }
    auto [lo, hi] = subscribers_.equal_range(k.gvr);
    for (auto s = lo; s != hi; ++s) {
      Subscriber& sub = *s->second;
      std::lock_guard slock(sub.mu_);
      if (sub.overflow_) continue;
      if (sub.queue_.size() >= sub.limit_) {
        sub.overflow_ = true;
        sub.queue_.clear();
      } else {
        sub.queue_.push_back(ev);
      }
      if (sub.notify_) notifies.push_back(sub.notify_);
    }
  }
  for (auto& n : notifies) n();
}

core::Result<WatchHub::SubscriberPtr> WatchHub::subscribe(const metamanager::Gvr& gvr,
                                                          uint64_t from_revision,
                                                          size_t queue_limit,
                                                          std::function<void()> notify) {
  std::lock_guard lock(mu_);
  if (from_revision < covered_from_) {
    return core::Status(core::StatusCode::OutOfRange, std::to_string(covered_from_));
  }
  auto sub = std::make_shared<Subscriber>();
  sub->limit_ = queue_limit == 0 ? 1 : queue_limit;
  sub->gvr_ = gvr;
  sub->notify_ = std::move(notify);
  for (const auto& ev : window_) {
    if (ev->revision > from_revision && ev->object->key.gvr == gvr) sub->queue_.push_back(ev);
  }
  subscribers_.emplace(gvr, sub);
  return sub;
}

void WatchHub::unsubscribe(const SubscriberPtr& sub) {
  if (!sub) return;
  std::lock_guard lock(mu_);
  auto [lo, hi] = subscribers_.equal_range(sub->gvr_);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == sub) {
      subscribers_.erase(it);
      break;
    }
  }
}

uint64_t WatchHub::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

uint64_t WatchHub::oldestResumable() const {
  std::lock_guard lock(mu_);
  return covered_from_;
}

size_t WatchHub::subscriberCount() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

}  // namespace edgecore::metaserver
