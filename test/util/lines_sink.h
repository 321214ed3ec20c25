#pragma once

// An spdlog sink that keeps every message payload, one per line, for a test thread to read
// while an in-process daemon logs from its own threads.

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

namespace edgecore::testing {

class LinesSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    text_.append(msg.payload.data(), msg.payload.size());
    text_ += '\n';
  }
  void flush_() override {}

 private:
  std::string text_;
};

}  // namespace edgecore::testing
