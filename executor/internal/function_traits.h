// executor/internal/function_traits.h — the result and parameter types of a callable (function,
// function pointer, lambda, functor with one non-template operator()), for typed registration.
#pragma once

#include <tuple>
#include <type_traits>

namespace kiln::executor::internal {

template <typename F>
struct FunctionTraits : FunctionTraits<decltype(&std::decay_t<F>::operator())> {};

template <typename R, typename... A>
struct FunctionTraits<R(A...)> {
  using Result = R;
  using Params = std::tuple<A...>;
};
template <typename R, typename... A>
struct FunctionTraits<R (*)(A...)> : FunctionTraits<R(A...)> {};
template <typename R, typename... A>
struct FunctionTraits<R (&)(A...)> : FunctionTraits<R(A...)> {};
template <typename C, typename R, typename... A>
struct FunctionTraits<R (C::*)(A...)> : FunctionTraits<R(A...)> {};
template <typename C, typename R, typename... A>
struct FunctionTraits<R (C::*)(A...) const> : FunctionTraits<R(A...)> {};
template <typename C, typename R, typename... A>
struct FunctionTraits<R (C::*)(A...) noexcept> : FunctionTraits<R(A...)> {};
template <typename C, typename R, typename... A>
struct FunctionTraits<R (C::*)(A...) const noexcept> : FunctionTraits<R(A...)> {};

}  // namespace kiln::executor::internal
