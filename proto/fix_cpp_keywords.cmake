# Temporal's package temporal.api.namespace.v1 becomes the C++ namespace `namespace`, a keyword
# that protoc 3.21 does not escape (newer protoc appends '_'). Rewrite the generated C++ the
# same way newer protoc does: temporal::api::namespace_::v1. Only C++ scopes are touched; the
# proto full names inside descriptors ("temporal.api.namespace.v1...") stay as they are.
# Usage: cmake -DFILES="a.pb.h;a.pb.cc" -P fix_cpp_keywords.cmake
foreach(file ${FILES})
  file(READ ${file} text)
  string(REPLACE "::namespace::" "::namespace_::" text "${text}")
  string(REPLACE "namespace namespace {" "namespace namespace_ {" text "${text}")
  string(REPLACE "// namespace namespace\n" "// namespace namespace_\n" text "${text}")
  file(WRITE ${file} "${text}")
endforeach()
