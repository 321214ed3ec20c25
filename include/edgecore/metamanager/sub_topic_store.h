#pragma once

// SubTopicStore: eventbus's MQTT subscriptions kept in KubeEdge's `sub_topics` table (one `topic`
// column, spec/local-apis.md 2.2), so they are subscribed again after a restart.

#include <functional>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::metamanager {

class SubTopicStore {
 public:
  using WriteCallback = std::function<void(core::Status)>;

  virtual ~SubTopicStore() = default;

  // Every stored topic. Synchronous SQLite read: call from a blocking pool. Errors as
  // DeviceTwinStore::loadDeviceTables.
  virtual core::Result<std::vector<std::string>> listSubTopics() = 0;
  // Adds (INSERT OR REPLACE) or removes one topic through the store's writer; `done` runs on the
  // writer thread once it is durable (or failed). Never blocks; Unavailable (and `done` not
  // called) when the write queue is full or the store closed.
  virtual core::Status addSubTopic(const std::string& topic, WriteCallback done) = 0;
  virtual core::Status removeSubTopic(const std::string& topic, WriteCallback done) = 0;
};

}  // namespace edgecore::metamanager
