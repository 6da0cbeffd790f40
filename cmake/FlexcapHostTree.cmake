# The images tree of `flexcap build` (build/images) is configured by a flexcap that lives
# in a build tree of the same checkout: FLEXCAP_HOST_TREE names that tree. Whatever does
# not depend on the image is then taken from it as it is, instead of being built again:
# the flexcap tool and the pass plugin (imported), and the large C that is compiled once
# per ABI (SQLite's amalgamation and objects, Redis's objects), copied where the host
# tree has built them. A user's first `flexcap run` then compiles only the image.
#
# FLEXCAP_THIRD_PARTY_TREE does the same for that large C alone, in a tree with a
# flexcap of its own: CI builds the release tree first, and the sanitized tree takes
# SQLite's and Redis's objects from it (they are compiled by flexcap cc, not sanitized,
# so the sanitized tree would only compile them again, some 5 CPU-minutes).
#
# flexcap_from_host_tree(FOUND OUTPUT file...)
#   If the host tree (else the third-party tree) has every OUTPUT (the same path relative
#   to its top), adds the command that copies them here (re-run when that tree rebuilds
#   them) and sets FOUND to TRUE; else sets FOUND to FALSE, and the caller builds them.
include_guard(GLOBAL)

set(FLEXCAP_HOST_TREE "" CACHE PATH "The build tree whose flexcap configured this one (flexcap build's images tree)")
set(FLEXCAP_THIRD_PARTY_TREE "" CACHE PATH
    "A built tree of the same checkout whose SQLite and Redis objects this tree copies (CI's sanitized tree)")

function(flexcap_from_host_tree found)
  cmake_parse_arguments(ARG "" "" "OUTPUT" ${ARGN})
  set(${found} FALSE PARENT_SCOPE)
  set(tree ${FLEXCAP_HOST_TREE})
  if(NOT tree)
    set(tree ${FLEXCAP_THIRD_PARTY_TREE})
  endif()
  if(NOT tree)
    return()
  endif()
  set(inputs)
  set(copies)
  set(names)
  foreach(output IN LISTS ARG_OUTPUT)
    file(RELATIVE_PATH relative ${PROJECT_BINARY_DIR} ${output})
    set(input ${tree}/${relative})
    if(NOT EXISTS ${input})
      return()
    endif()
    list(APPEND inputs ${input})
    list(APPEND copies COMMAND ${CMAKE_COMMAND} -E copy ${input} ${output})
    get_filename_component(name ${output} NAME)
    list(APPEND names ${name})
  endforeach()
  list(JOIN names ", " names)
  add_custom_command(OUTPUT ${ARG_OUTPUT} ${copies} DEPENDS ${inputs} COMMENT "Taking ${names} from ${tree}"
                     VERBATIM)
  set(${found} TRUE PARENT_SCOPE)
endfunction()
