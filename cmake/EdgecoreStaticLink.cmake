# EDGECORE_STATIC_LINK: link the executables against the static archives of their dependencies
# (docs/performance.md, "Static link"). Idle RSS is mostly clean pages of the shared libraries
# touched at start; a static link keeps only the archive members we reach and drops the
# relocation of ~60 libraries. What stays dynamic, and why:
#   glibc (libc, libm, ld.so): NSS and dlopen need the shared glibc;
#   OpenSSL (libssl, libcrypto): libmosquitto has no archive and needs the shared OpenSSL, and
#     two OpenSSL copies in one process must not happen; Debian's security updates of OpenSSL
#     then reach us without a rebuild;
#   libmosquitto: Debian ships no archive;
#   zlib: Debian policy (lintian's embedded-library error) wants the shared one; it is tiny.
# spdlog and fmt have no archives either: edgecore_static_fmt_spdlog() compiles them into one
# of ours from their installed -inl.h sources, so libstdc++ can be static too (no shared C++
# library is left to need the shared one).
option(EDGECORE_STATIC_LINK "Link executables against static archives where Debian has them" OFF)

# Libraries always taken from the shared object, by base name (lib<name>.so).
set(EDGECORE_KEEP_SHARED c m dl rt pthread ssl crypto mosquitto z)

# The archive next to a shared library path (/x/libfoo.so.1.2 -> /x/libfoo.a), or "".
function(_edgecore_archive_of path out)
  set(${out} "" PARENT_SCOPE)
  get_filename_component(dir "${path}" DIRECTORY)
  get_filename_component(file "${path}" NAME)
  if(NOT file MATCHES "^lib(.+)\\.so(\\..*)?$")
    return()
  endif()
  set(name ${CMAKE_MATCH_1})
  if(name IN_LIST EDGECORE_KEEP_SHARED OR NOT EXISTS "${dir}/lib${name}.a")
    return()
  endif()
  set(${out} "${dir}/lib${name}.a" PARENT_SCOPE)
endfunction()

# A plain link item ("re2", "-lre2", a path) rewritten to its archive, or unchanged.
function(_edgecore_static_item item out)
  set(${out} "${item}" PARENT_SCOPE)
  if(TARGET "${item}" OR item MATCHES "^\\$<")
    return()
  endif()
  if(item MATCHES "^-l(.+)$")
    set(name ${CMAKE_MATCH_1})
  elseif(item MATCHES "^[A-Za-z0-9_+.-]+$")
    set(name ${item})
  else()
    _edgecore_archive_of("${item}" archive)
    if(archive)
      set(${out} "${archive}" PARENT_SCOPE)
    endif()
    return()
  endif()
  if(NOT name IN_LIST EDGECORE_KEEP_SHARED AND EXISTS "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/lib${name}.a")
    set(${out} "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/lib${name}.a" PARENT_SCOPE)
  endif()
endfunction()

# Points the imported targets reachable from the given ones at their archives, recursively.
# An imported SHARED target keeps its type: CMake puts its (now archive) path on the link line
# all the same, and the linker reads it as an archive.
function(edgecore_prefer_static_archives)
  set(todo ${ARGN})
  set(seen "")
  while(todo)
    list(POP_FRONT todo target)
    if(NOT TARGET ${target} OR target IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${target})
    get_target_property(aliased ${target} ALIASED_TARGET)
    if(aliased)
      list(APPEND todo ${aliased})
      continue()
    endif()
    get_target_property(imported ${target} IMPORTED)
    if(NOT imported)
      continue()
    endif()
    get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
    set(props IMPORTED_LOCATION)
    foreach(config IN LISTS configs)
      string(TOUPPER "${config}" config)
      list(APPEND props IMPORTED_LOCATION_${config})
    endforeach()
    foreach(prop IN LISTS props)
      get_target_property(location ${target} ${prop})
      if(location)
        _edgecore_archive_of("${location}" archive)
        if(archive)
          set_property(TARGET ${target} PROPERTY ${prop} "${archive}")
        endif()
      endif()
    endforeach()
    get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
    if(deps)
      set(rewritten "")
      foreach(dep IN LISTS deps)
        _edgecore_static_item("${dep}" item)
        list(APPEND rewritten "${item}")
        if(TARGET "${dep}")
          list(APPEND todo "${dep}")
        endif()
      endforeach()
      set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES "${rewritten}")
    endif()
  endwhile()
endfunction()

# The logging library edgecore_core links: libspdlog.so (with libfmt.so), or under
# EDGECORE_STATIC_LINK our archive edgecore_fmt_spdlog with the same compile definitions.
function(edgecore_logging_library out)
  if(NOT EDGECORE_STATIC_LINK)
    set(${out} spdlog::spdlog PARENT_SCOPE)
    return()
  endif()
  if(NOT TARGET edgecore_fmt_spdlog)
    add_library(edgecore_fmt_spdlog STATIC ${PROJECT_SOURCE_DIR}/third_party/fmt-spdlog/fmt_spdlog.cc)
    get_target_property(spdlog_defs spdlog::spdlog INTERFACE_COMPILE_DEFINITIONS)
    get_target_property(fmt_defs fmt::fmt INTERFACE_COMPILE_DEFINITIONS)
    target_compile_definitions(edgecore_fmt_spdlog PUBLIC ${spdlog_defs} ${fmt_defs})
    target_link_libraries(edgecore_fmt_spdlog PUBLIC Threads::Threads)
    # Third-party sources: not ours to keep warning-free.
    target_compile_options(edgecore_fmt_spdlog PRIVATE -w)
  endif()
  set(${out} edgecore_fmt_spdlog PARENT_SCOPE)
endfunction()

# Link options of a statically linked program (edgecore, keadm); no-op without the option.
# Per target, not global: the test programs link GoogleTest's shared library, which needs the
# shared libstdc++.
function(edgecore_static_executable target)
  if(EDGECORE_STATIC_LINK)
    # -static-libstdc++ is safe only because no shared C++ library is left (see above).
    # pack-relative-relocs (DT_RELR, glibc >= 2.36): the PIE's ~1 MB of R_X86_64_RELATIVE
    # entries, all read at start, become a few KB of bitmaps; PIE and RELRO stay.
    target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc LINKER:--gc-sections
      LINKER:-z,pack-relative-relocs)
  endif()
endfunction()
