# Debian packages, with CPack's DEB generator (`make package`):
#
#   weft         the `weft` command, the README and the example flows
#   libweft-dev  the public headers, libweft, weftConfig.cmake and weft.pc
#
# The runtime package's Depends are computed by dpkg-shlibdeps from what
# the binary links; the -dev package depends on the -dev packages whose
# libraries a static libweft needs at link time, and whose headers
# (nlohmann-json3-dev) the public headers include.
set(WEFT_PACKAGE_MAINTAINER "weft developers <weft@example.org>" CACHE STRING
    "Maintainer field of the Debian packages (name <address>)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VENDOR "weft")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${WEFT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME weft)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# The first line is the synopsis, the rest the extended description (no
# CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would put it first again).
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "flow engine on the actor model, with one trace per run
weft runs LLM and agent flows, defined in YAML or JSON, as trees of actors,
thousands at once, and records one OpenTelemetry trace per run. The weft
command runs flows, serves them over HTTP (with streaming and an
OpenAI-compatible endpoint) and load-tests them.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libweft-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "nlohmann-json3-dev, libcaf-dev, libcurl4-openssl-dev | libcurl-dev, libyaml-cpp-dev, liblua5.4-dev, libhttp-parser-dev, zlib1g-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "flow engine on the actor model (C++ library, development files)
libweft embeds the weft flow engine in a C++ service: load flows, run
thousands at once, add component types of your own, and get one
OpenTelemetry trace per run. This package has the headers, the static
library, the CMake package (find_package(weft)) and the pkg-config file.")

# CPACK_STRIP_FILES strips the binary; the static library's debug sections
# (300 MB in a RelWithDebInfo build) are stripped here, in the staging tree.
configure_file(${CMAKE_CURRENT_LIST_DIR}/strip_static.cmake.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/strip_static.cmake @ONLY)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_BINARY_DIR}/packaging/strip_static.cmake)

# Debian wants a copyright file and a changelog in each package's doc folder.
string(TIMESTAMP weft_package_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(pkg weft libweft-dev)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/packaging/${pkg})
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/changelog.Debian
       "${pkg} (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
       "  * Packaged from the weft source tree by CPack (make package).\n\n"
       " -- ${WEFT_PACKAGE_MAINTAINER}  ${weft_package_date}\n")
  execute_process(COMMAND gzip -9nf ${dir}/changelog.Debian)
  if(pkg STREQUAL "weft")
    set(component runtime)
  else()
    set(component dev)
  endif()
  install(FILES ${dir}/changelog.Debian.gz ${CMAKE_CURRENT_SOURCE_DIR}/packaging/copyright
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${pkg} COMPONENT ${component})
endforeach()

include(CPack)
