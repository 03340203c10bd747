// Adapted from pion/mediadevices v0.9.4 (pkg/codec/x264/bridge.h, MIT licence,
// Copyright (c) 2019 The Pion community).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "_cgo_export.h"

// kv_x264_log hands x264's messages to Go (kvX264Log). It is only called for
// the messages at or above the encoder's log level: warnings and errors, which
// are rare, and the information of open and close when the log wants debug.
static void kv_x264_log(void *priv, int level, const char *fmt, va_list ap) {
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
		msg[--n] = 0;
	}
	kvX264Log(((kv_x264 *)priv)->log, level, msg);
}

kv_x264 *kv_x264_open(const char *preset, int width, int height, int keyint, int kbps,
                      int log_level, uintptr_t log, int *rc) {
	kv_x264 *e = calloc(1, sizeof *e);
	if (!e) {
		*rc = KV_ERR_OPEN;
		return NULL;
	}
	e->log = log;
	if (x264_param_default_preset(&e->param, preset, "zerolatency") < 0) {
		*rc = KV_ERR_PRESET;
		goto fail;
	}
	// Before anything else may log: x264's default logger writes to stderr.
	e->param.pf_log = kv_x264_log;
	e->param.p_log_private = e;
	e->param.i_log_level = log_level;

	e->param.i_csp = X264_CSP_I420;
	e->param.i_width = width;
	e->param.i_height = height;
	// mediadevices sets no frame rate (i_fps_num 0), so x264 assumes 25 fps
	// for its rate control; kept as it was.
	e->param.i_fps_num = 0;
	e->param.i_fps_den = 1;
	e->param.i_keyint_max = keyint;
	e->param.rc.i_rc_method = X264_RC_ABR;
	e->param.rc.i_bitrate = kbps;
	e->param.rc.i_vbv_max_bitrate = kbps;
	e->param.rc.i_vbv_buffer_size = 2 * kbps;
	// One thread up to 720p. x264 would start one per core (sliced threads)
	// and each costs 2.4 MB at 720p; on this 2-core machine one thread
	// encoded a 720p frame of the test pattern in 1.81-1.94 ms, two in
	// 1.74-1.92 ms. Bigger pictures keep x264's own count.
	if (width * height <= 1280 * 720) {
		e->param.i_threads = 1;
	}
	// For streaming: SPS/PPS before every IDR, start codes.
	e->param.b_repeat_headers = 1;
	e->param.b_annexb = 1;
	if (x264_param_apply_profile(&e->param, "high") < 0) {
		*rc = KV_ERR_PROFILE;
		goto fail;
	}

	x264_picture_init(&e->pic);
	e->pic.img.i_csp = X264_CSP_I420;
	e->pic.img.i_plane = 3;

	e->h = x264_encoder_open(&e->param);
	if (!e->h) {
		*rc = KV_ERR_OPEN;
		goto fail;
	}
	return e;

fail:
	free(e);
	return NULL;
}

int kv_x264_encode(kv_x264 *e, uint8_t *y, uint8_t *cb, uint8_t *cr, int stride_y,
                   int stride_c, int idr, uint8_t **out) {
	x264_nal_t *nal;
	int n_nal;
	x264_picture_t pic_out;
	e->pic.img.plane[0] = y;
	e->pic.img.plane[1] = cb;
	e->pic.img.plane[2] = cr;
	e->pic.img.i_stride[0] = stride_y;
	e->pic.img.i_stride[1] = stride_c;
	e->pic.img.i_stride[2] = stride_c;
	e->pic.i_type = idr ? X264_TYPE_IDR : X264_TYPE_AUTO;
	int size = x264_encoder_encode(e->h, &nal, &n_nal, &e->pic, &pic_out);
	if (size > 0) {
		// x264 writes the NAL units of a picture one after the other.
		*out = nal->p_payload;
	}
	return size;
}

int kv_x264_set_bitrate(kv_x264 *e, int kbps) {
	e->param.rc.i_bitrate = kbps;
	e->param.rc.i_vbv_max_bitrate = kbps;
	e->param.rc.i_vbv_buffer_size = 2 * kbps;
	return x264_encoder_reconfig(e->h, &e->param);
}

void kv_x264_close(kv_x264 *e) {
	x264_encoder_close(e->h);
	free(e);
}
