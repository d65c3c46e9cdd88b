/*
 * uno_measure: run the Uno sketch's ELF on an emulated 16 MHz ATmega328P as fast as the host allows
 * (simulated time, no wall pacing) and measure what the firmware sustains.
 *
 *   uno_measure FIRMWARE.elf [SECONDS [WARMUP_SECONDS]]     -> one JSON object on stdout
 *
 * The "host" is this program: every byte the UART sends is decoded at once (a host that reads promptly),
 * so any loss it sees is the firmware's own: SAMPLE_INDEX gaps and the STATUS frames' overrun= counts.
 * Each ADC conversion is answered from a known pattern and every received value is checked against it.
 * Interrupt time comes from the emulator's per-vector RUNNING notifications (entry to RETI, in cycles);
 * whatever is not interrupt time is loop() (the Arduino loop never sleeps, so it is busy or polling).
 * The SRAM above the static data is painted before boot, so the deepest stack use is read off at the end.
 *
 * Build: gcc -Wall -Wextra -Werror -I/usr/include/simavr uno_measure.c -lsimavr -lsimavrparts -lelf
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avr_adc.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_interrupts.h"
#include "sim_io.h"
#include "sim_irq.h"

#define F_CPU 16000000UL
#define VREF_MV 5000u /* Arduino's analogReference(DEFAULT) is AVCC = 5 V on the Uno */
#define MAX_CH 8
#define TIMER1_COMPA 11
#define PAINT 0xA5
#define NVEC 32

typedef struct {
  uint32_t head, tail, ring_i, ring_len, heap_start; /* SRAM addresses from the ELF's symbol table */
} symbols_t;

typedef struct {
  unsigned long long count, cycles, max, entered_at;
} vec_stats_t;

static avr_t *avr;
static symbols_t sym;
static unsigned long long t_measure; /* cycle at which the measured window starts */
static vec_stats_t vec[NVEC];
static unsigned ring_max_fill;

/* The host side: frame decoder state. */
static uint8_t fr[300];
static unsigned fr_n;
static unsigned long long bytes, frames, crc_errors, hellos, statuses, overrun_reported;
static unsigned long long samples, lost_gap, value_errors, window_samples, window_bytes;
static long long next_index = -1;
static unsigned n_ch, fs_hz, spf;
static unsigned conv_count[MAX_CH]; /* ADC conversions answered, per channel */
static unsigned recv_count[MAX_CH]; /* samples received, per channel */

/* The k-th conversion on channel c reads this 10-bit code: a ramp, different per channel. */
static unsigned pattern(unsigned c, unsigned k) { return (k * 7u + c * 331u) % 1024u; }

static uint16_t crc16(const uint8_t *p, unsigned n) {
  uint16_t crc = 0xFFFF;
  for (unsigned i = 0; i < n; i++) {
    crc ^= (uint16_t)(p[i] << 8);
    for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

static uint32_t le32(const uint8_t *p) { return p[0] | (p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }

static void on_text(unsigned type, const char *text) {
  const char *o;
  if (type == 3) {
    unsigned layout, n, f, s;
    hellos++;
    if ((o = strstr(text, "emg=")) && sscanf(o, "emg=%u,%u,%u", &layout, &n, &f) == 3) { n_ch = n; fs_hz = f; }
    if ((o = strstr(text, "spf=")) && sscanf(o, "spf=%u", &s) == 1) spf = s;
  } else if (type == 2) {
    unsigned v;
    statuses++;
    if ((o = strstr(text, "overrun=")) && sscanf(o, "overrun=%u", &v) == 1) overrun_reported += v;
  }
}

static void on_emg(const uint8_t *f, unsigned len) {
  unsigned nch = f[14] & 15, ns;
  uint32_t idx = le32(f + 6);
  if (!nch || nch > MAX_CH) return;
  ns = len / (2 * nch);
  if (next_index >= 0 && (long long)idx > next_index) lost_gap += (unsigned long long)((long long)idx - next_index);
  next_index = (long long)idx + ns;
  samples += ns;
  if (avr->cycle >= t_measure) window_samples += ns;
  for (unsigned s = 0; s < ns; s++)
    for (unsigned c = 0; c < nch; c++) {
      const uint8_t *p = f + 15 + 2 * (s * nch + c);
      if ((unsigned)(p[0] | (p[1] << 8)) != pattern(c, recv_count[c]++)) value_errors++;
    }
}

static void on_frame(void) {
  unsigned type = fr[2] & 15, len = fr[3];
  char text[256];
  frames++;
  if (crc16(fr + 2, 13 + len) != (uint16_t)(fr[15 + len] | (fr[16 + len] << 8))) {
    crc_errors++;
    return;
  }
  if (type == 0) {
    on_emg(fr, len);
  } else if (type == 2 || type == 3) {
    memcpy(text, fr + 15, len);
    text[len] = '\0';
    on_text(type, text);
  }
}

/* One byte off the UART: resynchronise on A5 5A, then collect the frame its LEN announces. */
static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)param;
  bytes++;
  if (avr->cycle >= t_measure) window_bytes++;
  if (fr_n == 0 && value != 0xA5) return;
  if (fr_n == 1 && value != 0x5A) {
    fr_n = value == 0xA5 ? 1 : 0;
    return;
  }
  fr[fr_n++] = (uint8_t)value;
  if (fr_n >= 4 && fr_n == 17u + fr[3]) {
    on_frame();
    fr_n = 0;
  }
}

/* A conversion starts: put the channel's next pattern code on its pin, in millivolts rounded up so the
 * emulator's floor(mv * 1023 / vref) gives back exactly that code. */
static void adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param) {
  union {
    avr_adc_mux_t mux;
    uint32_t v;
  } e = {.v = value};
  unsigned c = e.mux.src, code;
  (void)irq;
  (void)param;
  if (c >= MAX_CH) return;
  code = pattern(c, conv_count[c]++);
  avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + c), (code * VREF_MV + 1022u) / 1023u);
}

static void vector_running(struct avr_irq_t *irq, uint32_t value, void *param) {
  avr_int_vector_t *v = param;
  vec_stats_t *s;
  (void)irq;
  if (v->vector >= NVEC) return;
  s = &vec[v->vector];
  if (value) {
    s->entered_at = avr->cycle;
    return;
  }
  if (s->entered_at >= t_measure) {
    unsigned long long d = avr->cycle - s->entered_at;
    s->count++;
    s->cycles += d;
    if (d > s->max) s->max = d;
  }
  if (v->vector == TIMER1_COMPA && sym.head && sym.ring_len) {
    unsigned fill = (unsigned)(avr->data[sym.head] - avr->data[sym.tail]) & (sym.ring_len - 1);
    if (fill > ring_max_fill) ring_max_fill = fill;
  }
}

/* Addresses of the sketch's ring indices and the end of static RAM, from the ELF's symbol table. */
static void read_symbols(const char *path) {
  int fd = open(path, O_RDONLY);
  Elf *e;
  Elf_Scn *scn = NULL;
  if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE || !(e = elf_begin(fd, ELF_C_READ, NULL))) return;
  while ((scn = elf_nextscn(e, scn))) {
    GElf_Shdr sh;
    Elf_Data *d;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !(d = elf_getdata(scn, NULL))) continue;
    for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym s;
      const char *name;
      uint32_t addr;
      if (!gelf_getsym(d, (int)i, &s) || !(name = elf_strptr(e, sh.sh_link, s.st_name))) continue;
      addr = (uint32_t)(s.st_value & 0xFFFF); /* data addresses carry avr-gcc's 0x800000 offset */
      /* g++ gives the sketch's file-static variables internal-linkage names (_ZL4head). */
      if (!strcmp(name, "head") || !strcmp(name, "_ZL4head")) sym.head = addr;
      else if (!strcmp(name, "tail") || !strcmp(name, "_ZL4tail")) sym.tail = addr;
      else if (!strcmp(name, "ring_i") || !strcmp(name, "_ZL6ring_i")) {
        sym.ring_i = addr;
        sym.ring_len = (uint32_t)(s.st_size / 4);
      }
      else if (!strcmp(name, "__heap_start")) sym.heap_start = addr;
    }
  }
  elf_end(e);
  close(fd);
}

static void print_json(FILE *out, double seconds, double warmup) {
  double window = (double)(avr->cycle - t_measure) / F_CPU, isr_share = 0, other = 0;
  unsigned lowest = avr->ramend + 1u;
  for (unsigned a = sym.heap_start; sym.heap_start && a <= avr->ramend; a++)
    if (avr->data[a] != PAINT) { lowest = a; break; }
  fprintf(out, "{\"sim_seconds\": %.3f, \"warmup_seconds\": %.3f, \"fs_hz\": %u, \"n_ch\": %u, \"spf\": %u,\n", seconds,
          warmup, fs_hz, n_ch, spf);
  fprintf(out, " \"samples\": %llu, \"window_samples\": %llu, \"expected_window_samples\": %.0f,\n", samples,
          window_samples, window * fs_hz);
  fprintf(out, " \"lost_gap\": %llu, \"overrun_reported\": %llu, \"value_errors\": %llu, \"crc_errors\": %llu,\n",
          lost_gap, overrun_reported, value_errors, crc_errors);
  fprintf(out, " \"frames\": %llu, \"hellos\": %llu, \"statuses\": %llu, \"bytes\": %llu, \"link_bytes_per_s\": %.1f,\n",
          frames, hellos, statuses, bytes, window > 0 ? window_bytes / window : 0.0);
  fprintf(out, " \"ring_len\": %u, \"ring_max_fill\": %u, \"static_ram_end\": %u, \"stack_peak_bytes\": %u,\n",
          sym.ring_len, ring_max_fill, sym.heap_start, avr->ramend + 1u - lowest);
  fprintf(out, " \"free_ram_min_bytes\": %d, \"vectors\": {", sym.heap_start ? (int)lowest - (int)sym.heap_start : -1);
  for (unsigned v = 0, first = 1; v < NVEC; v++) {
    double share;
    if (!vec[v].count) continue;
    share = window > 0 ? (double)vec[v].cycles / (double)(avr->cycle - t_measure) : 0;
    if (v == TIMER1_COMPA) isr_share = share;
    else other += share;
    fprintf(out, "%s\"%u\": {\"count\": %llu, \"mean_cycles\": %.1f, \"max_cycles\": %llu, \"share\": %.5f}",
            first ? "" : ", ", v, vec[v].count, (double)vec[v].cycles / vec[v].count, vec[v].max, share);
    first = 0;
  }
  fprintf(out, "},\n \"timer1_isr_share\": %.5f, \"other_isr_share\": %.5f, \"loop_share\": %.5f,\n", isr_share, other,
          1 - isr_share - other);
  fprintf(out, " \"timer1_mean_us\": %.2f, \"timer1_max_us\": %.2f}\n",
          vec[TIMER1_COMPA].count ? (double)vec[TIMER1_COMPA].cycles / vec[TIMER1_COMPA].count / 16.0 : 0.0,
          vec[TIMER1_COMPA].max / 16.0);
}

int main(int argc, char **argv) {
  elf_firmware_t fw;
  double seconds = argc > 2 ? atof(argv[2]) : 5.0, warmup = argc > 3 ? atof(argv[3]) : 0.5;
  uint32_t flags = 0;
  unsigned long long end;
  static const char *const cmds[] = {"STATUS\n", "WHORU\n", "NOPE\n"};
  unsigned ncmd = 0;
  avr_irq_t *uart_in;
  int json_fd = dup(1), null_fd = open("/dev/null", O_WRONLY);
  FILE *out;
  if (argc < 2 || seconds <= 0 || warmup < 0) {
    fprintf(stderr, "usage: %s FIRMWARE.elf [SECONDS [WARMUP_SECONDS]]\n", argv[0]);
    return 2;
  }
  /* simavr prints its ELF loading and UART setup on stdout; the JSON must be the only thing there. */
  fflush(stdout);
  dup2(null_fd, 1);
  memset(&fw, 0, sizeof fw);
  if (elf_read_firmware(argv[1], &fw) != 0) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  read_symbols(argv[1]);
  avr = avr_make_mcu_by_name("atmega328p");
  if (!avr || avr_init(avr) != 0) {
    fprintf(stderr, "no atmega328p in this simavr\n");
    return 2;
  }
  avr->frequency = F_CPU;
  avr->vcc = avr->avcc = avr->aref = VREF_MV;
  avr_load_firmware(avr, &fw);
  if (sym.heap_start) memset(avr->data + sym.heap_start, PAINT, avr->ramend + 1u - sym.heap_start);
  /* No console echo and no usleep() when the firmware polls the UART: run as fast as possible. */
  avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out, NULL);
  uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), adc_trigger, NULL);
  for (unsigned i = 0; i < avr->interrupts.vector_count; i++) {
    avr_int_vector_t *v = avr->interrupts.vector[i];
    avr_irq_register_notify(v->irq + AVR_INT_IRQ_RUNNING, vector_running, v);
  }
  t_measure = (unsigned long long)(warmup * F_CPU);
  end = (unsigned long long)((warmup + seconds) * F_CPU);
  while (avr->cycle < end) {
    int state = avr_run(avr);
    /* The host's commands, once each in the window, so their code paths (and stack) are exercised. */
    if (ncmd < sizeof cmds / sizeof cmds[0] && avr->cycle >= t_measure + (ncmd + 1) * (end - t_measure) / 4) {
      for (const char *c = cmds[ncmd++]; *c; c++) avr_raise_irq(uart_in, (uint8_t)*c);
    }
    if (state == cpu_Done || state == cpu_Crashed) {
      fprintf(stderr, "the firmware stopped (state %d) at cycle %llu\n", state, (unsigned long long)avr->cycle);
      return 1;
    }
  }
  fflush(stdout);
  dup2(json_fd, 1);
  out = fdopen(json_fd, "w");
  print_json(out ? out : stderr, seconds, warmup);
  return 0;
}
