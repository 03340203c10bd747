// Package memtune keeps the C heap of a long-running process from growing
// with every call. The codecs (x264, libvpx, FFmpeg, Opus) allocate and free
// large buffers from many threads; glibc gives each thread group its own
// arena and rarely returns freed memory, so a process that makes hundreds of
// calls holds on to hundreds of MB it no longer uses. Importing the package
// caps the arenas at two; Trim hands free memory back to the OS.
package memtune

/*
#include <malloc.h>
static void kv_tune(void) { mallopt(M_ARENA_MAX, 2); }
static void kv_trim(void) { malloc_trim(0); }
*/
import "C"

func init() { C.kv_tune() }

// Trim returns the C heap's free memory to the operating system. Call it when
// a large amount was just freed, e.g. after a call's teardown.
func Trim() { C.kv_trim() }
