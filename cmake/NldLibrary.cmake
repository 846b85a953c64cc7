# nld_library(NAME SOURCES f.cc... [DEPS lib...] [PRIVATE_DEPS lib...] [ALIAS nld::x])
# nld_library(NAME INTERFACE DEPS lib... [ALIAS nld::x])
# One library per concern, its sources listed by name (no globs: a new file is added on purpose,
# to the library it belongs to) and its dependencies explicit. DEPS are public (their headers
# appear in this library's headers, or its users need them too); PRIVATE_DEPS are used only in
# the .cc files (C libraries such as libiptc or libnl stay out of public headers). INTERFACE: a
# facade that only groups other libraries.
function(nld_library name)
  cmake_parse_arguments(ARG "INTERFACE" "ALIAS" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nld_library(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(ARG_INTERFACE)
    if(ARG_SOURCES OR ARG_PRIVATE_DEPS)
      message(FATAL_ERROR "nld_library(${name} INTERFACE): no SOURCES or PRIVATE_DEPS")
    endif()
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
  else()
    if(NOT ARG_SOURCES)
      message(FATAL_ERROR "nld_library(${name}): SOURCES is required")
    endif()
    add_library(${name} STATIC ${ARG_SOURCES})
    target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  endif()
  if(ARG_ALIAS)
    add_library(${ARG_ALIAS} ALIAS ${name})
  endif()
endfunction()
