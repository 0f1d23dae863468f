// WEFT_API marks what libweft exports. A shared libweft is built with
// every other symbol hidden (-fvisibility=hidden), so that embedders link
// against the public API only, and internal names can change between
// releases without breaking them. In a static libweft the mark changes
// nothing.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif
