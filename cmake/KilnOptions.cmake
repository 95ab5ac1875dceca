# Compiler settings shared by Kiln's own targets (never applied to generated proto code).

set(KILN_WARNINGS -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Clang checks the lock contracts (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED) on
  # absl::Mutex; scripts/build-clang-tsa builds everything this way. Clang has no -Wshadow=local.
  list(APPEND KILN_WARNINGS -Wthread-safety)
else()
  list(APPEND KILN_WARNINGS -Wshadow=local)
endif()
if(KILN_WERROR)
  list(APPEND KILN_WARNINGS -Werror)
endif()

if(KILN_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # GCC 12 reports false maybe-uninitialized warnings inside libstdc++ (<regex>, std::function)
  # when ASan instruments optimised code; with -Werror they would stop the build.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
elseif(KILN_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT KILN_SANITIZE STREQUAL "")
  message(FATAL_ERROR "KILN_SANITIZE must be '', 'address' or 'thread', not '${KILN_SANITIZE}'")
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
