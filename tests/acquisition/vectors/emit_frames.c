/* Host test driver for firmware_configs/reengage_protocol.h (tests/acquisition/test_acq_vectors.py).
 *
 *   emit_frames vectors < frames.txt   one hex frame per vector line: name type seq index t_us layout nch payload_hex
 *   emit_frames stream N NCH SPF       binary stream: HELLO, then N samples of NCH channels in frames of SPF
 *                                      samples built with rg_block_*, an IMU frame every 10th EMG sample
 *   emit_frames crc < data             CRC-16 of stdin as 4 hex digits
 *   emit_frames cmd < lines            the command id for each complete control line fed byte by byte
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reengage_protocol.h"

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int vectors(void) {
  char line[2048], name[64], hex[1024];
  while (fgets(line, sizeof line, stdin)) {
    unsigned type, seq, layout, nch;
    unsigned long idx, t_us;
    uint8_t payload[512], out[RG_MAX_FRAME + 8];
    int len = 0, i;
    uint16_t n;
    if (line[0] == '#' || line[0] == '\n') continue;
    hex[0] = '\0';
    if (sscanf(line, "%63s %u %u %lu %lu %u %u %1023s", name, &type, &seq, &idx, &t_us, &layout, &nch, hex) < 7) {
      fprintf(stderr, "bad vector line: %s", line);
      return 1;
    }
    if (strcmp(hex, "-") != 0) {
      for (i = 0; hex[i] && hex[i + 1]; i += 2) payload[len++] = (uint8_t)(hexval(hex[i]) << 4 | hexval(hex[i + 1]));
    }
    n = rg_frame_encode(out, (uint8_t)type, (uint16_t)seq, (uint32_t)idx, (uint32_t)t_us, (uint8_t)layout,
                        (uint8_t)nch, payload, (uint8_t)(len > 255 ? 255 : len));
    printf("%s ", name);
    if (n == 0) printf("REJECTED");
    for (i = 0; i < n; i++) printf("%02x", out[i]);
    printf("\n");
  }
  return 0;
}

static int stream(long n_samples, int nch, int spf) {
  static rg_block_t emg, imu;
  static uint8_t hello[RG_MAX_FRAME];
  uint16_t seq = 0, len;
  long i;
  int c;
  uint32_t imu_index = 0;
  const char *text = "proto=1;board=host_test;fw=0.0.1;boot=1;emg=0,4,1000;imu=1,6,100;adc=12;vref_mv=3300";
  int16_t v[16];
  rg_block_init(&emg, RG_TYPE_EMG, 0, (uint8_t)nch, (uint8_t)spf);
  rg_block_init(&imu, RG_TYPE_IMU, 1, 6, 4);
  len = rg_frame_encode(hello, RG_TYPE_HELLO, seq++, 0, 0, 0, 0, (const uint8_t *)text, (uint8_t)strlen(text));
  fwrite(hello, 1, len, stdout);
  for (i = 0; i < n_samples; i++) {
    uint32_t t_us = (uint32_t)(4294000000UL + (unsigned long)i * 1000UL); /* wraps mid-stream on purpose */
    for (c = 0; c < nch; c++) v[c] = (int16_t)((i * 37 + c * 1000) % 65536 - 32768);
    if (rg_block_push(&emg, v, (uint32_t)i, t_us)) {
      len = rg_block_seal(&emg, seq++);
      fwrite(emg.buf, 1, len, stdout);
    }
    if (i % 10 == 0) {
      for (c = 0; c < 6; c++) v[c] = (int16_t)(imu_index * 3 + c - 100);
      if (rg_block_push(&imu, v, imu_index, t_us)) {
        len = rg_block_seal(&imu, seq++);
        fwrite(imu.buf, 1, len, stdout);
      }
      imu_index++;
    }
  }
  len = rg_block_seal(&emg, seq++); /* the partial last block */
  if (len) fwrite(emg.buf, 1, len, stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "vectors") == 0) return vectors();
  if (argc >= 5 && strcmp(argv[1], "stream") == 0) return stream(atol(argv[2]), atoi(argv[3]), atoi(argv[4]));
  if (argc >= 2 && strcmp(argv[1], "crc") == 0) {
    uint16_t crc = 0xFFFF;
    int ch;
    while ((ch = getchar()) != EOF) crc = rg_crc16_update(crc, (uint8_t)ch);
    printf("%04x\n", crc);
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "cmd") == 0) {
    rg_cmd_parser_t p;
    int ch;
    rg_cmd_init(&p);
    while ((ch = getchar()) != EOF) {
      uint8_t id = rg_cmd_feed(&p, (uint8_t)ch);
      if (id != RG_CMD_NONE) printf("%u\n", id);
    }
    return 0;
  }
  fprintf(stderr, "usage: emit_frames vectors|stream N NCH SPF|crc|cmd\n");
  return 2;
}
