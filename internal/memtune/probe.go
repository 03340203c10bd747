package memtune

/*
#include <malloc.h>
#include <stdlib.h>

// kv_block_mapped allocates size bytes aligned to align, and says whether
// glibc mapped the block on its own (its mapped bytes grew) before freeing it.
static int kv_block_mapped(size_t align, size_t size) {
	size_t before = mallinfo2().hblkhd;
	void *p = memalign(align, size);
	if (p == NULL) {
		return -1;
	}
	int mapped = mallinfo2().hblkhd > before;
	free(p);
	return mapped;
}
*/
import "C"

import "errors"

// blockMapped reports whether glibc maps a C block of size bytes aligned to
// align on its own. It is here for the tests: cgo cannot be used in
// _test.go files.
func blockMapped(align, size int) (bool, error) {
	switch C.kv_block_mapped(C.size_t(align), C.size_t(size)) {
	case -1:
		return false, errors.New("memalign failed")
	case 0:
		return false, nil
	default:
		return true, nil
	}
}
