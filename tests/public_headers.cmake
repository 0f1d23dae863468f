# CTest script (label "api"): every public header compiles alone, against
# include/ only, so that none leans on an internal header or on another
# header's includes; and none of them includes an internal header, or CAF
# (weft/caf.hpp excepted, which exists to bring CAF).
#
#   cmake -DSRC=<source dir> -DCXX=<compiler> -DWORK=<scratch dir> -P tests/public_headers.cmake
file(GLOB headers RELATIVE "${SRC}/include" "${SRC}/include/weft/*.hpp")
file(MAKE_DIRECTORY "${WORK}")
set(failed "")
foreach(h ${headers})
  file(READ "${SRC}/include/${h}" text)
  string(REGEX MATCHALL "#include [<\"][^>\"]+[>\"]" includes "${text}")
  foreach(inc ${includes})
    string(REGEX REPLACE "#include [<\"]([^>\"]+)[>\"]" "\\1" path "${inc}")
    if(path MATCHES "^(actors|cli|components|config|export|flows|net|serve|tracing)/")
      list(APPEND failed "${h} includes the internal header ${path}")
    endif()
    if(path MATCHES "^caf/" AND NOT h STREQUAL "weft/caf.hpp")
      list(APPEND failed "${h} includes CAF (${path}); only weft/caf.hpp may")
    endif()
  endforeach()
  string(MAKE_C_IDENTIFIER "${h}" stem)
  file(WRITE "${WORK}/${stem}.cpp" "#include <${h}>\n#include <${h}>\n")
  execute_process(COMMAND ${CXX} -std=c++20 -Wall -Wextra -Werror -fsyntax-only
                          -I "${SRC}/include" "${WORK}/${stem}.cpp"
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND failed "${h} does not compile alone:\n${err}")
  endif()
endforeach()
list(LENGTH headers n)
if(failed)
  list(JOIN failed "\n" text)
  message(FATAL_ERROR "public headers:\n${text}")
endif()
message(STATUS "${n} public headers compile alone and include no internal header")
