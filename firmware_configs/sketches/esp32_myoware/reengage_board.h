/*
 * reengage board logic: everything a BLE sketch does that is not board I/O (see PROTOCOL.md).
 *
 * Sample scheduling, IMU scaling, packing samples into frames (one frame per BLE notification),
 * the HELLO/STATUS texts and the control commands, in plain C that compiles unchanged on an nRF52840
 * (mbed core), an ESP32 (arduino-esp32) and the host, where tests/firmware/host/board_host.c runs it
 * with fake time and fake sensor reads. The board's calls (analogRead, the IMU library, the BLE
 * notify) come in through rg_board_io_t; its clock comes in as the now_us argument. Copy this file
 * next to a sketch together with reengage_protocol.h (the Arduino IDE only sees the sketch folder);
 * tests/firmware/test_host_boards.py keeps the copies identical.
 *
 * No printf: the texts are built by hand so that nothing here allocates or takes a libc lock (the
 * ESP32 sketch calls into this code with its sampler and BLE tasks serialised by a mutex).
 */
#ifndef REENGAGE_BOARD_H
#define REENGAGE_BOARD_H

#include "reengage_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RG_BOARD_MAX_CH 8
#define RG_IMU_CH 6
#define RG_HELLO_EVERY_US 5000000UL /* PROTOCOL.md §2: HELLO every 5 s while streaming */

/* What a board is: the values its HELLO announces and its TOML (firmware_configs/<board>.toml) holds. */
typedef struct {
  const char *board;         /* TOML [board] name */
  const char *fw;            /* sketch version */
  uint8_t n_ch;              /* EMG channels (layout 0) */
  uint16_t fs_hz;            /* EMG rate */
  uint8_t spf;               /* EMG samples per frame (clamped to what fits a frame) */
  uint16_t imu_hz;           /* IMU rate announced in HELLO (whole Hz); 0: the board has no IMU */
  uint8_t imu_spf;           /* IMU samples per frame */
  float acc_lsb_per_g;       /* 32768 / full-scale g */
  float gyr_lsb_per_dps;     /* 32768 / full-scale deg/s */
  uint8_t adc_bits;
  uint16_t vref_mv;
  uint8_t late_samples;      /* a scheduled sample later than this many periods is skipped (counted) */
  uint16_t overrun_report;   /* send a STATUS once this many samples were dropped */
} rg_board_config_t;

/* The board's calls. ctx is passed back unchanged. read_imu may be NULL (no IMU). emit returns 1 when
 * the frame was taken (notified, or queued), 0 when it was dropped (queue full). */
typedef struct {
  void *ctx;
  void (*read_emg)(void *ctx, int16_t *values);
  uint8_t (*read_imu)(void *ctx, float acc_g[3], float gyr_dps[3]);
  uint8_t (*emit)(void *ctx, const uint8_t *frame, uint16_t len);
} rg_board_io_t;

typedef struct {
  rg_board_config_t cfg;
  rg_board_io_t io;
  rg_block_t emg, imu;
  uint8_t tx[RG_MAX_FRAME];
  rg_cmd_parser_t cmd;
  uint16_t seq;              /* over every frame type (PROTOCOL.md §1) */
  uint32_t emg_index;        /* index of the next EMG sample, taken or not */
  uint32_t imu_index;
  uint32_t next_us;          /* when the next EMG sample is due (micros() schedule) */
  uint32_t period_us;
  uint32_t overrun;          /* samples dropped by the board since the last STATUS */
  uint32_t last_hello_us;
  uint32_t boot_id;
  uint8_t streaming;         /* boards stream from boot (PROTOCOL.md §4) */
  uint8_t connected;         /* a central is connected and subscribed to the data characteristic */
  uint8_t imu_ok;
} rg_board_t;

/* ---- text payloads without printf ---- */
typedef struct {
  char s[RG_MAX_PAYLOAD + 1];
  uint8_t n;
} rg_text_t;

static inline void rg_text_str(rg_text_t *t, const char *s) {
  while (*s && t->n < RG_MAX_PAYLOAD) t->s[t->n++] = *s++;
  t->s[t->n] = '\0';
}

static inline void rg_text_uint(rg_text_t *t, uint32_t v) {
  char d[10];
  uint8_t k = 0;
  do {
    d[k++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  while (k && t->n < RG_MAX_PAYLOAD) t->s[t->n++] = d[--k];
  t->s[t->n] = '\0';
}

static inline void rg_text_kv(rg_text_t *t, const char *key, uint32_t v) {
  if (t->n) rg_text_str(t, ";");
  rg_text_str(t, key);
  rg_text_uint(t, v);
}

/* ---- IMU scaling: physical units from the IMU library -> int16 LSB of the TOML's scale ---- */

/* Rounded to nearest and saturated: a plain (int16_t) cast truncates toward zero (a bias of up to
 * 1 LSB) and is undefined for +4.0 g * 8192 = 32768, a value a +-4 g sensor does report at its rail. */
static inline int16_t rg_scale_i16(float value, float lsb_per_unit) {
  float x = value * lsb_per_unit;
  if (!(x == x)) return 0; /* NaN from a failed read */
  if (x >= 32767.0f) return 32767;
  if (x <= -32768.0f) return -32768;
  return (int16_t)(x >= 0.0f ? (int32_t)(x + 0.5f) : -(int32_t)(-x + 0.5f));
}

/* ---- frames out ---- */

static inline uint8_t rg_board_send_text(rg_board_t *b, uint8_t type, const rg_text_t *t, uint32_t now_us) {
  uint16_t n = rg_frame_encode(b->tx, type, b->seq++, b->emg_index, now_us, 0, 0, (const uint8_t *)t->s, t->n);
  return n ? b->io.emit(b->io.ctx, b->tx, n) : 0;
}

/* A sealed data frame that the board could not hand on (queue full) is a gap of exactly its samples
 * on the host (SAMPLE_INDEX kept counting); the board also reports them as overrun in STATUS. */
static inline void rg_board_flush(rg_board_t *b, rg_block_t *blk) {
  uint8_t n = blk->n;
  uint16_t len;
  if (n == 0) return;
  len = rg_block_seal(blk, b->seq++);
  if (!b->io.emit(b->io.ctx, blk->buf, len)) b->overrun += n;
}

static inline void rg_board_hello(rg_board_t *b, uint32_t now_us) {
  rg_text_t t;
  t.n = 0;
  rg_text_kv(&t, "proto=", RG_PROTOCOL_VERSION);
  rg_text_str(&t, ";board=");
  rg_text_str(&t, b->cfg.board);
  rg_text_str(&t, ";fw=");
  rg_text_str(&t, b->cfg.fw);
  rg_text_kv(&t, "boot=", b->boot_id);
  rg_text_kv(&t, "emg=0,", b->cfg.n_ch);
  rg_text_str(&t, ",");
  rg_text_uint(&t, b->cfg.fs_hz);
  if (b->cfg.imu_hz) {
    rg_text_kv(&t, "imu=1,", RG_IMU_CH);
    rg_text_str(&t, ",");
    rg_text_uint(&t, b->cfg.imu_hz);
  }
  rg_text_kv(&t, "adc=", b->cfg.adc_bits);
  rg_text_kv(&t, "vref_mv=", b->cfg.vref_mv);
  rg_text_kv(&t, "spf=", b->emg.samples_per_frame);
  rg_board_send_text(b, RG_TYPE_HELLO, &t, now_us);
  b->last_hello_us = now_us;
}

/* The overrun count is cleared only when its STATUS went out, so a full queue cannot swallow it. */
static inline void rg_board_status(rg_board_t *b, const char *extra, uint32_t now_us) {
  rg_text_t t;
  t.n = 0;
  rg_text_str(&t, b->streaming ? "state=streaming" : "state=stopped");
  rg_text_kv(&t, "overrun=", b->overrun);
  if (b->cfg.imu_hz && !b->imu_ok) rg_text_str(&t, ";imu=absent");
  if (extra && extra[0]) {
    rg_text_str(&t, ";");
    rg_text_str(&t, extra);
  }
  if (rg_board_send_text(b, RG_TYPE_STATUS, &t, now_us)) b->overrun = 0;
}

/* ---- setup ---- */

static inline void rg_board_init(rg_board_t *b, const rg_board_config_t *cfg, const rg_board_io_t *io,
                                 uint32_t boot_id, uint8_t imu_ok, uint32_t now_us) {
  b->cfg = *cfg;
  b->io = *io;
  if (b->cfg.n_ch > RG_BOARD_MAX_CH) b->cfg.n_ch = RG_BOARD_MAX_CH;
  rg_block_init(&b->emg, RG_TYPE_EMG, 0, b->cfg.n_ch, b->cfg.spf);
  rg_block_init(&b->imu, RG_TYPE_IMU, 1, RG_IMU_CH, b->cfg.imu_spf);
  rg_cmd_init(&b->cmd);
  b->seq = 0;
  b->emg_index = 0;
  b->imu_index = 0;
  b->period_us = 1000000UL / b->cfg.fs_hz;
  b->next_us = now_us;
  b->overrun = 0;
  b->last_hello_us = now_us;
  b->boot_id = boot_id;
  b->streaming = 1;
  b->connected = 0;
  b->imu_ok = (uint8_t)(imu_ok && b->cfg.imu_hz && io->read_imu);
}

/* Partial blocks cannot wait for a link that is gone (their samples would be spliced onto later
 * ones), so they are dropped; the host sees the outage as an exact gap. */
static inline void rg_board_set_connected(rg_board_t *b, uint8_t connected) {
  if (b->connected && !connected) {
    b->emg.n = 0;
    b->imu.n = 0;
  }
  b->connected = connected;
}

/* ---- sampling ---- */

static inline uint8_t rg_board_sending(const rg_board_t *b) { return b->streaming && b->connected; }

/* One EMG sample read at t_us (the ESP32 sampler reads the ADC outside its lock, then calls this). */
static inline void rg_board_push_emg(rg_board_t *b, const int16_t *values, uint32_t t_us) {
  if (rg_board_sending(b) && rg_block_push(&b->emg, values, b->emg_index, t_us)) rg_board_flush(b, &b->emg);
  b->emg_index++;
}

static inline void rg_board_sample(rg_board_t *b, uint32_t t_us) {
  int16_t v[RG_BOARD_MAX_CH];
  b->io.read_emg(b->io.ctx, v);
  rg_board_push_emg(b, v, t_us);
}

/* A sample the board could not take: the block so far is sent (a frame's samples must be contiguous)
 * and the index moves on, so the host sees a gap of exactly the skipped samples. */
static inline void rg_board_skip(rg_board_t *b) {
  if (rg_board_sending(b)) {
    rg_board_flush(b, &b->emg);
    b->overrun++;
  }
  b->emg_index++;
}

static inline void rg_board_poll_imu(rg_board_t *b, uint32_t now_us) {
  float acc[3], gyr[3];
  int16_t v[RG_IMU_CH];
  uint8_t i;
  if (!b->imu_ok || !b->io.read_imu(b->io.ctx, acc, gyr)) return;
  for (i = 0; i < 3; i++) {
    v[i] = rg_scale_i16(acc[i], b->cfg.acc_lsb_per_g);
    v[3 + i] = rg_scale_i16(gyr[i], b->cfg.gyr_lsb_per_dps);
  }
  if (rg_board_sending(b) && rg_block_push(&b->imu, v, b->imu_index, now_us)) rg_board_flush(b, &b->imu);
  b->imu_index++;
}

/* The slow duties of loop(): report drops, and repeat HELLO so a host that missed it learns the layout. */
static inline void rg_board_service(rg_board_t *b, uint32_t now_us) {
  if (b->overrun >= b->cfg.overrun_report && b->connected) rg_board_status(b, "", now_us);
  if (rg_board_sending(b) && now_us - b->last_hello_us >= RG_HELLO_EVERY_US) rg_board_hello(b, now_us);
}

/* The Nano's loop(): analogRead() on the mbed core takes a mutex and cannot run in an ISR, so samples
 * follow a micros() schedule. A sample up to late_samples periods late is taken late (timing jitter,
 * which the host's clock fit absorbs); later than that it is skipped with its index counted. */
static inline void rg_board_tick(rg_board_t *b, uint32_t now_us) {
  uint32_t late_us = (uint32_t)b->cfg.late_samples * b->period_us;
  while ((int32_t)(now_us - b->next_us) >= 0) {
    if (now_us - b->next_us > late_us) rg_board_skip(b);
    else rg_board_sample(b, b->next_us);
    b->next_us += b->period_us;
  }
  rg_board_poll_imu(b, now_us);
  rg_board_service(b, now_us);
}

/* ---- control lines (PROTOCOL.md §4) ---- */

static inline void rg_board_on_command(rg_board_t *b, uint8_t id, uint32_t now_us) {
  if (id == RG_CMD_WHORU) {
    rg_board_hello(b, now_us);
  } else if (id == RG_CMD_START) {
    b->streaming = 1;
    rg_board_hello(b, now_us);
  } else if (id == RG_CMD_STOP) {
    /* The samples taken before STOP go out now; a block kept over would be spliced onto the samples
     * after the next START under the old first index. */
    rg_board_flush(b, &b->emg);
    rg_board_flush(b, &b->imu);
    b->streaming = 0;
    rg_board_status(b, "", now_us);
  } else if (id == RG_CMD_STATUS) {
    rg_board_status(b, "", now_us);
  } else if (id == RG_CMD_UNKNOWN) {
    rg_board_status(b, "error=unknown_command", now_us);
  }
}

/* One BLE write to the control characteristic. Its end also ends a line: PROTOCOL.md sends one line
 * per write, and a phone app (nRF Connect) sends "WHORU" without the newline. */
static inline void rg_board_command(rg_board_t *b, const uint8_t *data, uint16_t len, uint32_t now_us) {
  uint16_t i;
  for (i = 0; i < len; i++) rg_board_on_command(b, rg_cmd_feed(&b->cmd, data[i]), now_us);
  rg_board_on_command(b, rg_cmd_feed(&b->cmd, '\n'), now_us);
}

/* ---- a queue of whole frames between a sampling task and the notifying loop (ESP32) ---- */
#ifndef RG_RING_SLOTS
#define RG_RING_SLOTS 16
#endif

typedef struct {
  uint8_t len;
  uint8_t buf[RG_MAX_FRAME];
} rg_slot_t;

typedef struct {
  rg_slot_t slot[RG_RING_SLOTS];
  uint8_t head;   /* next slot to pop */
  uint8_t count;
  uint32_t full;  /* frames refused because every slot was taken */
} rg_ring_t;

static inline void rg_ring_init(rg_ring_t *r) {
  r->head = 0;
  r->count = 0;
  r->full = 0;
}

/* An rg_board_io_t.emit: a full ring refuses the new frame (the oldest are already stamped and
 * closest to going out); the board then counts the frame's samples as overrun. */
static inline uint8_t rg_ring_push(void *ring, const uint8_t *frame, uint16_t len) {
  rg_ring_t *r = (rg_ring_t *)ring;
  rg_slot_t *s;
  if (r->count >= RG_RING_SLOTS || len > RG_MAX_FRAME) {
    r->full++;
    return 0;
  }
  s = &r->slot[(r->head + r->count) % RG_RING_SLOTS];
  s->len = (uint8_t)len;
  memcpy(s->buf, frame, len);
  r->count++;
  return 1;
}

/* Copies the oldest frame to out (RG_MAX_FRAME bytes); returns its length, 0 if the ring is empty. */
static inline uint16_t rg_ring_pop(rg_ring_t *r, uint8_t *out) {
  uint16_t len;
  if (r->count == 0) return 0;
  len = r->slot[r->head].len;
  memcpy(out, r->slot[r->head].buf, len);
  r->head = (uint8_t)((r->head + 1) % RG_RING_SLOTS);
  r->count--;
  return len;
}

#ifdef __cplusplus
}
#endif

#endif /* REENGAGE_BOARD_H */
