// ftmeta/core/config.hpp: how the non-template core is compiled: inline in every TU (header-only, the
// default) or once, in the ftmeta::core library (FTMETA_SEPARATE_COMPILATION, as Boost.Asio's
// ASIO_SEPARATE_COMPILATION): then the headers only declare the core and src/ftmeta_core.cpp defines it.
// ftmeta:pure
#pragma once

#if defined(FTMETA_SEPARATE_COMPILATION)
#define FTMETA_DECL
#else
/// Marks a core function: `inline` header-only; a plain declaration with FTMETA_SEPARATE_COMPILATION.
#define FTMETA_DECL inline
#endif
