# flexcap_library(NAME SOURCES src... [DEPENDS target...])
#   Declares the micro-library flexcap_NAME (alias flexcap::NAME) from the standard
#   skeleton: NAME/include is its public API, NAME/src its implementation.
# flexcap_test(NAME SOURCES test... [DEPENDS target...] [LABELS label...])
#   A GoogleTest executable whose cases ctest discovers one by one.
include_guard(GLOBAL)
include(GoogleTest)

function(flexcap_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  if(ARG_SOURCES)
    add_library(flexcap_${name} STATIC ${ARG_SOURCES})
    target_include_directories(flexcap_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(flexcap_${name} PUBLIC ${ARG_DEPENDS} PRIVATE flexcap_warnings)
  else()
    add_library(flexcap_${name} INTERFACE)
    target_include_directories(flexcap_${name} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(flexcap_${name} INTERFACE ${ARG_DEPENDS})
  endif()
  add_library(flexcap::${name} ALIAS flexcap_${name})
endfunction()

function(flexcap_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;LABELS" ${ARGN})
  if(NOT FLEXCAP_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPENDS} GTest::gtest_main flexcap_warnings)
  gtest_discover_tests(${name} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} PROPERTIES LABELS "${ARG_LABELS}"
                       DISCOVERY_TIMEOUT 60)
endfunction()
