# The two libraries libweft links that ship no CMake package: Lua 5.4 built
# as C++ (liblua5.4-dev) and http-parser (libhttp-parser-dev). Defined as
# imported targets here, for weft's own build and again by an installed
# weftConfig.cmake, so that weft::weft can name them in its link interface.
#
# Not find_package(Lua): it would pick liblua5.4.so, whose errors longjmp
# over C++ frames. liblua5.4-c++ is the same Lua built as C++, so a Lua error
# is an exception and unwinds them properly (components/lua_sandbox.hpp).
if(NOT TARGET weft::lua)
  find_path(WEFT_LUA_INCLUDE_DIR lua.hpp PATH_SUFFIXES lua5.4)
  find_library(WEFT_LUA_LIBRARY NAMES lua5.4-c++)
  find_path(WEFT_HTTP_PARSER_INCLUDE_DIR http_parser.h)
  find_library(WEFT_HTTP_PARSER_LIBRARY http_parser)
  foreach(v WEFT_LUA_INCLUDE_DIR WEFT_LUA_LIBRARY WEFT_HTTP_PARSER_INCLUDE_DIR WEFT_HTTP_PARSER_LIBRARY)
    if(NOT ${v})
      message(FATAL_ERROR "weft needs ${v}: apt-get install -y liblua5.4-dev libhttp-parser-dev")
    endif()
  endforeach()
  add_library(weft::lua UNKNOWN IMPORTED)
  set_target_properties(weft::lua PROPERTIES IMPORTED_LOCATION "${WEFT_LUA_LIBRARY}"
                                             INTERFACE_INCLUDE_DIRECTORIES "${WEFT_LUA_INCLUDE_DIR}")
  add_library(weft::http_parser UNKNOWN IMPORTED)
  set_target_properties(weft::http_parser PROPERTIES IMPORTED_LOCATION "${WEFT_HTTP_PARSER_LIBRARY}"
                                                     INTERFACE_INCLUDE_DIRECTORIES "${WEFT_HTTP_PARSER_INCLUDE_DIR}")
  mark_as_advanced(WEFT_LUA_INCLUDE_DIR WEFT_LUA_LIBRARY WEFT_HTTP_PARSER_INCLUDE_DIR WEFT_HTTP_PARSER_LIBRARY)
endif()
