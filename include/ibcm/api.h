/// @file
/// What the shared libraries export: everything a public header (include/ibcm/) declares, and
/// nothing else. The libraries are compiled with hidden visibility; each public header puts its
/// declarations between IBCM_API_BEGIN and IBCM_API_END, so that src/'s internals stay private and
/// the ABI is what the headers show. For a program that includes the headers they change nothing.
#pragma once

/// IBCM_PRIVATE marks a nested class a public class declares but src/ defines (an Impl): nested
/// classes take their enclosing class's visibility, and its members are not part of the API.
#if defined(__GNUC__) || defined(__clang__)
#define IBCM_API_BEGIN _Pragma("GCC visibility push(default)")
#define IBCM_API_END _Pragma("GCC visibility pop")
#define IBCM_PRIVATE __attribute__((visibility("hidden")))
#else
#define IBCM_API_BEGIN
#define IBCM_API_END
#define IBCM_PRIVATE
#endif
