# Validation of weft's cache options. Every failure names the value and lists the choices.

function(weft_check_backend)
  if(NOT WEFT_CONTEXT_BACKEND IN_LIST WEFT_CONTEXT_BACKEND_CHOICES)
    message(FATAL_ERROR "WEFT_CONTEXT_BACKEND='${WEFT_CONTEXT_BACKEND}' is not a known backend; "
                        "choose one of: ${WEFT_CONTEXT_BACKEND_CHOICES}")
  endif()
  if(WEFT_CONTEXT_BACKEND STREQUAL "asm" AND NOT weft_asm_supported)
    message(FATAL_ERROR "WEFT_CONTEXT_BACKEND='asm' supports only x86-64 and AArch64 Linux, not "
                        "${CMAKE_SYSTEM_NAME}/${CMAKE_SYSTEM_PROCESSOR}; choose one of: boost")
  endif()
endfunction()

# WEFT_THREAD_SAFETY: clang's thread-safety analysis (the WEFT_GUARDED_BY... annotations of
# include/weft/detail/thread_annotations.hpp) over everything this project compiles, with every
# warning an error. Other compilers do not have the analysis: configuration stops.
function(weft_thread_safety_flags)
  if(NOT WEFT_THREAD_SAFETY)
    return()
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "WEFT_THREAD_SAFETY=ON needs clang (its -Wthread-safety analysis); "
                        "the compiler is ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wthread-safety> $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endfunction()

# Turns WEFT_SANITIZE ("address,undefined") into compiler flags in <out>, and sets
# weft_sanitize_status for the status line. Unknown names stop configuration.
function(weft_sanitizer_flags out)
  set(known address undefined thread)
  string(REPLACE "," ";" names "${WEFT_SANITIZE}")
  list(TRANSFORM names STRIP)
  list(REMOVE_ITEM names "")
  foreach(name IN LISTS names)
    if(NOT name IN_LIST known)
      message(FATAL_ERROR "WEFT_SANITIZE: '${name}' is not a known sanitizer; choose from: ${known}")
    endif()
  endforeach()
  if("thread" IN_LIST names AND "address" IN_LIST names)
    message(FATAL_ERROR "WEFT_SANITIZE: 'thread' and 'address' cannot be combined")
  endif()
  set(flags "")
  if(names)
    list(JOIN names "," joined)
    set(flags -fsanitize=${joined} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    set(weft_sanitize_status "${joined}" PARENT_SCOPE)
  else()
    set(weft_sanitize_status "none" PARENT_SCOPE)
  endif()
  set(${out} "${flags}" PARENT_SCOPE)
  set(weft_sanitize_names "${names}" PARENT_SCOPE)
endfunction()

# WEFT_CHECKED: empty follows WEFT_SANITIZE (checked when any sanitizer is on); sets weft_checked.
function(weft_checked_default)
  if(WEFT_CHECKED STREQUAL "")
    if(WEFT_SANITIZE STREQUAL "")
      set(checked OFF)
    else()
      set(checked ON)
    endif()
  elseif(WEFT_CHECKED)
    set(checked ON)
  else()
    set(checked OFF)
  endif()
  set(weft_checked ${checked} PARENT_SCOPE)
endfunction()
