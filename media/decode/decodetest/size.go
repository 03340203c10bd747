package decodetest

import (
	"errors"
	"fmt"

	"github.com/kvsviewer/kvsviewer/media/decode"
)

// WithSize returns a copy of keyframe (an encoded keyframe of codec c as
// Clip makes them) whose header declares a w x h picture, the way a hostile
// or broken sender could: the coded picture data is left as it is. H.264
// (the SPS's size and cropping are rewritten), VP8 and VP9 (profile 0 or 1)
// are supported; sides may be 1..16383 for VP8, 1..65536 for VP9 and up to
// 65535 for H.264 (4:2:0, progressive).
func WithSize(c decode.Codec, keyframe []byte, w, h int) ([]byte, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("decodetest: size %dx%d", w, h)
	}
	switch c {
	case decode.H264:
		return h264WithSize(keyframe, w, h)
	case decode.VP8:
		return vp8WithSize(keyframe, w, h)
	case decode.VP9:
		return vp9WithSize(keyframe, w, h)
	}
	return nil, fmt.Errorf("decodetest: cannot rewrite the size of %s frames", c)
}

// vp8WithSize patches the 14-bit sizes of a VP8 key frame header (RFC 6386
// 9.1: the 3-byte start code follows the 3-byte frame tag), keeping the
// 2-bit scale fields.
func vp8WithSize(f []byte, w, h int) ([]byte, error) {
	if !decode.IsKeyframe(decode.VP8, f) {
		return nil, errors.New("decodetest: not a VP8 key frame")
	}
	if w > 0x3fff || h > 0x3fff {
		return nil, fmt.Errorf("decodetest: VP8 cannot declare %dx%d", w, h)
	}
	out := append([]byte(nil), f...)
	put := func(i, v int) {
		old := int(out[i]) | int(out[i+1])<<8
		v |= old &^ 0x3fff
		out[i], out[i+1] = byte(v), byte(v>>8)
	}
	put(6, w)
	put(8, h)
	return out, nil
}

// vp9WithSize rewrites frame_width_minus_1 and frame_height_minus_1 of a VP9
// key frame's uncompressed header (VP9 spec 6.2: frame marker, profile,
// flags, sync code, colour config, then the size).
func vp9WithSize(f []byte, w, h int) ([]byte, error) {
	if !decode.IsKeyframe(decode.VP9, f) || len(f) < 10 {
		return nil, errors.New("decodetest: not a VP9 key frame")
	}
	if w > 1<<16 || h > 1<<16 {
		return nil, fmt.Errorf("decodetest: VP9 cannot declare %dx%d", w, h)
	}
	r := &bitReader{b: f}
	r.u(2) // frame_marker
	profile := r.u(1) | r.u(1)<<1
	if profile > 1 {
		return nil, fmt.Errorf("decodetest: VP9 profile %d", profile)
	}
	r.u(4)  // show_existing_frame, frame_type, show_frame, error_resilient_mode
	r.u(24) // sync code
	if cs := r.u(3); cs != 7 {
		r.u(1) // color_range
		if profile == 1 {
			r.u(3) // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 {
		r.u(1) // reserved_zero
	}
	out := append([]byte(nil), f...)
	pos := r.pos
	for i, v := range []int{w - 1, h - 1} {
		for bit := range 16 {
			p := pos + 16*i + bit
			mask := byte(0x80 >> (p % 8))
			if v>>(15-bit)&1 == 1 {
				out[p/8] |= mask
			} else {
				out[p/8] &^= mask
			}
		}
	}
	return out, nil
}

// h264WithSize rewrites every SPS of an Annex-B access unit to declare w x h
// (macroblock counts plus cropping); the other NAL units are copied.
func h264WithSize(au []byte, w, h int) ([]byte, error) {
	if w > 0xffff || h > 0xffff {
		return nil, fmt.Errorf("decodetest: H.264 size %dx%d", w, h)
	}
	var out []byte
	found := false
	for _, nal := range annexB(au) {
		out = append(out, 0, 0, 0, 1)
		if len(nal) < 2 || nal[0]&0x1f != 7 {
			out = append(out, nal...)
			continue
		}
		sps, err := rewriteSPS(unescape(nal[1:]), w, h)
		if err != nil {
			return nil, err
		}
		out = append(out, nal[0])
		out = append(out, escape(sps)...)
		found = true
	}
	if !found {
		return nil, errors.New("decodetest: no SPS in the access unit")
	}
	return out, nil
}

// rewriteSPS copies an SPS RBSP (H.264 7.3.2.1.1) bit by bit, replacing
// pic_width_in_mbs_minus1, pic_height_in_map_units_minus1 and the frame
// cropping so that the picture is w x h.
func rewriteSPS(rbsp []byte, w, h int) ([]byte, error) {
	mbw, mbh := (w+15)/16, (h+15)/16
	right, bottom := 16*mbw-w, 16*mbh-h
	if right%2 != 0 || bottom%2 != 0 {
		return nil, fmt.Errorf("decodetest: H.264 4:2:0 cannot crop to %dx%d", w, h)
	}
	c := &spsCopier{r: bitReader{b: rbsp}}
	if err := c.copyToSize(); err != nil {
		return nil, err
	}
	c.r.ue() // pic_width_in_mbs_minus1: replaced
	c.r.ue() // pic_height_in_map_units_minus1: replaced
	if c.r.u(1) != 1 {
		return nil, errors.New("decodetest: SPS of an interlaced stream")
	}
	c.w.ue(mbw - 1)
	c.w.ue(mbh - 1)
	c.w.u(1, 1)        // frame_mbs_only_flag
	c.copyU(1)         // direct_8x8_inference_flag
	if c.r.u(1) == 1 { // old frame_cropping_flag and offsets: dropped
		for range 4 {
			c.r.ue()
		}
	}
	if right > 0 || bottom > 0 { // 4:2:0 crop units are 2 pixels
		c.w.u(1, 1)
		for _, v := range []int{0, right / 2, 0, bottom / 2} {
			c.w.ue(v)
		}
	} else {
		c.w.u(1, 0)
	}
	if err := c.copyRest(); err != nil {
		return nil, err
	}
	if c.r.err != nil {
		return nil, c.r.err
	}
	return c.w.b, nil
}

// copyToSize copies the SPS fields before pic_width_in_mbs_minus1.
func (c *spsCopier) copyToSize() error {
	profile := c.copyU(8)
	c.copyU(16) // constraint flags, reserved, level_idc
	c.copyUE()  // seq_parameter_set_id
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		if cf := c.copyUE(); cf != 1 {
			return fmt.Errorf("decodetest: SPS chroma_format_idc %d (want 4:2:0)", cf)
		}
		c.copyUE()           // bit_depth_luma_minus8
		c.copyUE()           // bit_depth_chroma_minus8
		c.copyU(1)           // qpprime_y_zero_transform_bypass_flag
		if c.copyU(1) == 1 { // seq_scaling_matrix_present_flag
			return errors.New("decodetest: SPS with scaling matrices")
		}
	}
	c.copyUE()          // log2_max_frame_num_minus4
	switch c.copyUE() { // pic_order_cnt_type
	case 0:
		c.copyUE() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		c.copyU(1) // delta_pic_order_always_zero_flag
		c.copyUE() // offset_for_non_ref_pic (se: copied as the same bits)
		c.copyUE() // offset_for_top_to_bottom_field
		for n := c.copyUE(); n > 0 && c.r.err == nil; n-- {
			c.copyUE() // offset_for_ref_frame[i]
		}
	}
	c.copyUE() // max_num_ref_frames
	c.copyU(1) // gaps_in_frame_num_value_allowed_flag
	return c.r.err
}

// spsCopier reads an RBSP and writes a copy of what it read.
type spsCopier struct {
	r bitReader
	w bitWriter
}

func (c *spsCopier) copyU(n int) int {
	v := c.r.u(n)
	c.w.u(n, v)
	return v
}

func (c *spsCopier) copyUE() int {
	v := c.r.ue()
	c.w.ue(v)
	return v
}

// copyRest copies the bits up to the RBSP stop bit (the last 1 bit), then
// writes a new stop bit and the zero bits up to the next byte.
func (c *spsCopier) copyRest() error {
	end := len(c.r.b)*8 - 1
	for end >= 0 && c.r.b[end/8]>>(7-end%8)&1 == 0 {
		end--
	}
	if end < c.r.pos {
		return errors.New("decodetest: SPS ends early")
	}
	for c.r.pos < end {
		c.copyU(1)
	}
	c.w.u(1, 1)
	for c.w.n%8 != 0 {
		c.w.u(1, 0)
	}
	return nil
}

// bitReader reads bits MSB first; reading past the end sets err and yields zeros.
type bitReader struct {
	b   []byte
	pos int
	err error
}

func (r *bitReader) u(n int) int {
	v := 0
	for range n {
		bit := 0
		if r.pos < len(r.b)*8 {
			bit = int(r.b[r.pos/8]>>(7-r.pos%8)) & 1
		} else if r.err == nil {
			r.err = errors.New("decodetest: header ends early")
		}
		r.pos++
		v = v<<1 | bit
	}
	return v
}

// ue reads an unsigned exp-Golomb code.
func (r *bitReader) ue() int {
	zeros := 0
	for r.u(1) == 0 {
		if zeros++; zeros > 31 || r.err != nil {
			r.err = errors.New("decodetest: bad exp-Golomb code")
			return 0
		}
	}
	return 1<<zeros - 1 + r.u(zeros)
}

// bitWriter appends bits MSB first.
type bitWriter struct {
	b []byte
	n int // bits written
}

func (w *bitWriter) u(n, v int) {
	for i := n - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 == 1 {
			w.b[w.n/8] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

// ue writes v as an unsigned exp-Golomb code.
func (w *bitWriter) ue(v int) {
	bits := 0
	for x := v + 1; x > 1; x >>= 1 {
		bits++
	}
	w.u(bits, 0)
	w.u(bits+1, v+1)
}

// annexB splits an Annex-B stream at its start codes.
func annexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			continue
		}
		if start >= 0 {
			end := i
			for end > start && b[end-1] == 0 {
				end--
			}
			nals = append(nals, b[start:end])
		}
		start = i + 3
		i += 2
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// unescape removes emulation prevention bytes (00 00 03 -> 00 00).
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, x := range b {
		if zeros >= 2 && x == 3 {
			zeros = 0
			continue
		}
		if x == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, x)
	}
	return out
}

// escape inserts emulation prevention bytes where the RBSP holds 00 00 0x
// with x <= 3.
func escape(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/64)
	zeros := 0
	for _, x := range b {
		if zeros >= 2 && x <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		if x == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, x)
	}
	return out
}
