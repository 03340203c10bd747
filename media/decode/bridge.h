// C side of the FFmpeg / libopus binding used by package decode.
// Every function is defensive: NULL handles and bad sizes return an error code.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <opus.h>

// kv_vdec is one video decoder: codec context, packet, frame and the cached
// YUV->RGBA converter. Width/height of the last received picture are kept
// here so Go reads them without passing Go pointers (which would allocate).
typedef struct kv_vdec {
	const AVCodec *codec;
	AVCodecContext *ctx; // NULL if reopening it failed
	AVPacket *pkt;
	AVFrame *frame;
	AVFrame *tmp;
	struct SwsContext *sws; // converts pictures that are not 4:2:0 to 4:2:0
	int width, height;
	int full, bt709; // range and matrix of the last picture kv_vdec_yuv copied
	int err;
	int max_w, max_h; // the largest picture accepted (each side)
	int big_w, big_h; // size of a rejected picture (KV_TOO_LARGE)
	char errbuf[AV_ERROR_MAX_STRING_SIZE];
} kv_vdec;

// KV_TOO_LARGE is kv_vdec_decode's result for a picture larger than
// max_w x max_h; big_w x big_h is the size the stream declared.
#define KV_TOO_LARGE (-0x4b56544c)

// The decoder kv_vdec_decode is running on this thread, for kv_log.
static __thread kv_vdec *kv_current;

// kv_too_large records the first too large picture of a kv_vdec_decode call.
static void kv_too_large(kv_vdec *d, unsigned w, unsigned h) {
	if (d->big_w) return;
	d->big_w = w > INT32_MAX ? INT32_MAX : (int)w;
	d->big_h = h > INT32_MAX ? INT32_MAX : (int)h;
}

// kv_log replaces FFmpeg's log output (which this package keeps quiet) and
// picks out the messages of libavutil's av_image_check_size2 ("Picture size
// %ux%u exceeds specified max pixel count ..." when AVCodecContext.max_pixels
// refuses a size, "Picture size %ux%u is invalid" past FFmpeg's own limit):
// FFmpeg resets the context's size on that failure, so the message is the
// only place that keeps the size the stream declared. It is recorded in the
// decoder running on this thread, if the message is about that decoder's
// context (the logging context's parent) and the size is above its cap.
static void kv_log(void *avcl, int level, const char *fmt, va_list vl) {
	(void)level;
	kv_vdec *d = kv_current;
	if (!d || !avcl || !fmt || strncmp(fmt, "Picture size %ux%u ", 19) != 0) return;
	const AVClass *cls = *(const AVClass **)avcl;
	if (cls && cls->parent_log_context_offset > 0 &&
	    *(void **)((uint8_t *)avcl + cls->parent_log_context_offset) != d->ctx) return;
	va_list ap;
	va_copy(ap, vl);
	unsigned w = va_arg(ap, unsigned), h = va_arg(ap, unsigned);
	va_end(ap);
	int maxpix = strstr(fmt, "max pixel count") != NULL;
	if (w == 0 || h == 0 || (!maxpix && w <= (unsigned)d->max_w && h <= (unsigned)d->max_h)) return;
	// get_buffer checks the width rounded up for alignment (up to 64) while
	// the context still holds the real size: report that one then.
	int cw = d->ctx->width, ch = d->ctx->height;
	if (cw > 0 && ch > 0 && (unsigned)cw <= w && (unsigned)ch <= h && w - cw < 64 && h - ch < 16) {
		w = cw;
		h = ch;
	}
	kv_too_large(d, w, h);
}

// kv_get_buffer allocates FFmpeg's picture buffers, but none for a picture
// with a side above the cap (max_pixels only limits the pixel count): the
// context holds the picture's (cropped) size by then.
static int kv_get_buffer(AVCodecContext *ctx, AVFrame *f, int flags) {
	kv_vdec *d = ctx->opaque;
	if (d && d->ctx == ctx && (ctx->width > d->max_w || ctx->height > d->max_h)) {
		kv_too_large(d, (unsigned)ctx->width, (unsigned)ctx->height);
		return AVERROR(ERANGE);
	}
	return avcodec_default_get_buffer2(ctx, f, flags);
}

static void kv_quiet(void) {
	av_log_set_level(AV_LOG_QUIET);
	av_log_set_callback(kv_log);
}

// kv_ctx_open makes and opens d's codec context.
static AVCodecContext *kv_ctx_open(kv_vdec *d, const AVCodec *codec) {
	AVCodecContext *ctx = avcodec_alloc_context3(codec);
	if (!ctx) return NULL;
	ctx->thread_count = 1;            // one core per decoder; no frame-threading latency
	ctx->flags |= AV_CODEC_FLAG_LOW_DELAY; // output each picture as soon as it is decoded
	// FFmpeg refuses to set up (allocate) pictures with more pixels than
	// this. Rounded up as FFmpeg rounds what it checks (coded sizes are
	// macroblock multiples, buffer widths 64-byte multiples), so a stream of
	// exactly max_w x max_h passes; the sides are checked by kv_get_buffer.
	ctx->max_pixels = (int64_t)FFALIGN(d->max_w, 64) * FFALIGN(d->max_h, 16);
	ctx->opaque = d;
	ctx->get_buffer2 = kv_get_buffer;
	if (avcodec_open2(ctx, codec, NULL) < 0) avcodec_free_context(&ctx);
	return ctx;
}

// kv_vdec_new opens a decoder for pictures of at most max_w x max_h.
static kv_vdec *kv_vdec_new(int codec_id, int max_w, int max_h) {
	if (max_w <= 0 || max_h <= 0 || max_w > 16384 || max_h > 16384) return NULL;
	const AVCodec *codec = avcodec_find_decoder((enum AVCodecID)codec_id);
	if (!codec) return NULL;
	kv_vdec *d = calloc(1, sizeof(kv_vdec));
	if (!d) return NULL;
	d->codec = codec;
	d->max_w = max_w;
	d->max_h = max_h;
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	d->tmp = av_frame_alloc();
	if (!d->pkt || !d->frame || !d->tmp) goto fail;
	d->ctx = kv_ctx_open(d, codec);
	if (!d->ctx) goto fail;
	return d;
fail:
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	av_frame_free(&d->tmp);
	free(d);
	return NULL;
}

static void kv_vdec_free(kv_vdec *d) {
	if (!d) return;
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	av_frame_free(&d->tmp);
	sws_freeContext(d->sws);
	free(d);
}

static void kv_vdec_flush(kv_vdec *d) {
	if (d && d->ctx) avcodec_flush_buffers(d->ctx);
}

static const char *kv_errstr(kv_vdec *d) {
	av_strerror(d->err, d->errbuf, sizeof d->errbuf);
	return d->errbuf;
}

// kv_vdec_run is kv_vdec_decode's work: send the packet, drain the pictures.
static int kv_vdec_run(kv_vdec *d, const uint8_t *data, int size) {
	// FFmpeg copies non-refcounted packet data into its own padded buffer.
	d->pkt->data = (uint8_t *)data;
	d->pkt->size = size;
	int rc = avcodec_send_packet(d->ctx, d->pkt);
	d->pkt->data = NULL;
	d->pkt->size = 0;
	if (rc < 0 && rc != AVERROR(EAGAIN)) return rc;
	int got = 0;
	for (;;) { // drain: the newest picture wins
		rc = avcodec_receive_frame(d->ctx, d->tmp);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) break;
		if (rc < 0) return rc;
		av_frame_unref(d->frame);
		av_frame_move_ref(d->frame, d->tmp);
		AVFrame *f = d->frame;
		if (f->width > d->max_w || f->height > d->max_h) kv_too_large(d, f->width, f->height);
		if (f->width <= 0 || f->height <= 0 || f->width > d->max_w || f->height > d->max_h || !f->data[0]) {
			av_frame_unref(f);
			d->width = d->height = 0;
			return AVERROR_INVALIDDATA;
		}
		d->width = f->width;
		d->height = f->height;
		got = 1;
	}
	return got;
}

// kv_vdec_decode feeds one access unit and keeps the newest picture in d->frame.
// Returns 1 when a picture is ready, 0 when the decoder needs more data,
// KV_TOO_LARGE when the stream declared or produced a picture larger than
// max_w x max_h (FFmpeg allocated nothing for it beyond that many pixels),
// or another negative AVERROR on failure (also stored in d->err).
static int kv_vdec_decode(kv_vdec *d, const uint8_t *data, int size) {
	if (!d || !data || size <= 0) return AVERROR(EINVAL);
	if (!d->ctx) return d->err = AVERROR(ENOMEM);
	d->big_w = d->big_h = 0;
	kv_current = d;
	int rc = kv_vdec_run(d, data, size);
	kv_current = NULL;
	if (d->big_w > 0) { // even if FFmpeg concealed the refused picture
		av_frame_unref(d->frame);
		d->width = d->height = 0;
		rc = KV_TOO_LARGE;
		// A fresh context: it frees what FFmpeg set up for the refused size,
		// and some decoders (VP9) stay stuck after refusing a size.
		avcodec_free_context(&d->ctx);
		d->ctx = kv_ctx_open(d, d->codec);
	}
	if (rc < 0) d->err = rc == KV_TOO_LARGE ? AVERROR(ERANGE) : rc;
	return rc;
}

// kv_vdec_yuv copies d->frame into three 4:2:0 planes (the caller's buffers,
// sized for the current width/height with the given strides). YUV420P pictures
// are copied as they are; other formats are converted by swscale. d->full and
// d->bt709 receive the picture's range and matrix.
// The buffers must hold ylen and clen bytes (at least stride * rows each):
// the picture in d->frame is checked against them before anything is written.
static int kv_vdec_yuv(kv_vdec *d, uint8_t *y, int ys, size_t ylen, uint8_t *cb, uint8_t *cr, int cs, size_t clen) {
	if (!d || !y || !cb || !cr) return AVERROR(EINVAL);
	AVFrame *f = d->frame;
	if (!f->data[0] || f->width <= 0 || f->height <= 0 || f->width > d->max_w || f->height > d->max_h ||
	    ys < f->width || cs < (f->width + 1) / 2 ||
	    ylen < (size_t)ys * f->height || clen < (size_t)cs * ((f->height + 1) / 2)) {
		d->err = AVERROR(EINVAL);
		return d->err;
	}
	enum AVPixelFormat src = (enum AVPixelFormat)f->format;
	d->full = src == AV_PIX_FMT_YUVJ420P || src == AV_PIX_FMT_YUVJ422P || src == AV_PIX_FMT_YUVJ444P ||
		f->color_range == AVCOL_RANGE_JPEG;
	d->bt709 = f->colorspace == AVCOL_SPC_BT709;
	if (src == AV_PIX_FMT_YUV420P || src == AV_PIX_FMT_YUVJ420P) {
		int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
		for (int r = 0; r < f->height; r++) memcpy(y + (size_t)r * ys, f->data[0] + (size_t)r * f->linesize[0], f->width);
		for (int r = 0; r < ch; r++) {
			memcpy(cb + (size_t)r * cs, f->data[1] + (size_t)r * f->linesize[1], cw);
			memcpy(cr + (size_t)r * cs, f->data[2] + (size_t)r * f->linesize[2], cw);
		}
		return 0;
	}
	switch (src) { // deprecated J formats: plain YUV with full range (kept in d->full)
	case AV_PIX_FMT_YUVJ422P: src = AV_PIX_FMT_YUV422P; break;
	case AV_PIX_FMT_YUVJ444P: src = AV_PIX_FMT_YUV444P; break;
	default: break;
	}
	d->sws = sws_getCachedContext(d->sws, f->width, f->height, src,
		f->width, f->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	if (!d->sws) { d->err = AVERROR(EINVAL); return d->err; }
	// Same range in and out: only the chroma layout changes; d->full says which.
	const int *coef = sws_getCoefficients(d->bt709 ? SWS_CS_ITU709 : SWS_CS_ITU601);
	sws_setColorspaceDetails(d->sws, coef, d->full, coef, d->full, 0, 1 << 16, 1 << 16);
	uint8_t *dstp[4] = {y, cb, cr, NULL};
	int dsts[4] = {ys, cs, cs, 0};
	int h = sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dstp, dsts);
	if (h != f->height) { d->err = AVERROR_UNKNOWN; return d->err; }
	return 0;
}

// kv_scaler converts and scales pictures for display; the swscale contexts
// are cached and set up again only when a parameter changes. A 4:2:0 picture
// that changes size is scaled in two passes, 4:2:0 to 4:2:0 (pre, into tmp)
// and then converted at the same size: swscale's vector code covers both of
// these, while its one-pass scaled conversion to packed RGB is plain C and
// about 2.7 times slower.
typedef struct kv_scaler {
	struct SwsContext *sws, *pre;
	int sf, sw, sh, df, dw, dh, cs, full;
	uint8_t *tmp[4];
	int tmps[4], tw, th;
} kv_scaler;

static kv_scaler *kv_scaler_new(void) { return calloc(1, sizeof(kv_scaler)); }

static void kv_scaler_free(kv_scaler *s) {
	if (!s) return;
	sws_freeContext(s->sws);
	sws_freeContext(s->pre);
	av_freep(&s->tmp[0]);
	free(s);
}

// kv_plane_ok reports whether a plane of len bytes with the given stride
// holds rows rows of rowbytes bytes each (the last row may end the plane).
static int kv_plane_ok(const uint8_t *p, int stride, size_t len, int rowbytes, int rows) {
	return p && rowbytes > 0 && rows > 0 && stride >= rowbytes &&
		(size_t)stride * (size_t)(rows - 1) + (size_t)rowbytes <= len;
}

// kv_scale converts a picture (sf: AV_PIX_FMT_YUV420P with planes p0..p2 or
// AV_PIX_FMT_RGBA with p0) of sw x sh to df (one packed plane, 4 bytes per
// pixel) of dw x dh. bt709/full describe a YUV source. The lengths (l0..l2,
// dstlen) are the bytes each buffer holds from its pointer on: nothing is
// read or written unless the picture fits them, and the destination must
// hold dstride * dh bytes.
static int kv_scale(kv_scaler *s, int sf, int sw, int sh,
		const uint8_t *p0, int s0, size_t l0, const uint8_t *p1, int s1, size_t l1,
		const uint8_t *p2, int s2, size_t l2,
		int bt709, int full, int df, int dw, int dh, uint8_t *dst, int dstride, size_t dstlen) {
	if (!s || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || !p0 || !dst) return AVERROR(EINVAL);
	if (sw > 16384 || sh > 16384 || dw > 16384 || dh > 16384) return AVERROR(EINVAL);
	if ((df != AV_PIX_FMT_RGBA && df != AV_PIX_FMT_BGR0) || dstride < 4 * dw || (size_t)dstride * (size_t)dh > dstlen)
		return AVERROR(EINVAL);
	if (sf == AV_PIX_FMT_YUV420P) {
		int cw = (sw + 1) / 2, ch = (sh + 1) / 2;
		if (!kv_plane_ok(p0, s0, l0, sw, sh) || !kv_plane_ok(p1, s1, l1, cw, ch) || !kv_plane_ok(p2, s2, l2, cw, ch))
			return AVERROR(EINVAL);
	} else if (sf == AV_PIX_FMT_RGBA) {
		if (!kv_plane_ok(p0, s0, l0, 4 * sw, sh) || p1 || p2) return AVERROR(EINVAL);
	} else {
		return AVERROR(EINVAL);
	}
	const uint8_t *src[4] = {p0, p1, p2, NULL};
	int ss[4] = {s0, s1, s2, 0};
	int same = sw == dw && sh == dh;
	int twopass = sf == AV_PIX_FMT_YUV420P && !same;
	if (twopass) {
		if (s->tw != dw || s->th != dh) {
			av_freep(&s->tmp[0]);
			if (av_image_alloc(s->tmp, s->tmps, dw, dh, AV_PIX_FMT_YUV420P, 32) < 0) {
				s->tw = s->th = 0;
				return AVERROR(ENOMEM);
			}
			s->tw = dw; s->th = dh;
		}
		// FAST_BILINEAR: ~15% quicker than BILINEAR, no visible difference at display scales.
		s->pre = sws_getCachedContext(s->pre, sw, sh, AV_PIX_FMT_YUV420P, dw, dh, AV_PIX_FMT_YUV420P,
			SWS_FAST_BILINEAR, NULL, NULL, NULL);
		if (!s->pre) return AVERROR(EINVAL);
		if (sws_scale(s->pre, src, ss, 0, sh, s->tmp, s->tmps) != dh) return AVERROR_UNKNOWN;
		for (int i = 0; i < 4; i++) { src[i] = s->tmp[i]; ss[i] = s->tmps[i]; }
		sw = dw; sh = dh;
	}
	int cs = bt709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
	int changed = !s->sws || s->sf != sf || s->sw != sw || s->sh != sh || s->df != df || s->dw != dw || s->dh != dh;
	s->sws = sws_getCachedContext(s->sws, sw, sh, (enum AVPixelFormat)sf, dw, dh, (enum AVPixelFormat)df,
		sw == dw && sh == dh ? SWS_POINT : SWS_BILINEAR, NULL, NULL, NULL);
	if (!s->sws) return AVERROR(EINVAL);
	if (changed || s->cs != cs || s->full != full) {
		if (sf == AV_PIX_FMT_YUV420P)
			sws_setColorspaceDetails(s->sws, sws_getCoefficients(cs), full,
				sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
		s->sf = sf; s->sw = sw; s->sh = sh; s->df = df; s->dw = dw; s->dh = dh; s->cs = cs; s->full = full;
	}
	uint8_t *d[4] = {dst, NULL, NULL, NULL};
	int ds[4] = {dstride, 0, 0, 0};
	return sws_scale(s->sws, src, ss, 0, sh, d, ds) == dh ? 0 : AVERROR_UNKNOWN;
}

// Opus via libopus.
static OpusDecoder *kv_opus_new(int rate, int channels, int *err) {
	return opus_decoder_create(rate, channels, err);
}

// kv_opus_decode decodes one packet (or conceals a lost one when data is NULL).
static int kv_opus_decode(OpusDecoder *d, const uint8_t *data, int len, int16_t *pcm, int frame_size) {
	if (!d || !pcm || frame_size <= 0) return OPUS_BAD_ARG;
	return opus_decode(d, data, len, pcm, frame_size, 0);
}
