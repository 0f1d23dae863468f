# CTest script (label "api", shared builds only): a shared libweft exports
# the public API (what include/weft/ marks WEFT_API) and no internal name:
# nothing of weft's internal namespaces, and no CAF symbol it defines.
#
#   cmake -DLIB=<path to libweft.so> -P tests/shared_symbols.cmake
find_program(NM nm REQUIRED)
execute_process(COMMAND ${NM} -D --defined-only -C "${LIB}" OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D ${LIB} failed")
endif()
string(REPLACE "\n" ";" lines "${syms}")
set(internal "")
set(public 0)
foreach(line ${lines})
  if(line MATCHES "weft::(flows|actors|exporting|net|tracing|serve|config|components|cli|test)::"
     OR line MATCHES " [TDBRW] caf::")
    list(APPEND internal "${line}")
  elseif(line MATCHES " T weft::engine::run\\(")
    math(EXPR public "${public} + 1")
  endif()
endforeach()
list(LENGTH internal n)
if(n GREATER 0)
  list(SUBLIST internal 0 20 shown)
  list(JOIN shown "\n" text)
  message(FATAL_ERROR "${LIB} exports ${n} internal symbols, e.g.:\n${text}")
endif()
if(public EQUAL 0)
  message(FATAL_ERROR "${LIB} does not export weft::engine::run: the public API is hidden too")
endif()
message(STATUS "${LIB}: exports the public API and no internal symbol")
