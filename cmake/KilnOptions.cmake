# Compiler settings shared by Kiln's own targets (never applied to generated proto code).

set(KILN_WARNINGS -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Clang checks the lock contracts (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED) on
  # absl::Mutex; scripts/build-clang builds everything this way. Clang has no -Wshadow=local.
  list(APPEND KILN_WARNINGS -Wthread-safety)
else()
  list(APPEND KILN_WARNINGS -Wshadow=local)
endif()
if(KILN_WERROR)
  list(APPEND KILN_WARNINGS -Werror)
endif()

# Sanitizer flags go to the C and C++ compilers only: nvcc compiles the CUDA sources with GCC as its
# host compiler, uninstrumented, and the link (by the C++ compiler) brings in the runtime.
set(_kiln_c_cxx "$<COMPILE_LANGUAGE:C,CXX>")
if(KILN_SANITIZE STREQUAL "address")
  add_compile_options("$<${_kiln_c_cxx}:-fsanitize=address,undefined;-fno-omit-frame-pointer>"
                      "$<${_kiln_c_cxx}:-fno-sanitize-recover=undefined>")
  add_link_options("$<HOST_LINK:-fsanitize=address$<COMMA>undefined>")
  # GCC 12 reports false maybe-uninitialized warnings inside libstdc++ (<regex>, std::function)
  # when ASan instruments optimised code; with -Werror they would stop the build.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>")
  endif()
elseif(KILN_SANITIZE STREQUAL "thread")
  add_compile_options("$<${_kiln_c_cxx}:-fsanitize=thread;-fno-omit-frame-pointer>")
  add_link_options("$<HOST_LINK:-fsanitize=thread>")
  # scripts/test-tsan: Abseil's synchronization library rebuilt with TSan (absl::Mutex visible to
  # it), linked whole into every binary, where it takes the place of the uninstrumented shared one.
  set(KILN_TSAN_ABSL_SYNCHRONIZATION "" CACHE FILEPATH "absl_synchronization built with TSan")
  if(KILN_TSAN_ABSL_SYNCHRONIZATION)
    add_link_options("$<HOST_LINK:-Wl$<COMMA>--whole-archive$<COMMA>${KILN_TSAN_ABSL_SYNCHRONIZATION}$<COMMA>--no-whole-archive>")
  endif()
elseif(NOT KILN_SANITIZE STREQUAL "")
  message(FATAL_ERROR "KILN_SANITIZE must be '', 'address' or 'thread', not '${KILN_SANITIZE}'")
endif()
# A Clang sanitizer build without debug information (scripts/build-clang: -O0, nothing else) gets
# line tables, so that reports name files and lines.
if(KILN_SANITIZE AND CMAKE_CXX_COMPILER_ID MATCHES "Clang"
   AND NOT "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${CMAKE_BUILD_TYPE}}" MATCHES "(^| )-g")
  add_compile_options("$<${_kiln_c_cxx}:-gline-tables-only>")
endif()

# KILN_FUZZ: the libFuzzer targets of fuzz/ (clang, with KILN_SANITIZE=address). The libraries they
# exercise get libFuzzer's coverage instrumentation (fuzz/CMakeLists.txt); the ASan runtime that
# every other binary of the build links provides its callbacks.
if(KILN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT KILN_SANITIZE STREQUAL "address")
    message(FATAL_ERROR "KILN_FUZZ=ON needs clang and KILN_SANITIZE=address (scripts/build-clang "
                        "sets both), not ${CMAKE_CXX_COMPILER_ID} and '${KILN_SANITIZE}'")
  endif()
endif()

# kiln_library(<folder> SOURCES ... [PRIVATE_SOURCES ...] DEPS ... [PRIVATE_DEPS ...])
# Declares kiln_<folder> with alias kiln::<folder>; sources are listed, never globbed.
function(kiln_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PRIVATE_SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(kiln_${name} STATIC ${ARG_SOURCES} ${ARG_PRIVATE_SOURCES})
  add_library(kiln::${name} ALIAS kiln_${name})
  target_include_directories(kiln_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_link_libraries(kiln_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(kiln_${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${KILN_WARNINGS}>)
endfunction()

# kiln_warnings(<target>): Kiln's warning set on an executable or test target.
function(kiln_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${KILN_WARNINGS}>)
endfunction()
