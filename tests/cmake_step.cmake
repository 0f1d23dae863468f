# step(WHAT COMMAND...): runs a command for a CTest script, and fails the
# script with its output when it fails. Shared by install_embed.cmake and
# deb_packages.cmake.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok\n${out}")
endfunction()
