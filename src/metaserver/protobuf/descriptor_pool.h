#pragma once

// The Kubernetes protobuf schema (third_party/k8s-proto, embedded as a FileDescriptorSet by
// k8s_descriptors.cmake). No generated C++ exists for it: messages are DynamicMessages built
// from these descriptors.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string_view>

namespace edgecore::metaserver::protobuf {

// The embedded FileDescriptorSet bytes (generated k8s_descriptor_set.cc).
std::string_view k8sDescriptorSet();

// The message type named `full_name` (e.g. "k8s.io.api.core.v1.Pod"), nullptr when unknown.
// The pool is built once, on the first call, from any thread.
const google::protobuf::Descriptor* findMessage(std::string_view full_name);

// An empty mutable message of `type` (a DynamicMessage; the factory lives as long as the pool).
std::unique_ptr<google::protobuf::Message> newMessage(const google::protobuf::Descriptor* type);

}  // namespace edgecore::metaserver::protobuf
