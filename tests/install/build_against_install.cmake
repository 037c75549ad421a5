# `cmake -P` script (ctest install.find_package): installs this build into a temporary
# prefix with `cmake --install`, then builds examples/test-fixture on its own against it
# (find_package(dropsim CONFIG), target dropsim::dropsim) and runs its GoogleTest fixture,
# as a project embedding dropsim would. Arguments: BUILD_DIR, SOURCE_DIR, WORK_DIR,
# and optionally CXX and LAUNCHER (the compiler and launcher of this build).
foreach(arg BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${arg})
    message(FATAL_ERROR "build_against_install.cmake: -D${arg}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix}
                OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
foreach(want include/dropsim/runtime.h lib/cmake/dropsim/dropsimConfig.cmake
             lib/cmake/dropsim/dropsimConfigVersion.cmake lib/cmake/dropsim/dropsimTargets.cmake)
  if(NOT EXISTS ${prefix}/${want})
    message(FATAL_ERROR "cmake --install did not write ${want}")
  endif()
endforeach()

set(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/test-fixture -B ${WORK_DIR}/fixture
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if(CXX)
  list(APPEND configure -DCMAKE_CXX_COMPILER=${CXX})
endif()
if(LAUNCHER)
  list(APPEND configure -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
execute_process(COMMAND ${configure} OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/fixture COMMAND_ERROR_IS_FATAL ANY)
# The fixture's own tests, against the installed library.
execute_process(COMMAND ${WORK_DIR}/fixture/example_test_fixture --gtest_brief=1 COMMAND_ERROR_IS_FATAL ANY)
file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "installed package: examples/test-fixture built and passed against find_package(dropsim)")
