# CTest script (label "install"): what an embedder does with an installed
# weft. Installs this build into a scratch prefix, builds examples/embed/
# against it twice, once with find_package(weft) and once with pkg-config,
# and runs both: the example checks its own runs' traces and exits non-zero
# on any problem.
#
#   cmake -DBUILD=<build dir> -DSRC=<source dir> -DWORK=<scratch> -DCXX=<compiler> -P tests/install_embed.cmake
include(${CMAKE_CURRENT_LIST_DIR}/cmake_step.cmake)

file(REMOVE_RECURSE "${WORK}")
set(prefix "${WORK}/prefix")
step("cmake --install" ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${prefix}")
foreach(f include/weft/weft.hpp include/weft/caf.hpp lib/cmake/weft/weftConfig.cmake
          lib/cmake/weft/weftConfigVersion.cmake share/doc/weft/README.md
          share/doc/weft/examples/hello.yaml bin/weft)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()

# find_package(weft), as examples/embed/CMakeLists.txt does it.
step("configure examples/embed" ${CMAKE_COMMAND} -S "${SRC}/examples/embed" -B "${WORK}/embed"
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX})
step("build examples/embed" ${CMAKE_COMMAND} --build "${WORK}/embed")
step("run examples/embed (1,000 runs)" "${WORK}/embed/weft_embed_example" 1000 "${WORK}/embed-traces.jsonl")

# pkg-config, the other way in.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs weft RESULT_VARIABLE rc OUTPUT_VARIABLE flags
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs weft failed: ${err}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
step("build with pkg-config" ${CXX} -std=c++20 -O1 "${SRC}/examples/embed/main.cpp" -o "${WORK}/pc_example" ${flags})
step("run the pkg-config build (100 runs)" "${WORK}/pc_example" 100 "${WORK}/pc-traces.jsonl")
