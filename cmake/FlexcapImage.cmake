# Build-time specialisation: the same micro-library sources, compiled once per image,
# each time knowing which compartment every library runs in.
#
# flexcap_micro_library(NAME SOURCES src... [DEPENDS target...] [ABI hybrid|purecap] [C_FLAGS flag...]
#                       [PREBUILT_C PREFIX... BUILT_BY target])
#   Declares a micro-library: NAME/include is its public API (its Exports); its
#   sources are not compiled here but once for each image that includes it. A library
#   with C sources is `ABI hybrid`: its C is compiled by `flexcap cc`, checked against
#   its compartment's DDC in cheri images, its globals inside its compartment's region;
#   or `ABI purecap`: every pointer of its C a capability with Morello's bounds, on every
#   driver, its globals in its region too, and a pointer it gets from other code derived
#   from the running compartment's DDC.
#   PREBUILT_C: C too large to compile per image (SQLite), compiled once per ABI as
#   PREFIX.plain.o, PREFIX.hybrid.o and PREFIX.count.o (`flexcap cc --library <PREFIX's
#   name>`) by the targets BUILT_BY_plain, BUILT_BY_hybrid and BUILT_BY_count; each
#   image links the one its configuration needs, its globals moved into this library's
#   section (flexcap cc --prebuilt).
#
# flexcap_image(TARGET CONFIG kraft.yaml LIBRARIES lib... [MAIN_LIBRARY lib SOURCES src...]
#               [LINK target...] [LINK_TIME_OPTIMIZATION] [ABI plain|hybrid|count])
#   Builds the executable TARGET: generates flexcap_image.hh from the configuration (in
#   the build tree, never in the sources), then compiles every library with it.
#   SOURCES (the image's main program) are compiled as part of MAIN_LIBRARY.
#   ABI: the ABI its C needs (hybrid where the driver is cheri), when known at configure
#   time; only the prebuilt objects of that ABI are then built (the build checks it
#   against the configuration). `count` links hybrid objects that count their checks.
#   LINK_TIME_OPTIMIZATION (optimised builds, where the compiler supports it): a call
#   between co-located libraries is a plain call, and with this the compiler may inline
#   it across source files too (ported code calling a small function per word needs it).
#
# flexcap_application(NAME LIBRARIES lib... MAIN_LIBRARY lib SOURCES src... [LINK target...]
#                     [LINK_TIME_OPTIMIZATION])
#   Declares an application: what `flexcap build CONFIG` builds for a configuration in
#   examples/NAME/ (or any configuration, with --app NAME). LINK targets must be visible
#   from the top directory (imported targets are made global: see CMakeLists.txt).
include_guard(GLOBAL)

# Link-time optimisation where asked for: optimised builds without sanitizers.
include(CheckIPOSupported)
check_ipo_supported(RESULT flexcap_ipo_supported OUTPUT flexcap_ipo_output LANGUAGES CXX)
if(flexcap_ipo_supported AND CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo)$" AND NOT FLEXCAP_SANITIZE)
  set(flexcap_lto ON)
else()
  set(flexcap_lto OFF)
endif()

function(flexcap_micro_library name)
  cmake_parse_arguments(ARG "" "ABI;BUILT_BY" "SOURCES;DEPENDS;C_FLAGS;PREBUILT_C" ${ARGN})
  list(TRANSFORM ARG_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  # C sources are compiled by `flexcap cc` (clang-14 and the pass), the rest as usual.
  set(c_sources ${ARG_SOURCES})
  list(FILTER c_sources INCLUDE REGEX "\\.c$")
  list(FILTER ARG_SOURCES EXCLUDE REGEX "\\.c$")
  if(c_sources AND NOT ARG_ABI MATCHES "^(hybrid|purecap)$")
    message(FATAL_ERROR "FlexCap: micro-library ${name} has C sources: declare it `ABI hybrid` (its C compiled with "
                        "the hybrid pass) or `ABI purecap` (every pointer a capability)")
  endif()
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_ABI ${ARG_ABI})
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_SOURCES ${ARG_SOURCES})
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_C_SOURCES ${c_sources})
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_C_FLAGS ${ARG_C_FLAGS})
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_PREBUILT_C ${ARG_PREBUILT_C})
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_BUILT_BY ${ARG_BUILT_BY})
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_INCLUDE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  set_property(GLOBAL PROPERTY FLEXCAP_LIBRARY_${name}_DEPENDS ${ARG_DEPENDS})
  set_property(GLOBAL APPEND PROPERTY FLEXCAP_MICRO_LIBRARIES ${name})
endfunction()

function(flexcap_image target)
  cmake_parse_arguments(ARG "LINK_TIME_OPTIMIZATION" "CONFIG;MAIN_LIBRARY;ABI" "LIBRARIES;SOURCES;LINK" ${ARGN})
  get_filename_component(config ${ARG_CONFIG} ABSOLUTE)
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/${target}.generated)
  list(JOIN ARG_LIBRARIES "," library_list)
  # Each compartment's code gathered in one range, its PCC: from this target's objects,
  # which link-time optimization merges (its images keep the whole text as PCC).
  set(code --target ${target})
  if(ARG_LINK_TIME_OPTIMIZATION AND flexcap_lto)
    set(code)
  endif()
  add_custom_command(
    OUTPUT ${generated}/flexcap_image.hh ${generated}/flexcap_image.ld
    COMMAND flexcap-compile image-header ${config} --libraries ${library_list} --out ${generated}/flexcap_image.hh ${code}
    DEPENDS flexcap-compile ${config}
    COMMENT "Generating the ${target} image from ${ARG_CONFIG}"
    VERBATIM)
  add_custom_target(${target}_generated DEPENDS ${generated}/flexcap_image.hh ${generated}/flexcap_image.ld)

  set(includes ${generated})
  foreach(library IN LISTS ARG_LIBRARIES)
    get_property(include GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_INCLUDE)
    list(APPEND includes ${include})
  endforeach()

  add_executable(${target})
  foreach(library IN LISTS ARG_LIBRARIES)
    get_property(sources GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_SOURCES)
    get_property(depends GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_DEPENDS)
    if(library STREQUAL ARG_MAIN_LIBRARY)
      list(APPEND sources ${ARG_SOURCES})
    endif()
    set(objects ${target}__${library})
    if(sources)  # (a library of prebuilt C, such as sqlite3, has none)
      add_library(${objects} OBJECT ${sources})
      target_include_directories(${objects} PRIVATE ${includes})
      target_compile_definitions(${objects} PRIVATE FLEXCAP_CURRENT_LIBRARY="${library}")
      target_link_libraries(${objects} PRIVATE flexcap::rt ${depends} ${ARG_LINK} flexcap_warnings)
      add_dependencies(${objects} ${target}_generated)
      target_sources(${target} PRIVATE $<TARGET_OBJECTS:${objects}>)
    endif()
    get_property(c_sources GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_C_SOURCES)
    get_property(c_flags GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_C_FLAGS)
    get_property(c_include GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_INCLUDE)
    get_property(c_abi GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_ABI)
    # Hybrid: checked against the DDC where the configuration's driver is cheri; elsewhere
    # only its globals are placed in its compartment's region (--abi-of decides, at build
    # time). Purecap: every pointer a capability on every driver, its globals placed too.
    set(abi_option --abi-of ${config})
    if(c_abi STREQUAL "purecap")
      set(abi_option --abi purecap)
    endif()
    foreach(source IN LISTS c_sources)
      get_filename_component(stem ${source} NAME_WE)
      set(object ${CMAKE_CURRENT_BINARY_DIR}/${target}.c/${library}/${stem}.o)
      add_custom_command(
        OUTPUT ${object}
        COMMAND flexcap-compile cc ${abi_option} --library ${library} -O2 -g -fPIE -I${c_include} ${c_flags} -MD -MF
                ${object}.d -c ${source} -o ${object}
        DEPENDS ${source} ${config} flexcap-compile flexcap_hybrid_plugin
        DEPFILE ${object}.d
        COMMENT "Compiling ${library}'s ${stem}.c for ${target}"
        VERBATIM)
      target_sources(${target} PRIVATE ${object})
    endforeach()
    get_property(prebuilt GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_PREBUILT_C)
    get_property(built_by GLOBAL PROPERTY FLEXCAP_LIBRARY_${library}_BUILT_BY)
    if(ARG_ABI STREQUAL "count")
      set(select --abi-of ${config} --expect-abi hybrid --count-checks)
      set(abis count)
    elseif(ARG_ABI)
      set(select --abi-of ${config} --expect-abi ${ARG_ABI})
      set(abis ${ARG_ABI})
    else()
      set(select --abi-of ${config})
      set(abis plain hybrid)
    endif()
    foreach(prefix IN LISTS prebuilt)
      get_filename_component(stem ${prefix} NAME)
      set(object ${CMAKE_CURRENT_BINARY_DIR}/${target}.c/${library}/${stem}.o)
      set(inputs ${abis})
      list(TRANSFORM inputs PREPEND ${prefix}.)
      list(TRANSFORM inputs APPEND .o)
      add_custom_command(
        OUTPUT ${object}
        COMMAND flexcap-compile cc ${select} --library ${library} --prebuilt ${prefix} -o ${object}
        DEPENDS ${inputs} ${config} flexcap-compile
        COMMENT "Linking ${library}'s prebuilt ${stem} into ${target}"
        VERBATIM)
      target_sources(${target} PRIVATE ${object})
    endforeach()
    if(prebuilt AND built_by)
      list(TRANSFORM abis PREPEND ${built_by}_)
      add_dependencies(${target} ${abis})
    endif()
    if(ARG_LINK_TIME_OPTIMIZATION AND flexcap_lto)
      set_property(TARGET ${objects} PROPERTY INTERPROCEDURAL_OPTIMIZATION ON)
    endif()
  endforeach()
  target_link_libraries(${target} PRIVATE flexcap::rt ${ARG_LINK})
  # The compartments' regions, in the executable (see flexcap_image.ld).
  target_link_options(${target} PRIVATE -Wl,-T,${generated}/flexcap_image.ld)
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${generated}/flexcap_image.ld)
  add_dependencies(${target} ${target}_generated)
  if(ARG_LINK_TIME_OPTIMIZATION AND flexcap_lto)
    set_property(TARGET ${target} PROPERTY INTERPROCEDURAL_OPTIMIZATION ON)
  endif()
endfunction()

function(flexcap_application name)
  cmake_parse_arguments(ARG "LINK_TIME_OPTIMIZATION" "MAIN_LIBRARY" "LIBRARIES;SOURCES;LINK" ${ARGN})
  list(TRANSFORM ARG_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  set_property(GLOBAL PROPERTY FLEXCAP_APPLICATION_${name}_LIBRARIES ${ARG_LIBRARIES})
  set_property(GLOBAL PROPERTY FLEXCAP_APPLICATION_${name}_MAIN ${ARG_MAIN_LIBRARY})
  set_property(GLOBAL PROPERTY FLEXCAP_APPLICATION_${name}_SOURCES ${ARG_SOURCES})
  set_property(GLOBAL PROPERTY FLEXCAP_APPLICATION_${name}_LINK ${ARG_LINK})
  set_property(GLOBAL PROPERTY FLEXCAP_APPLICATION_${name}_LTO ${ARG_LINK_TIME_OPTIMIZATION})
  set_property(GLOBAL APPEND PROPERTY FLEXCAP_APPLICATIONS ${name})
endfunction()

# flexcap_user_image(NAME APPLICATION CONFIG [ABI]): an image `flexcap build` asked for,
# the target image.NAME, built as bin/NAME. `flexcap build` lists them in the file named
# by FLEXCAP_USER_IMAGES (one call each) and builds them all in one tree. ABI (what
# the configuration's driver needs: plain or hybrid) spares building the other.
function(flexcap_user_image name application config)
  if(NOT EXISTS ${config})
    return()  # its configuration was removed since: `flexcap build` forgets it next time
  endif()
  get_property(applications GLOBAL PROPERTY FLEXCAP_APPLICATIONS)
  if(NOT application IN_LIST applications)
    list(JOIN applications ", " known)
    message(FATAL_ERROR "FlexCap: unknown application '${application}' for ${config}. The applications are: "
                        "${known}. Put the configuration in examples/<application>/ or pass --app.")
  endif()
  get_property(libraries GLOBAL PROPERTY FLEXCAP_APPLICATION_${application}_LIBRARIES)
  get_property(main GLOBAL PROPERTY FLEXCAP_APPLICATION_${application}_MAIN)
  get_property(sources GLOBAL PROPERTY FLEXCAP_APPLICATION_${application}_SOURCES)
  get_property(link GLOBAL PROPERTY FLEXCAP_APPLICATION_${application}_LINK)
  get_property(lto GLOBAL PROPERTY FLEXCAP_APPLICATION_${application}_LTO)
  set(options)
  if(lto)
    set(options LINK_TIME_OPTIMIZATION)
  endif()
  if(ARGC GREATER 3)
    list(APPEND options ABI ${ARGV3})
  endif()
  flexcap_image(image.${name} CONFIG ${config} LIBRARIES ${libraries} MAIN_LIBRARY ${main} SOURCES ${sources}
                LINK ${link} ${options})
  set_target_properties(image.${name} PROPERTIES OUTPUT_NAME ${name} RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()
