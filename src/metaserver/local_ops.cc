#include "edgecore/metaserver/local_ops.h"

#include "edgecore/cri/cri_client.h"

namespace edgecore::metaserver {

std::shared_ptr<cri::CriClient> LazyCriClient::get(std::string& error) const {
  std::call_once(once_, [this] {
    auto made = make_();
    if (made.ok()) {
      client_ = std::move(*made);
    } else {
      error_ = made.status().message();
    }
  });
  if (!client_) error = error_;
  return client_;
}

std::shared_ptr<cri::CriClient> criClient(const LocalOps& ops, std::string& error) {
  if (ops.cri) return ops.cri;
  if (ops.lazy_cri) return ops.lazy_cri->get(error);
  error = ops.cri_error;
  return nullptr;
}

}  // namespace edgecore::metaserver
