# nld_add_test(NAME SOURCES f.cc... [LIBS lib...] [LABELS unit|netns|e2e|fuzz] [PREFIX p.]
#              [DEFINITIONS D=1...])
# One GoogleTest executable; every TEST becomes its own ctest entry (and process), so a test that
# enters a network namespace takes it, and everything in it, away when it ends — pass or fail.
find_package(GTest REQUIRED)
include(GoogleTest)

function(nld_add_test name)
  cmake_parse_arguments(ARG "" "PREFIX" "SOURCES;LIBS;LABELS;DEFINITIONS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_property(GLOBAL APPEND PROPERTY NLD_TEST_TARGETS ${name})
  if(ARG_DEFINITIONS)
    target_compile_definitions(${name} PRIVATE ${ARG_DEFINITIONS})
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} nld_test_support GTest::gtest GTest::gmock)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${name}
    TEST_PREFIX "${ARG_PREFIX}"
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 120
    # One value per property: gtest_discover_tests splits a ';' list into separate arguments,
    # which dropped NLD_BINARY_DIR (test::binaryPath() then pointed at ./).
    ENVIRONMENT "NLD_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    ENVIRONMENT_MODIFICATION "NLD_BINARY_DIR=set:${PROJECT_BINARY_DIR}"
    DISCOVERY_TIMEOUT 30)
endfunction()
