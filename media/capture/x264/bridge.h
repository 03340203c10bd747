// The C side of the encoder. Adapted from pion/mediadevices v0.9.4
// (pkg/codec/x264/bridge.h, MIT licence, Copyright (c) 2019 The Pion
// community): the same x264 set-up, plus log routing and the picture strides.
#ifndef KV_X264_BRIDGE_H
#define KV_X264_BRIDGE_H

#include <stdint.h>
#include <x264.h>

// Errors of kv_x264_open.
#define KV_ERR_PRESET -1
#define KV_ERR_PROFILE -2
#define KV_ERR_OPEN -3

typedef struct kv_x264 {
	x264_t *h;
	x264_param_t param;
	x264_picture_t pic;
	uintptr_t log; // the Go logger's cgo.Handle, for kvX264Log
} kv_x264;

// kv_x264_open opens an encoder; on failure it returns NULL and sets *rc.
// log_level is x264's (X264_LOG_WARNING, or X264_LOG_INFO for a debug log).
kv_x264 *kv_x264_open(const char *preset, int width, int height, int keyint, int kbps,
                      int log_level, uintptr_t log, int *rc);

// kv_x264_encode encodes one I420 picture (an IDR if idr is set) and points
// *out at the Annex-B access unit, valid until the next call. It returns its
// size, or a negative number on error.
int kv_x264_encode(kv_x264 *e, uint8_t *y, uint8_t *cb, uint8_t *cr, int stride_y,
                   int stride_c, int idr, uint8_t **out);

// kv_x264_set_bitrate changes the target bitrate; it returns x264_encoder_reconfig's result.
int kv_x264_set_bitrate(kv_x264 *e, int kbps);

void kv_x264_close(kv_x264 *e);

#endif
