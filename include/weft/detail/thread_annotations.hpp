// weft/detail/thread_annotations.hpp: lock rules the compiler checks. Clang's thread-safety
// analysis (-Wthread-safety) reads these; other compilers see nothing. Internal: not part of
// the API, but harmless in users' builds (weft's headers are clean under the analysis).
//
//   WEFT_CAPABILITY(name)       a lock type
//   WEFT_SCOPED_CAPABILITY      a guard type that holds a lock for its lifetime
//   WEFT_GUARDED_BY(lock)       a member read and written only with `lock` held
//   WEFT_PT_GUARDED_BY(lock)    what a pointer member points to, likewise
//   WEFT_REQUIRES(lock...)      a function called with `lock` held (it stays held)
//   WEFT_EXCLUDES(lock...)      a function called without `lock` (it takes it itself)
//   WEFT_ACQUIRE(lock...)       a function that returns with `lock` held
//   WEFT_RELEASE(lock...)       a function that releases `lock`
//   WEFT_TRY_ACQUIRE(ok, lock)  a function that holds `lock` when it returns `ok`
//   WEFT_RETURN_CAPABILITY(x)   a function returning (a reference to) lock `x`
//   WEFT_NO_THREAD_SAFETY_ANALYSIS  a function whose locking the analysis cannot follow (a lock
//                               released by another context after a switch); say why beside it
#pragma once

#if defined(__clang__)
#define WEFT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define WEFT_THREAD_ANNOTATION(x)
#endif

#define WEFT_CAPABILITY(name) WEFT_THREAD_ANNOTATION(capability(name))
#define WEFT_SCOPED_CAPABILITY WEFT_THREAD_ANNOTATION(scoped_lockable)
#define WEFT_GUARDED_BY(lock) WEFT_THREAD_ANNOTATION(guarded_by(lock))
#define WEFT_PT_GUARDED_BY(lock) WEFT_THREAD_ANNOTATION(pt_guarded_by(lock))
#define WEFT_REQUIRES(...) WEFT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define WEFT_EXCLUDES(...) WEFT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define WEFT_ACQUIRE(...) WEFT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define WEFT_RELEASE(...) WEFT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define WEFT_TRY_ACQUIRE(...) WEFT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define WEFT_RETURN_CAPABILITY(x) WEFT_THREAD_ANNOTATION(lock_returned(x))
#define WEFT_NO_THREAD_SAFETY_ANALYSIS WEFT_THREAD_ANNOTATION(no_thread_safety_analysis)
