# CTest script (label "install"): the Debian packages `make package` builds.
# Builds them with CPack, checks them with lintian (no error allowed) and
# their Depends, installs them, then builds examples/embed against the
# installed -dev package with find_package(weft) and runs it.
#
# Installing: with CI=true and as root (a clean CI machine) the packages go
# in with `dpkg -i`, as a user would install them; elsewhere they are
# unpacked with `dpkg -x` into the scratch folder, so that running the
# tests never changes the machine.
#
#   cmake -DBUILD=<build dir> -DSRC=<source dir> -DWORK=<scratch> -DCXX=<compiler> -P tests/deb_packages.cmake
include(${CMAKE_CURRENT_LIST_DIR}/cmake_step.cmake)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
step("cpack -G DEB" ${CMAKE_COMMAND} -E chdir "${BUILD}" cpack -G DEB -B "${WORK}/packages")
file(GLOB runtime_deb "${WORK}/packages/weft_*.deb")
file(GLOB dev_deb "${WORK}/packages/libweft-dev_*.deb")
if(NOT runtime_deb OR NOT dev_deb)
  message(FATAL_ERROR "cpack made no weft_*.deb or libweft-dev_*.deb in ${WORK}/packages")
endif()

# Depends: the runtime package's come from dpkg-shlibdeps, so they name the
# shared libraries the binary really links.
execute_process(COMMAND dpkg-deb -f "${runtime_deb}" Depends OUTPUT_VARIABLE depends)
foreach(lib libcaf-core libcurl4 libyaml-cpp liblua5.4 libstdc++6)
  string(FIND "${depends}" "${lib}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the weft package does not depend on ${lib}: Depends: ${depends}")
  endif()
endforeach()
message(STATUS "weft Depends: ${depends}")

find_program(LINTIAN lintian)
if(LINTIAN)
  execute_process(COMMAND ${LINTIAN} --allow-root "${runtime_deb}" "${dev_deb}"
                  OUTPUT_VARIABLE lint ERROR_VARIABLE lint_err)
  message(STATUS "lintian:\n${lint}")
  if(lint MATCHES "(^|\n)E: ")
    message(FATAL_ERROR "lintian reports errors:\n${lint}")
  endif()
elseif(DEFINED ENV{CI})
  message(FATAL_ERROR "lintian is not installed (make test installs it)")
else()
  message(STATUS "lintian not installed here: the packages were not linted")
endif()

execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if("$ENV{CI}" STREQUAL "true" AND uid STREQUAL "0")
  step("dpkg -i" dpkg -i "${runtime_deb}" "${dev_deb}")
  set(root "")
  set(prefix_args "")
  set(weft_bin /usr/bin/weft)
else()
  set(root "${WORK}/root")
  step("dpkg -x weft" dpkg -x "${runtime_deb}" "${root}")
  step("dpkg -x libweft-dev" dpkg -x "${dev_deb}" "${root}")
  set(prefix_args -DCMAKE_PREFIX_PATH=${root}/usr)
  set(weft_bin "${root}/usr/bin/weft")
endif()

step("weft --version from the package" "${weft_bin}" --version)
step("weft run, the packaged hello.yaml" "${weft_bin}" run "${root}/usr/share/doc/weft/examples/hello.yaml"
     -i name=package --trace-file "${WORK}/hello-traces.jsonl")
step("configure examples/embed" ${CMAKE_COMMAND} -S "${SRC}/examples/embed" -B "${WORK}/embed"
     ${prefix_args} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX})
step("build examples/embed" ${CMAKE_COMMAND} --build "${WORK}/embed")
step("run examples/embed (1,000 runs)" "${WORK}/embed/weft_embed_example" 1000 "${WORK}/embed-traces.jsonl")
