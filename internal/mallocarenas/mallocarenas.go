// Package mallocarenas caps the number of glibc malloc arenas of the process.
//
// glibc gives each thread that allocates under contention an arena of its own,
// up to eight per core, and memory freed in one arena is not reused by
// another. The app's C libraries allocate on many threads (x264's slice
// threads, FFmpeg, the sound libraries, cgo calls from whichever thread Go
// picks), and every call builds and frees encoders and decoders: the freed
// memory stays spread over the arenas, and the resident size of a QA run of
// many calls creeps up. Two arenas keep it compact (measured in the issue 13
// notes); allocation in those libraries is rare on the media path (they
// allocate when they open, not per frame), so contention does not show.
//
// Importing the package sets the cap before any Go code runs (a C
// constructor). An explicit MALLOC_ARENA_MAX in the environment wins.
package mallocarenas

/*
#include <malloc.h>
#include <stdlib.h>

__attribute__((constructor)) static void kv_cap_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 2);
	}
}
*/
import "C"
