# The Kubernetes protobuf schema MetaServer speaks (third_party/k8s-proto) as one
# FileDescriptorSet embedded in the binary: protoc runs at build time, no C++ is generated from
# k8s.io/api (that code is large and slow to compile); protobuf/descriptor_pool.cc builds a
# DescriptorPool from these bytes on the first protobuf request.
# Sets EDGECORE_K8S_DESCRIPTORS_CC (the generated .cc) in the caller's scope.
find_package(Protobuf REQUIRED)
set(_k8s_proto_root ${PROJECT_SOURCE_DIR}/third_party/k8s-proto)
set(_k8s_protos
  k8s.io/api/core/v1/generated.proto
  k8s.io/api/coordination/v1/generated.proto)
file(GLOB_RECURSE _k8s_proto_deps CONFIGURE_DEPENDS ${_k8s_proto_root}/*.proto)
set(_k8s_gen ${PROJECT_BINARY_DIR}/generated/k8s-proto)
file(MAKE_DIRECTORY ${_k8s_gen})
add_custom_command(
  OUTPUT ${_k8s_gen}/k8s_descriptor_set.pb
  COMMAND protobuf::protoc -I ${_k8s_proto_root} --include_imports
          --descriptor_set_out=${_k8s_gen}/k8s_descriptor_set.pb ${_k8s_protos}
  DEPENDS ${_k8s_proto_deps}
  COMMENT "protoc: Kubernetes FileDescriptorSet")
add_custom_command(
  OUTPUT ${_k8s_gen}/k8s_descriptor_set.cc
  COMMAND ${CMAKE_COMMAND} -DIN=${_k8s_gen}/k8s_descriptor_set.pb
          -DOUT=${_k8s_gen}/k8s_descriptor_set.cc
          -P ${CMAKE_CURRENT_LIST_DIR}/embed_bytes.cmake
  DEPENDS ${_k8s_gen}/k8s_descriptor_set.pb ${CMAKE_CURRENT_LIST_DIR}/embed_bytes.cmake
  COMMENT "embed Kubernetes FileDescriptorSet")
set(EDGECORE_K8S_DESCRIPTORS_CC ${_k8s_gen}/k8s_descriptor_set.cc)
