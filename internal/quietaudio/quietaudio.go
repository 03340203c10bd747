// Package quietaudio keeps the sound libraries' complaints off the terminal.
//
// At start-up the microphone driver (mediadevices, through miniaudio) probes
// every audio back end. Where no sound server runs (a server, CI, a machine
// without a sound card) libasound and libjack print a dozen lines such as
// "ALSA lib confmisc.c:165:(snd_config_get_card) Cannot get card index for 0"
// and "jack server is not running or cannot be started" straight to stderr,
// for every command, --help included. They are not errors of the call: the
// app falls back to the test tone or discards audio and says so in its own
// words.
//
// Importing the package installs, before any Go code runs (a C constructor),
// error handlers in libasound and libjack that keep the last lines in memory
// instead; Held returns them so that they can be logged at debug level. The
// libraries are opened with dlopen, so a machine without them is fine.
package quietaudio

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KV_LINES 32
#define KV_LINE 256

static char kv_held[KV_LINES][KV_LINE];
static int kv_count;
static pthread_mutex_t kv_mu = PTHREAD_MUTEX_INITIALIZER;

static void kv_hold(const char *msg) {
	pthread_mutex_lock(&kv_mu);
	if (kv_count < KV_LINES) {
		snprintf(kv_held[kv_count], KV_LINE, "%s", msg);
		kv_count++;
	}
	pthread_mutex_unlock(&kv_mu);
}

static void kv_alsa(const char *file, int line, const char *function, int err, const char *fmt, ...) {
	char msg[KV_LINE];
	int n = snprintf(msg, sizeof msg, "alsa %s:%d (%s): ", file, line, function);
	if (n < 0 || n >= (int)sizeof msg) {
		n = 0;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - n, fmt, ap);
	va_end(ap);
	kv_hold(msg);
}

static void kv_jack(const char *msg) {
	char line[KV_LINE];
	snprintf(line, sizeof line, "jack: %s", msg);
	kv_hold(line);
}

typedef void (*kv_alsa_handler)(const char *, int, const char *, int, const char *, ...);
typedef int (*kv_set_alsa)(kv_alsa_handler);
typedef void (*kv_set_jack)(void (*)(const char *));

__attribute__((constructor)) static void kv_quiet(void) {
	void *asound = dlopen("libasound.so.2", RTLD_LAZY | RTLD_GLOBAL);
	if (asound) {
		kv_set_alsa set = (kv_set_alsa)dlsym(asound, "snd_lib_error_set_handler");
		if (set) {
			set(kv_alsa);
		}
	}
	void *jack = dlopen("libjack.so.0", RTLD_LAZY | RTLD_GLOBAL);
	if (jack) {
		kv_set_jack onError = (kv_set_jack)dlsym(jack, "jack_set_error_function");
		kv_set_jack onInfo = (kv_set_jack)dlsym(jack, "jack_set_info_function");
		if (onError) {
			onError(kv_jack);
		}
		if (onInfo) {
			onInfo(kv_jack);
		}
	}
}

// kv_copy copies held line i into dst (KV_LINE bytes) and says whether
// there was one.
static int kv_copy(int i, char *dst) {
	int ok = 0;
	pthread_mutex_lock(&kv_mu);
	if (i < kv_count) {
		memcpy(dst, kv_held[i], KV_LINE);
		ok = 1;
	}
	pthread_mutex_unlock(&kv_mu);
	return ok;
}
*/
import "C"

// Held returns what the sound libraries reported so far (at most 32 lines).
func Held() []string {
	var out []string
	var line [C.KV_LINE]C.char
	for i := 0; C.kv_copy(C.int(i), &line[0]) != 0; i++ {
		out = append(out, C.GoString(&line[0]))
	}
	return out
}
