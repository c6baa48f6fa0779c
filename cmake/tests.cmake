# Test registration by file name, so adding a test never means editing CMake:
#   tests/test_<layer>_<what>.c   cmocka program linked with <layer> and its dependencies
#   tests/test_<what>.py          run with Debian's /usr/bin/python3 (sees the oracle packages)
#   tests/test_<what>.sh          run with sh
#   tests/tool_<layer>_<what>.c   helper program for script tests (built, not registered)
# Script tests get CGALR_BIN (the tool), CGALR_TOOLS (dir of tool_* programs), CGALR_SRC,
# CGALR_SHARED (../shared beside the checkout), CGALR_SANITIZED (1 under ASan/UBSan) and a
# private scratch directory CGALR_TMP.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
set(CGALR_TOOLS_DIR ${PROJECT_BINARY_DIR}/tests)
get_filename_component(CGALR_SHARED_DIR ${PROJECT_SOURCE_DIR}/../shared ABSOLUTE)
if(CGALR_SANITIZE)
  set(san 1)
else()
  set(san 0)
endif()

function(cgalr_layer_of name out)
  string(REGEX MATCH "^(test|tool)_([a-z]+)" m ${name})
  set(layer ${CMAKE_MATCH_2})
  if(NOT layer IN_LIST CGALR_LAYERS)
    set(layer train)
  endif()
  set(${out} ${layer} PARENT_SCOPE)
endfunction()

file(GLOB c_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/test_*.c ${PROJECT_SOURCE_DIR}/tests/tool_*.c)
foreach(src ${c_tests})
  get_filename_component(name ${src} NAME_WE)
  cgalr_layer_of(${name} layer)
  add_executable(${name} ${src})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CGALR_TOOLS_DIR})
  cgalr_link_layers(${name} ${layer})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA)
  if(name MATCHES "^test_")
    add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${name} PROPERTIES LABELS ${layer}
      ENVIRONMENT "CGALR_SRC=${PROJECT_SOURCE_DIR};CGALR_SHARED=${CGALR_SHARED_DIR};CGALR_SANITIZED=${san}")
  endif()
endforeach()

file(GLOB script_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/test_*.py ${PROJECT_SOURCE_DIR}/tests/test_*.sh)
foreach(src ${script_tests})
  get_filename_component(name ${src} NAME_WE)
  get_filename_component(ext ${src} EXT)
  if(ext STREQUAL ".py")
    set(runner /usr/bin/python3)
  else()
    set(runner sh)
  endif()
  cgalr_layer_of(${name} layer)
  set(tmp ${PROJECT_BINARY_DIR}/test-tmp/${name})
  add_test(NAME ${name} COMMAND ${runner} ${src} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS ${layer}
    ENVIRONMENT "CGALR_BIN=${PROJECT_BINARY_DIR}/cgalr;CGALR_TOOLS=${CGALR_TOOLS_DIR};CGALR_SRC=${PROJECT_SOURCE_DIR};CGALR_SHARED=${CGALR_SHARED_DIR};CGALR_SANITIZED=${san};CGALR_TMP=${tmp};OMP_WAIT_POLICY=passive")
  if(name MATCHES "_mpi$")
    # two mpirun jobs at once on two cores oversubscribe them fourfold and busy-poll each other
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK mpirun)
  endif()
endforeach()
