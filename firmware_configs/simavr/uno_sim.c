/*
 * uno_sim: the reengage Uno sketch's ELF on simavr's ATmega328P, behind a pseudo-terminal, for the tests.
 *
 *   uno_sim ELF --link PATH [--adc FILE | --pattern counter] [--pace X] [--duration S]
 *           [--stall AT:DUR]... [--reset AT]... [--unplug AT:DUR]... [--fault-clock start|host]
 *           [--no-dtr-reset]
 *
 * The MCU runs at 16 MHz with AVCC = AREF = 5 V. Times are simulated seconds; --pace X keeps simulated time at
 * X times wall time (1 = real time; on a starved host it falls behind rather than catching up in a burst),
 * 0 (default) runs as fast as the host allows (about 6x real time here). SIGTERM/SIGINT end the run.
 *
 * ADC: each conversion the firmware starts is answered with the next value of its channel: column c of FILE
 * (one line per sample, millivolts of A0 A1 ... separated by blanks, wrapping at its end), or the counter
 * pattern (conversion k of channel c reads code (k * (7 + 5c)) % 1024, given as the smallest millivolts simavr
 * converts to that code: it computes code = min(1023, mV * 1023 / 5000) in integers).
 *
 * The USB-serial bridge. An Uno's ATmega328P talks to a second chip (the 16U2, Arduino-usbserial firmware)
 * over a UART without flow control: the 328P never learns whether its bytes were taken. The 16U2 keeps what
 * the 328P sent in a 128-byte ring and forwards it when the host polls its USB endpoint; when the ring is
 * full, each new byte is dropped. This harness owns that bridge instead of simavr's uart_pty so the model is
 * exact: bytes from the UART go into a 128-byte ring (dropped when full, counted), and the ring is written to
 * the pty whenever the pty takes it (the pty's buffer plays the host's USB and tty buffers). Host -> board
 * bytes go the other way, paced by the UART's own XON/XOFF so none is dropped (the host writes only short
 * command lines). Faults, in simulated seconds from the start, or with --fault-clock host from the first byte
 * the host sends (the recorder's WHORU once it has opened the port, so a fault lands inside the recording
 * however long the host took to start):
 *   --stall AT:DUR   the bridge forwards nothing for DUR s (the host controller stops polling): the ring fills
 *                    and what does not fit is lost; the firmware keeps sampling and sending, unaware.
 *   --reset AT       the MCU resets (avr_reset: RAM cleared, EEPROM kept, so the sketch's boot counter moves).
 *   --unplug AT:DUR  the pty closes and its link goes; DUR s later a new pty appears under the same link and the
 *                    MCU restarts (an Uno is powered by its USB cable); the bridge ring empties with the power.
 * Opening the port resets an Uno (the host raises DTR, a capacitor pulls RESET low): the harness sees the host
 * configure the tty (termios changes, e.g. pyserial setting 500000 baud) and resets the MCU and empties the
 * bridge, so the host never reads what the board sent before it opened the port (--no-dtr-reset: a board
 * without auto-reset). What a real Uno also does and this does not: sit ~0.5 s in its bootloader after a
 * reset; the 16U2's USB packetisation (64-byte packets per 1 ms frame); host->board bytes lost at reset.
 *
 * stdout: one line per event, "event t=SIM_S key=value ...", ending with "end ..."; "host t=SIM_S line=TEXT" for
 * each command line the host sent. The link path appears (atomically, via rename) when the pty is ready.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>

#define F_CPU 16000000UL
#define VREF_MV 5000
#define BRIDGE_RING 128 /* Arduino-usbserial's USART -> USB buffer */
#define SLICE_CYCLES (F_CPU / 1000) /* the bridge is serviced once per simulated millisecond (a USB frame) */
#define MAX_FAULTS 16
#define N_ADC 8

enum fault_kind { STALL, RESET, UNPLUG };
typedef struct {
  enum fault_kind kind;
  double at, dur;
  int state; /* 0 pending, 1 active, 2 done */
} fault_t;

typedef struct {
  uint8_t buf[BRIDGE_RING];
  unsigned head, count;
  unsigned long dropped, forwarded, sent_by_mcu;
} ring_t;

static struct {
  avr_t *avr;
  const char *link;
  int master, slave;
  ring_t up;                  /* board -> host */
  uint8_t down[256];          /* host -> board, waiting for the UART */
  unsigned down_n;
  int uart_xoff;
  int stalled, unplugged;
  unsigned long conv[N_ADC];  /* conversions answered per channel */
  unsigned long resets;
  int *mv;                    /* file samples, n_rows x n_cols */
  unsigned long n_rows, n_cols;
  fault_t faults[MAX_FAULTS];
  int n_faults;
  avr_cycle_count_t cycles;   /* simulated cycles since start, across resets */
  int fault_clock_host;       /* fault times count from the host's first byte */
  double fault_t0;            /* < 0 until the fault clock starts */
  int dtr_reset;              /* reset the MCU when the host opens the port */
  struct termios tio;         /* the tty settings last seen: a change means the host (re)opened the port */
  char line[64];              /* the host's current command line, for the log */
  unsigned line_n;
} S;

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static double sim_s(void) { return (double)S.cycles / F_CPU; }

static void die(const char *what) {
  fprintf(stderr, "uno_sim: %s: %s\n", what, strerror(errno));
  exit(2);
}

static uint32_t counter_mv(unsigned long k, int c) {
  uint32_t code = (uint32_t)((k * (unsigned long)(7 + 5 * c)) % 1024);
  return (code * VREF_MV + 1022) / 1023; /* smallest mV with mV * 1023 / 5000 == code */
}

/* The firmware started a conversion: set the selected pin's voltage before it reads ADCL/ADCH. */
static void on_adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq; (void)param;
  union { avr_adc_mux_t mux; uint32_t v; } e = { .v = value };
  if (e.mux.kind != ADC_MUX_SINGLE || e.mux.src >= N_ADC) return;
  int c = e.mux.src;
  unsigned long k = S.conv[c]++;
  uint32_t mv;
  if (S.mv) mv = (c < (int)S.n_cols) ? (uint32_t)S.mv[(k % S.n_rows) * S.n_cols + c] : 0;
  else mv = counter_mv(k, c);
  avr_raise_irq(avr_io_getirq(S.avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + c), mv);
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq; (void)param;
  S.up.sent_by_mcu++;
  if (S.unplugged) return; /* the MCU is unpowered then; nothing runs, kept for clarity */
  if (S.up.count == BRIDGE_RING) { S.up.dropped++; return; }
  S.up.buf[(S.up.head + S.up.count) % BRIDGE_RING] = (uint8_t)value;
  S.up.count++;
}

static void on_xon(struct avr_irq_t *irq, uint32_t value, void *param) { (void)irq; (void)value; (void)param; S.uart_xoff = 0; }
static void on_xoff(struct avr_irq_t *irq, uint32_t value, void *param) { (void)irq; (void)value; (void)param; S.uart_xoff = 1; }

static void plug(void) {
  struct termios tio;
  char tmp[4096];
  if (openpty(&S.master, &S.slave, NULL, NULL, NULL) < 0) die("openpty");
  /* Raw: no echo of the host's commands back to it, no CR/LF translation of binary frames. */
  if (tcgetattr(S.slave, &tio) < 0) die("tcgetattr");
  cfmakeraw(&tio);
  if (tcsetattr(S.slave, TCSANOW, &tio) < 0) die("tcsetattr");
  if (tcgetattr(S.slave, &S.tio) < 0) die("tcgetattr");
  fcntl(S.master, F_SETFL, fcntl(S.master, F_GETFL) | O_NONBLOCK);
  snprintf(tmp, sizeof tmp, "%s.new", S.link);
  unlink(tmp);
  if (symlink(ttyname(S.slave), tmp) < 0) die("symlink");
  if (rename(tmp, S.link) < 0) die("rename");
  S.unplugged = 0;
}

static void unplug(void) {
  unlink(S.link);
  close(S.master);
  close(S.slave);
  S.master = S.slave = -1;
  S.unplugged = 1;
  S.up.count = 0;
  S.down_n = 0;
}

static void log_host_byte(uint8_t b) {
  if (b == '\n') {
    S.line[S.line_n] = 0;
    printf("host t=%.6f line=%s\n", sim_s(), S.line);
    S.line_n = 0;
  } else if (b >= ' ' && b < 127 && S.line_n < sizeof S.line - 1) {
    S.line[S.line_n++] = (char)b;
  }
}

static void report(const char *what);

/* The host configured the port (it opened it): an Uno resets, and what it had sent before is gone. */
static void watch_dtr(void) {
  struct termios now;
  if (!S.dtr_reset || tcgetattr(S.slave, &now) < 0) return;
  if (now.c_cflag == S.tio.c_cflag && cfgetospeed(&now) == cfgetospeed(&S.tio)) return;
  S.tio = now;
  avr_reset(S.avr);
  S.resets++;
  S.up.count = 0;
  report("dtr_reset");
}

/* One USB frame's worth of bridge work: forward what the host takes, pass its bytes to the UART. */
static void service_bridge(void) {
  if (S.unplugged) return;
  watch_dtr();
  while (!S.stalled && S.up.count) {
    unsigned run = BRIDGE_RING - S.up.head;
    if (run > S.up.count) run = S.up.count;
    ssize_t n = write(S.master, S.up.buf + S.up.head, run);
    if (n <= 0) break; /* the host's buffers are full (EAGAIN): keep the bytes, try next frame */
    S.up.head = (S.up.head + (unsigned)n) % BRIDGE_RING;
    S.up.count -= (unsigned)n;
    S.up.forwarded += (unsigned long)n;
  }
  if (S.down_n < sizeof S.down) {
    ssize_t n = read(S.master, S.down + S.down_n, sizeof S.down - S.down_n);
    if (n > 0) S.down_n += (unsigned)n;
  }
  if (S.down_n && S.fault_t0 < 0) S.fault_t0 = sim_s();
  unsigned i = 0;
  avr_irq_t *in = avr_io_getirq(S.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
  while (i < S.down_n && !S.uart_xoff) {
    log_host_byte(S.down[i]);
    avr_raise_irq(in, S.down[i++]);
  }
  memmove(S.down, S.down + i, S.down_n - i);
  S.down_n -= i;
}

static void report(const char *what) {
  printf("%s t=%.6f conv0=%lu conv1=%lu mcu_bytes=%lu forwarded=%lu dropped=%lu resets=%lu\n", what, sim_s(),
         S.conv[0], S.conv[1], S.up.sent_by_mcu, S.up.forwarded, S.up.dropped, S.resets);
}

static void run_faults(void) {
  if (S.fault_t0 < 0) return;
  double t = sim_s() - S.fault_t0;
  for (int i = 0; i < S.n_faults; i++) {
    fault_t *f = &S.faults[i];
    if (f->state == 0 && t >= f->at) {
      f->state = f->kind == RESET ? 2 : 1;
      if (f->kind == STALL) { S.stalled = 1; report("stall"); }
      if (f->kind == RESET) { avr_reset(S.avr); S.resets++; report("reset"); }
      if (f->kind == UNPLUG) { unplug(); report("unplug"); }
    } else if (f->state == 1 && t >= f->at + f->dur) {
      f->state = 2;
      if (f->kind == STALL) { S.stalled = 0; report("stall_end"); }
      if (f->kind == UNPLUG) { avr_reset(S.avr); S.resets++; plug(); report("replug"); }
    }
  }
}

static void load_mv(const char *path) {
  FILE *fp = fopen(path, "r");
  if (!fp) die(path);
  char line[1024];
  size_t cap = 0, n = 0;
  while (fgets(line, sizeof line, fp)) {
    int row[N_ADC], cols = 0, off = 0, used;
    while (cols < N_ADC && sscanf(line + off, "%d%n", &row[cols], &used) == 1) { off += used; cols++; }
    if (!cols) continue;
    if (!S.n_cols) S.n_cols = (unsigned long)cols;
    if ((unsigned long)cols != S.n_cols) { fprintf(stderr, "uno_sim: %s: ragged line\n", path); exit(2); }
    if (n + (size_t)cols > cap) { cap = cap ? 2 * cap : 4096; S.mv = realloc(S.mv, cap * sizeof *S.mv); }
    if (!S.mv) die("realloc");
    memcpy(S.mv + n, row, (size_t)cols * sizeof *row);
    n += (size_t)cols;
  }
  fclose(fp);
  if (!n) { fprintf(stderr, "uno_sim: %s: no samples\n", path); exit(2); }
  S.n_rows = n / S.n_cols;
}

static void add_fault(enum fault_kind kind, const char *arg) {
  fault_t *f = &S.faults[S.n_faults];
  if (S.n_faults == MAX_FAULTS) { fprintf(stderr, "uno_sim: too many faults\n"); exit(2); }
  f->kind = kind;
  f->dur = 0;
  if (sscanf(arg, kind == RESET ? "%lf" : "%lf:%lf", &f->at, &f->dur) != (kind == RESET ? 1 : 2)) {
    fprintf(stderr, "uno_sim: bad fault argument '%s'\n", arg);
    exit(2);
  }
  S.n_faults++;
}

static avr_t *load_mcu(const char *elf) {
  elf_firmware_t fw;
  memset(&fw, 0, sizeof fw);
  if (elf_read_firmware(elf, &fw) != 0) { fprintf(stderr, "uno_sim: cannot read %s\n", elf); exit(2); }
  avr_t *avr = avr_make_mcu_by_name("atmega328p");
  if (!avr || avr_init(avr) != 0) { fprintf(stderr, "uno_sim: no atmega328p in simavr\n"); exit(2); }
  avr_load_firmware(avr, &fw);
  avr->frequency = F_CPU;
  avr->vcc = avr->avcc = avr->aref = VREF_MV; /* analogReference(DEFAULT) is AVCC on an Uno */
  avr->log = 0;
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), on_adc_trigger, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), on_xon, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), on_xoff, NULL);
  return avr;
}

/* Keep simulated time at pace_x times wall time. When the host starves the harness, simulated time falls behind;
 * it never catches up in a burst (a 400 ms outage must last 400 ms for the host too): past 20 ms of lag the
 * origin moves, and the lag given up is reported at the end ("lag_s"). */
static double lag_given_up_s = 0;

static void pace(double pace_x, struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double wall = (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
  double ahead = sim_s() / pace_x - wall;
  if (ahead < -0.020) {
    double shift = -ahead - 0.020;
    long ns = t0->tv_nsec + (long)((shift - (double)(long)shift) * 1e9);
    t0->tv_sec += (time_t)shift + ns / 1000000000L;
    t0->tv_nsec = ns % 1000000000L;
    lag_given_up_s += shift;
  } else if (ahead > 0) {
    struct timespec d = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
    nanosleep(&d, NULL);
  }
}

static void usage(void) {
  fprintf(stderr, "usage: uno_sim ELF --link PATH [--adc FILE | --pattern counter] [--pace X] [--duration S]\n"
                  "               [--stall AT:DUR]... [--reset AT]... [--unplug AT:DUR]... [--fault-clock start|host]\n"
                  "               [--no-dtr-reset]\n");
  exit(2);
}

static const char *parse_args(int argc, char **argv, double *pace_x, double *duration) {
  const char *elf = NULL;
  S.dtr_reset = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-') { elf = a; continue; }
    if (!v && strcmp(a, "--no-dtr-reset")) usage();
    i++;
    if (!strcmp(a, "--link")) S.link = v;
    else if (!strcmp(a, "--adc")) load_mv(v);
    else if (!strcmp(a, "--pattern")) { if (strcmp(v, "counter")) usage(); }
    else if (!strcmp(a, "--pace")) *pace_x = atof(v);
    else if (!strcmp(a, "--duration")) *duration = atof(v);
    else if (!strcmp(a, "--stall")) add_fault(STALL, v);
    else if (!strcmp(a, "--reset")) add_fault(RESET, v);
    else if (!strcmp(a, "--unplug")) add_fault(UNPLUG, v);
    else if (!strcmp(a, "--fault-clock")) S.fault_clock_host = !strcmp(v, "host");
    else if (!strcmp(a, "--no-dtr-reset")) { S.dtr_reset = 0; i--; }
    else usage();
  }
  if (!elf || !S.link) usage();
  return elf;
}

int main(int argc, char **argv) {
  double pace_x = 0, duration = 1e9;
  struct timespec t0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *elf = parse_args(argc, argv, &pace_x, &duration);
  S.fault_t0 = S.fault_clock_host ? -1 : 0;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  S.avr = load_mcu(elf);
  plug();
  report("ready");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!stop_requested && sim_s() < duration) {
    if (!S.unplugged) {
      avr_cycle_count_t start = S.avr->cycle, end = start + SLICE_CYCLES;
      while (S.avr->cycle < end) {
        int state = avr_run(S.avr);
        if (state == cpu_Done || state == cpu_Crashed) {
          report("crashed");
          return 3;
        }
      }
      S.cycles += S.avr->cycle - start;
    } else {
      S.cycles += SLICE_CYCLES; /* unpowered: time passes, the MCU does not run */
    }
    service_bridge();
    run_faults();
    if (pace_x > 0) pace(pace_x, &t0);
  }
  service_bridge();
  printf("lag t=%.6f lag_s=%.6f\n", sim_s(), lag_given_up_s);
  report("end");
  if (!S.unplugged) unplug();
  return 0;
}
