#pragma once

// WatchHub: fans committed MetaStore changes out to watchers and keeps a window of the last N of
// them, so a watch may resume from a resourceVersion inside the window (older -> 410 Expired).
// Each change also carries the object's previous state, so a watcher can turn selector
// transitions into ADDED/DELETED without per-watcher bookkeeping.
//
// Threads: onChange runs on the store's writer thread; subscribe/unsubscribe/pop from any thread.
// A subscriber's `notify` is called outside the hub's lock and must only schedule work.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver {

struct WatchEvent {
  metamanager::ChangeType type;
  uint64_t revision;
  metamanager::StoredObjectPtr object;  // Deleted: the last state
  metamanager::StoredObjectPtr prev;    // Modified: the state before (null if unknown)
};
using WatchEventPtr = std::shared_ptr<const WatchEvent>;

class WatchHub {
 public:
  class Subscriber {
   public:
    // Moves queued events into `out`. Returns false once the subscriber fell behind by more than
    // its queue limit (the watch must end; the client resumes or relists).
    bool pop(std::vector<WatchEventPtr>& out);

   private:
    friend class WatchHub;
    std::mutex mu_;
    std::deque<WatchEventPtr> queue_;
    size_t limit_ = 0;
    bool overflow_ = false;
    metamanager::Gvr gvr_;
    std::function<void()> notify_;
  };
  using SubscriberPtr = std::shared_ptr<Subscriber>;

  // Registers with `store` at once; `window` changes are kept for replay.
  WatchHub(metamanager::MetaStore& store, size_t window);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Events of `gvr` with revision > from_revision: those still in the window at once, then live
  // ones. OutOfRange (message carries the oldest resumable revision) if from_revision is older
  // than the window.
  core::Result<SubscriberPtr> subscribe(const metamanager::Gvr& gvr, uint64_t from_revision,
                                        size_t queue_limit, std::function<void()> notify);
  void unsubscribe(const SubscriberPtr& sub);

  // Latest revision the hub has seen (or the store's at construction).
  uint64_t revision() const;
  // Oldest revision a watch may resume from.
  uint64_t oldestResumable() const;
  size_t subscriberCount() const;

  // Store listener body; public for tests that feed changes directly.
  void onChange(const metamanager::ObjectChange& change);

 private:
  using Id = std::tuple<metamanager::Gvr, std::string, std::string>;
  metamanager::MetaStore& store_;
  size_t window_size_;
  uint64_t listener_id_ = 0;
  mutable std::mutex mu_;
  std::deque<WatchEventPtr> window_;
  uint64_t covered_from_ = 0;  // every change with revision > covered_from_ is in window_
  uint64_t revision_ = 0;
  std::map<Id, metamanager::StoredObjectPtr> latest_;  // current state, for `prev`
  std::multimap<metamanager::Gvr, SubscriberPtr> subscribers_;
};

}  // namespace edgecore::metaserver
