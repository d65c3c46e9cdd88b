/*
 * The sketches' board logic (reengage_board.h) on the host, with fake time and fake sensors.
 *
 * Built by tests/firmware/test_host_boards.py against one sketch folder (-I that folder, so the
 * sketch's own copies of the headers and its board_config.h are what runs). Reads one command per
 * line on stdin, answers each with the notifications the board sent, then a line ".":
 *   n T     Nano loop() at micros() = T: the micros() schedule, the IMU poll, STATUS/HELLO duties
 *   s T     ESP32 sampler task wakes at T: reads the ADC and queues a frame when one is full
 *   l T     ESP32 loop() at T: notifies every queued frame, then its STATUS/HELLO duties (queued too)
 *   c HEX   a write to the control characteristic (bytes in hex)
 *   k 0|1   the central connects and subscribes (1) or goes away (0)
 * A notification is printed as "N T HEX" (T: the fake micros() when it left the board).
 * argv: imu_ok boot_id queue(0: notify at once, the Nano; 1: through the ring, the ESP32).
 *
 * Fake sensors, known patterns the Python test recomputes: EMG channel c of sample index i reads
 * (i * (3 + c) + 100 * c) % 4096 (a 12-bit ADC); the IMU has a new reading every 10016 us (99.84 Hz)
 * and its k-th reading is acc[a] = ((k + a) % 17 - 8) * 0.5 + 0.0001 g (-4..+4 g: both rails, and
 * a fraction that rounding and truncation treat differently), gyr[a] = ((k + 2a) % 23 - 11) * 190 + 0.3
 * deg/s (beyond +-2000: saturation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board_config.h"

#define IMU_PERIOD_US 10016u

static rg_board_t board;
static rg_ring_t ring;
static uint32_t now_us, imu_next_us, imu_k;

static void fake_adc(void *ctx, int16_t *v) {
  uint8_t c;
  (void)ctx;
  for (c = 0; c < board.cfg.n_ch; c++) v[c] = (int16_t)((board.emg_index * (3u + c) + 100u * c) % 4096u);
}

static uint8_t fake_imu(void *ctx, float acc[3], float gyr[3]) {
  int a;
  (void)ctx;
  if ((int32_t)(now_us - imu_next_us) < 0) return 0;
  imu_next_us += IMU_PERIOD_US;
  for (a = 0; a < 3; a++) {
    acc[a] = (float)((int)((imu_k + (uint32_t)a) % 17u) - 8) * 0.5f + 0.0001f;
    gyr[a] = (float)((int)((imu_k + 2u * (uint32_t)a) % 23u) - 11) * 190.0f + 0.3f;
  }
  imu_k++;
  return 1;
}

static void print_frame(const uint8_t *frame, uint16_t len) {
  uint16_t i;
  printf("N %lu ", (unsigned long)now_us);
  for (i = 0; i < len; i++) printf("%02x", frame[i]);
  putchar('\n');
}

static uint8_t notify_now(void *ctx, const uint8_t *frame, uint16_t len) {
  (void)ctx;
  print_frame(frame, len);
  return 1;
}

static void drain(void) {
  uint8_t buf[RG_MAX_FRAME];
  uint16_t len;
  while ((len = rg_ring_pop(&ring, buf)) != 0) print_frame(buf, len);
}

static uint16_t unhex(const char *s, uint8_t *out, uint16_t cap) {
  uint16_t n = 0;
  unsigned int byte;
  while (n < cap && sscanf(s, "%2x", &byte) == 1) {
    out[n++] = (uint8_t)byte;
    s += 2;
  }
  return n;
}

static int run_line(char *line) {
  char op = line[0];
  char *arg = line + (line[0] && line[1] ? 2 : 1);
  uint8_t bytes[64];
  int16_t v[RG_BOARD_MAX_CH];
  if (op == 'c') {
    rg_board_command(&board, bytes, unhex(arg, bytes, sizeof bytes), now_us);
    return 0;
  }
  if (op == 'k') {
    rg_board_set_connected(&board, (uint8_t)atoi(arg));
    return 0;
  }
  now_us = (uint32_t)strtoul(arg, NULL, 10);
  if (op == 'n') {
    rg_board_tick(&board, now_us);
  } else if (op == 's') {
    fake_adc(NULL, v);
    rg_board_push_emg(&board, v, now_us);
  } else if (op == 'l') {
    drain();
    rg_board_service(&board, now_us);
    drain();
  } else {
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  char line[256];
  rg_board_io_t io;
  int queued;
  if (argc != 4) {
    fprintf(stderr, "usage: board_host imu_ok boot_id queue\n");
    return 2;
  }
  queued = atoi(argv[3]);
  rg_ring_init(&ring);
  io.ctx = queued ? (void *)&ring : NULL;
  io.read_emg = fake_adc;
  io.read_imu = fake_imu;
  io.emit = queued ? rg_ring_push : notify_now;
  rg_board_init(&board, &RG_BOARD_CONFIG, &io, (uint32_t)strtoul(argv[2], NULL, 10), (uint8_t)atoi(argv[1]), 0);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0') continue;
    if (run_line(line)) {
      fprintf(stderr, "bad command: %s\n", line);
      return 2;
    }
    puts(".");
    fflush(stdout);
  }
  return 0;
}
