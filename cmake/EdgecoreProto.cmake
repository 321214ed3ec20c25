# edgecore_grpc_proto(<target> PROTO <file relative to proto/>)
# Generates C++ protobuf + gRPC code for one of our own subset .proto files under proto/ and
# compiles it once into a static library <target> (the generated code is slow to compile, so no
# other target should include the .pb.cc files). Consumers include "<dir>/<name>.grpc.pb.h".
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

function(edgecore_grpc_proto target)
  cmake_parse_arguments(ARG "" "PROTO" "" ${ARGN})
  set(proto_root ${PROJECT_SOURCE_DIR}/proto)
  set(gen_root ${PROJECT_BINARY_DIR}/generated)
  get_filename_component(rel_dir ${ARG_PROTO} DIRECTORY)
  get_filename_component(stem ${ARG_PROTO} NAME_WE)
  set(out ${gen_root}/${rel_dir}/${stem})
  file(MAKE_DIRECTORY ${gen_root}/${rel_dir})
  add_custom_command(
    OUTPUT ${out}.pb.cc ${out}.pb.h ${out}.grpc.pb.cc ${out}.grpc.pb.h
    COMMAND protobuf::protoc
    ARGS --cpp_out=${gen_root} --grpc_out=${gen_root}
         --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
         -I ${proto_root} ${proto_root}/${ARG_PROTO}
    DEPENDS ${proto_root}/${ARG_PROTO}
    COMMENT "protoc ${ARG_PROTO}")
  add_library(${target} STATIC ${out}.pb.cc ${out}.grpc.pb.cc)
  # Generated code is not ours to keep warning-free.
  target_compile_options(${target} PRIVATE -w)
  target_include_directories(${target} SYSTEM PUBLIC ${gen_root})
  target_link_libraries(${target} PUBLIC gRPC::grpc++ protobuf::libprotobuf)
endfunction()
