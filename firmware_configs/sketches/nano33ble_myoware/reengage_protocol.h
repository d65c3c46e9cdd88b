/*
 * reengage wire protocol v1: framing and CRC shared by every sketch (see PROTOCOL.md).
 *
 * One header, no dependencies beyond <stdint.h>/<string.h>, so the same bytes come out of an
 * ATmega328P, an nRF52840, an ESP32 and the host test (tests/acquisition/test_acq_vectors.py compiles
 * this file with gcc and checks its frames decode identically in Python). Copy it next to a sketch
 * (the Arduino IDE only sees files in the sketch folder); the copies are kept identical by a test.
 *
 * Frame (all integers little-endian, written byte by byte so host endianness never matters):
 *   SYNC A5 5A | VER_TYPE | LEN | SEQ u16 | SAMPLE_INDEX u32 | T_US u32 | LAYOUT | PAYLOAD[LEN] | CRC16
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) over VER_TYPE..PAYLOAD.
 */
#ifndef REENGAGE_PROTOCOL_H
#define REENGAGE_PROTOCOL_H

#include <stdint.h>
#include <string.h>

#define RG_PROTOCOL_VERSION 1
#define RG_SYNC0 0xA5
#define RG_SYNC1 0x5A
#define RG_HEADER_SIZE 15
#define RG_CRC_SIZE 2
#define RG_MAX_PAYLOAD 227 /* whole frame = 244 B = one BLE notification at ATT_MTU 247 */
#define RG_MAX_FRAME (RG_HEADER_SIZE + RG_MAX_PAYLOAD + RG_CRC_SIZE)

#define RG_TYPE_EMG 0
#define RG_TYPE_IMU 1
#define RG_TYPE_STATUS 2
#define RG_TYPE_HELLO 3

#ifdef __cplusplus
extern "C" {
#endif

/* Bitwise CRC: 8 shifts per byte. On a 16 MHz AVR this is ~5 us/byte, i.e. ~0.2 ms for a 42-byte
 * frame every 8 ms, small enough that no 512-byte table has to live in the Uno's 2 KB of RAM. */
static inline uint16_t rg_crc16_update(uint16_t crc, uint8_t byte) {
  uint8_t i;
  crc ^= (uint16_t)byte << 8;
  for (i = 0; i < 8; i++) {
    crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

static inline uint16_t rg_crc16(const uint8_t *data, uint16_t len) {
  uint16_t crc = 0xFFFF;
  uint16_t i;
  for (i = 0; i < len; i++) crc = rg_crc16_update(crc, data[i]);
  return crc;
}

static inline void rg_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)(v >> 8);
}

static inline void rg_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)((v >> 8) & 0xFF);
  p[2] = (uint8_t)((v >> 16) & 0xFF);
  p[3] = (uint8_t)(v >> 24);
}

/* Write the 15-byte header for a payload of `len` bytes that the caller has placed (or will place)
 * at out + RG_HEADER_SIZE, then the CRC. Returns the frame length, or 0 if len or a nibble is out
 * of range (the frame is then not written: a sketch must never emit something the host rejects). */
static inline uint16_t rg_frame_seal(uint8_t *out, uint8_t type, uint16_t seq, uint32_t sample_index,
                                     uint32_t t_us, uint8_t layout_id, uint8_t n_channels, uint8_t len) {
  uint16_t crc;
  if (len > RG_MAX_PAYLOAD || type > 15 || layout_id > 15 || n_channels > 15) return 0;
  out[0] = RG_SYNC0;
  out[1] = RG_SYNC1;
  out[2] = (uint8_t)((RG_PROTOCOL_VERSION << 4) | type);
  out[3] = len;
  rg_put_u16(out + 4, seq);
  rg_put_u32(out + 6, sample_index);
  rg_put_u32(out + 10, t_us);
  out[14] = (uint8_t)((layout_id << 4) | n_channels);
  crc = rg_crc16(out + 2, (uint16_t)(RG_HEADER_SIZE - 2 + len));
  rg_put_u16(out + RG_HEADER_SIZE + len, crc);
  return (uint16_t)(RG_HEADER_SIZE + len + RG_CRC_SIZE);
}

/* Encode a whole frame from a separate payload buffer (HELLO/STATUS text, tests). */
static inline uint16_t rg_frame_encode(uint8_t *out, uint8_t type, uint16_t seq, uint32_t sample_index,
                                       uint32_t t_us, uint8_t layout_id, uint8_t n_channels,
                                       const uint8_t *payload, uint8_t len) {
  if (len > RG_MAX_PAYLOAD) return 0;
  if (len) memmove(out + RG_HEADER_SIZE, payload, len);
  return rg_frame_seal(out, type, seq, sample_index, t_us, layout_id, n_channels, len);
}

/* A block of interleaved int16 samples being filled in place inside a frame buffer, so a sample is
 * written once and the frame needs no copy: push samples, and when rg_block_full() seal it. */
typedef struct {
  uint8_t buf[RG_MAX_FRAME];
  uint8_t type;
  uint8_t layout_id;
  uint8_t n_channels;
  uint8_t samples_per_frame;
  uint8_t n;                 /* samples in the block so far */
  uint32_t first_index;      /* SAMPLE_INDEX of the block's first sample */
  uint32_t first_t_us;       /* board micros() at the block's first sample */
} rg_block_t;

/* samples_per_frame is clamped so that the payload fits RG_MAX_PAYLOAD. */
static inline void rg_block_init(rg_block_t *b, uint8_t type, uint8_t layout_id, uint8_t n_channels,
                                 uint8_t samples_per_frame) {
  uint8_t max_spf = (uint8_t)(n_channels ? RG_MAX_PAYLOAD / (2u * n_channels) : 0);
  b->type = type;
  b->layout_id = layout_id;
  b->n_channels = n_channels;
  b->samples_per_frame = samples_per_frame > max_spf ? max_spf : samples_per_frame;
  b->n = 0;
  b->first_index = 0;
  b->first_t_us = 0;
}

/* Append one sample (n_channels values). Returns 1 when the block is full and must be sealed. */
static inline uint8_t rg_block_push(rg_block_t *b, const int16_t *values, uint32_t sample_index,
                                   uint32_t t_us) {
  uint8_t c;
  uint8_t *p;
  if (b->n == 0) {
    b->first_index = sample_index;
    b->first_t_us = t_us;
  }
  p = b->buf + RG_HEADER_SIZE + (uint16_t)b->n * 2u * b->n_channels;
  for (c = 0; c < b->n_channels; c++) rg_put_u16(p + 2u * c, (uint16_t)values[c]);
  b->n++;
  return b->n >= b->samples_per_frame;
}

static inline uint8_t rg_block_full(const rg_block_t *b) { return b->n >= b->samples_per_frame; }

/* Seal the block into a frame in b->buf; returns its length (0 if empty). Resets the block. */
static inline uint16_t rg_block_seal(rg_block_t *b, uint16_t seq) {
  uint16_t len;
  if (b->n == 0) return 0;
  len = rg_frame_seal(b->buf, b->type, seq, b->first_index, b->first_t_us, b->layout_id, b->n_channels,
                      (uint8_t)(b->n * 2u * b->n_channels));
  b->n = 0;
  return len;
}

/* Control lines from the host are ASCII, one per line ("WHORU", "START", "STOP", "STATUS").
 * Feed received bytes one at a time; returns the command id once a full line is seen. Unknown or
 * over-long lines return RG_CMD_UNKNOWN so the board can answer with a STATUS "error=..." frame. */
#define RG_CMD_NONE 0
#define RG_CMD_WHORU 1
#define RG_CMD_START 2
#define RG_CMD_STOP 3
#define RG_CMD_STATUS 4
#define RG_CMD_UNKNOWN 255

typedef struct {
  char line[16];
  uint8_t n;
  uint8_t overflow;
} rg_cmd_parser_t;

static inline void rg_cmd_init(rg_cmd_parser_t *p) {
  p->n = 0;
  p->overflow = 0;
}

static inline uint8_t rg_cmd_feed(rg_cmd_parser_t *p, uint8_t ch) {
  uint8_t id = RG_CMD_UNKNOWN;
  if (ch != '\n' && ch != '\r') {
    if (p->n < sizeof(p->line) - 1) p->line[p->n++] = (char)ch;
    else p->overflow = 1;
    return RG_CMD_NONE;
  }
  if (p->n == 0 && !p->overflow) return RG_CMD_NONE; /* empty line, or the \n of a \r\n */
  p->line[p->n] = '\0';
  if (!p->overflow) {
    if (strcmp(p->line, "WHORU") == 0) id = RG_CMD_WHORU;
    else if (strcmp(p->line, "START") == 0) id = RG_CMD_START;
    else if (strcmp(p->line, "STOP") == 0) id = RG_CMD_STOP;
    else if (strcmp(p->line, "STATUS") == 0) id = RG_CMD_STATUS;
  }
  p->n = 0;
  p->overflow = 0;
  return id;
}

#ifdef __cplusplus
}
#endif

#endif /* REENGAGE_PROTOCOL_H */
