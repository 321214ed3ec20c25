# The library graph, written down once. A module (a folder of src/ named below) may link
# edgecore_core, the shared libraries (src/net, src/cri, src/kubeprint, src/sqlite, and the few a
# module's folder offers to others, listed in EDGECORE_SHARED_FROM_MODULES) and its own parts, never
# another module's targets: modules talk over the bus, and use each other's headers only for
# the interfaces in include/edgecore/<module>/ that main.cc wires together.
#
# edgecore_check_module_graph() walks every target defined under a module's folder, with what it
# links transitively, and stops the configure step naming the first link that breaks the rule.
set(EDGECORE_MODULE_FOLDERS metamanager metaserver edgehub edged eventbus devicetwin edgestream
  servicebus taskmanager)
# meta_v2 key naming (src/metamanager/keys): MetaServer resolves keys with the same rules;
# the outbox file's storage (src/metamanager/outbox): edgehub keeps its durable outbox there.
set(EDGECORE_SHARED_FROM_MODULES edgecore_metakeys edgecore_outbox)

function(_edgecore_module_of target out)
  set(module "")
  get_target_property(imported ${target} IMPORTED)
  if(NOT imported)
    get_target_property(dir ${target} SOURCE_DIR)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/src ${dir})
    string(REGEX REPLACE "/.*" "" top "${rel}")
    if(top IN_LIST EDGECORE_MODULE_FOLDERS)
      set(module ${top})
    endif()
  endif()
  set(${out} "${module}" PARENT_SCOPE)
endfunction()

# Targets `target` links, transitively (PUBLIC, PRIVATE and INTERFACE), ours only.
function(_edgecore_linked_targets target out)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue t)
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(libs ${t} ${prop})
      if(NOT libs)
        continue()
      endif()
      foreach(lib IN LISTS libs)
        string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
        if(lib MATCHES "^edgecore_" AND TARGET ${lib} AND NOT lib IN_LIST seen)
          list(APPEND seen ${lib})
          list(APPEND queue ${lib})
        endif()
      endforeach()
    endforeach()
  endwhile()
  set(${out} "${seen}" PARENT_SCOPE)
endfunction()

function(edgecore_check_module_graph)
  get_property(dirs DIRECTORY ${PROJECT_SOURCE_DIR}/src PROPERTY SUBDIRECTORIES)
  set(targets "")
  while(dirs)
    list(POP_FRONT dirs d)
    get_property(sub DIRECTORY ${d} PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${sub})
    get_property(ts DIRECTORY ${d} PROPERTY BUILDSYSTEM_TARGETS)
    list(APPEND targets ${ts})
  endwhile()
  foreach(t IN LISTS targets)
    _edgecore_module_of(${t} module)
    if(NOT module)
      continue()
    endif()
    _edgecore_linked_targets(${t} deps)
    foreach(dep IN LISTS deps)
      if(dep IN_LIST EDGECORE_SHARED_FROM_MODULES)
        continue()
      endif()
      _edgecore_module_of(${dep} dep_module)
      if(dep_module AND NOT dep_module STREQUAL module)
        message(FATAL_ERROR "module graph: ${t} (module ${module}) links ${dep} (module "
          "${dep_module}). Modules talk over the bus; move what both need into a shared library "
          "(src/core, src/net, src/cri ...) or pass it in from main.cc (cmake/EdgecoreModuleGraph.cmake).")
      endif()
    endforeach()
  endforeach()
endfunction()
