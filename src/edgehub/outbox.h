#pragma once

// The durable upstream outbox (docs/edgehub.md). Its SQLite storage lives with the store's code
// (include/edgecore/metamanager/outbox.h, library edgecore_outbox), so edgehub holds no SQL.

#include "edgecore/metamanager/outbox.h"

namespace edgecore::edgehub {

using metamanager::Outbox;
using metamanager::OutboxCounters;
using metamanager::OutboxEntry;

}  // namespace edgecore::edgehub
