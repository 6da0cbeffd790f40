# The images tree of `flexcap build` (build/images) is configured by a flexcap that lives
# in a build tree of the same checkout: FLEXCAP_HOST_TREE names that tree. Whatever does
# not depend on the image is then taken from it as it is, instead of being built again:
# the flexcap tool and the pass plugin (imported), and the large C that is compiled once
# per ABI (SQLite's amalgamation and objects, Redis's objects), copied where the host
# tree has built them. A user's first `flexcap run` then compiles only the image.
#
# flexcap_from_host_tree(FOUND OUTPUT file...)
#   If the host tree has every OUTPUT (the same path relative to its top), adds the
#   command that copies them here (re-run when the host rebuilds them) and sets FOUND to
#   TRUE; else sets FOUND to FALSE, and the caller builds them itself.
include_guard(GLOBAL)

set(FLEXCAP_HOST_TREE "" CACHE PATH "The build tree whose flexcap configured this one (flexcap build's images tree)")

function(flexcap_from_host_tree found)
  cmake_parse_arguments(ARG "" "" "OUTPUT" ${ARGN})
  set(${found} FALSE PARENT_SCOPE)
  if(NOT FLEXCAP_HOST_TREE)
    return()
  endif()
  set(inputs)
  set(copies)
  set(names)
  foreach(output IN LISTS ARG_OUTPUT)
    file(RELATIVE_PATH relative ${PROJECT_BINARY_DIR} ${output})
    set(input ${FLEXCAP_HOST_TREE}/${relative})
    if(NOT EXISTS ${input})
      return()
    endif()
    list(APPEND inputs ${input})
    list(APPEND copies COMMAND ${CMAKE_COMMAND} -E copy ${input} ${output})
    get_filename_component(name ${output} NAME)
    list(APPEND names ${name})
  endforeach()
  list(JOIN names ", " names)
  add_custom_command(OUTPUT ${ARG_OUTPUT} ${copies} DEPENDS ${inputs} COMMENT "Taking ${names} from ${FLEXCAP_HOST_TREE}"
                     VERBATIM)
  set(${found} TRUE PARENT_SCOPE)
endfunction()
