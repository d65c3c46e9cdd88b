/*
 * reengage: Arduino Uno / Nano (ATmega328P, 16 MHz) + 2 MyoWare 2.0, RAW outputs, USB serial.
 * Board description: firmware_configs/uno_myoware.toml. Protocol: firmware_configs/PROTOCOL.md.
 *
 * Wiring: MyoWare 2.0 #1 RAW -> A0 (glute_max), #2 RAW -> A1 (hamstrings), both powered from 5V/GND.
 * Safety (SparkFun): run the laptop on battery, charger unplugged, while electrodes are on a person.
 *
 * Timing: Timer1 in CTC mode fires at exactly 1 kHz and the ISR reads both channels (2 x ~104 us at the
 * default ADC prescaler 128, i.e. full 10-bit accuracy), so sample spacing does not depend on loop()
 * or on the serial port. The ISR only fills a ring buffer; loop() packs 8 samples per frame and writes
 * them at 500 000 baud (an exact divisor at 16 MHz, unlike 115200/230400). If the ring overflows the
 * sample is dropped but SAMPLE_INDEX still advances, so the host sees an exact gap, never a splice.
 */
#include <EEPROM.h>
#include "reengage_protocol.h"

#define FW_VERSION "1.0.0"
#define BAUD 500000UL
#define FS_HZ 1000
#define N_CH 2
#define SPF 8            /* samples per frame: 49-byte frames every 8 ms = 12 % of the link */
#define RING 32          /* samples buffered between the ISR and loop() (power of two); see below */
#define HELLO_EVERY_MS 5000UL

/* RING, measured on an emulated ATmega328P (docs/hardware.md, bench/bench_firmware.py): loop() falls at most
 * 3 samples behind at 1 kHz x 2 and 19 at the 2-channel limit (2.5 kHz), mostly while a HELLO is formatted
 * and written; 32 keeps that limit, and 64 (1 KB of ring at 4 channels) left too little stack for more
 * than 3 channels. The pins are listed for every N_CH the Uno has inputs for, so a variant changes N_CH only. */
static const uint8_t PINS[] = {A0, A1, A2, A3, A4, A5};
static_assert(N_CH >= 1 && N_CH <= sizeof PINS, "the Uno has 6 analog inputs");

static volatile int16_t ring_v[RING][N_CH];
static volatile uint32_t ring_t[RING];
static volatile uint32_t ring_i[RING];
static volatile uint8_t head = 0, tail = 0;
static volatile uint32_t sample_index = 0;
static volatile uint16_t overrun = 0;
static volatile uint8_t streaming = 1; /* stream from boot: PROTOCOL.md §4 */

static rg_block_t block;
static uint8_t tx[RG_MAX_FRAME];
static uint16_t seq = 0;
static uint16_t boot_id = 0;
static rg_cmd_parser_t cmd;
static unsigned long last_hello = 0;

ISR(TIMER1_COMPA_vect) {
  uint32_t t, i;
  uint8_t next;
  if (!streaming) return;
  t = micros();
  i = sample_index++;
  next = (uint8_t)((head + 1) & (RING - 1));
  if (next == tail) {  /* loop() fell behind: drop, count, keep the index running */
    overrun++;
    return;
  }
  for (uint8_t c = 0; c < N_CH; c++) ring_v[head][c] = (int16_t)analogRead(PINS[c]);
  ring_t[head] = t;
  ring_i[head] = i;
  head = next;
}

static void send_text(uint8_t type, const char *text) {
  uint16_t n = rg_frame_encode(tx, type, seq++, 0, micros(), 0, 0, (const uint8_t *)text, (uint8_t)strlen(text));
  Serial.write(tx, n);
}

static void send_hello() {
  char text[120];
  snprintf(text, sizeof text, "proto=1;board=uno_myoware;fw=" FW_VERSION ";boot=%u;emg=0,%d,%d;adc=10;vref_mv=5000;spf=%d",
           boot_id, N_CH, FS_HZ, SPF);
  send_text(RG_TYPE_HELLO, text);
  last_hello = millis();
}

static void send_status(const char *extra) {
  char text[96];
  uint16_t o;
  noInterrupts();
  o = overrun;
  overrun = 0;
  interrupts();
  snprintf(text, sizeof text, "state=%s;overrun=%u%s%s", streaming ? "streaming" : "stopped", o,
           extra[0] ? ";" : "", extra);
  send_text(RG_TYPE_STATUS, text);
}

void setup() {
  /* A boot counter in EEPROM lets the host tell a reset from a glitch (PROTOCOL.md §3 `boot`). */
  EEPROM.get(0, boot_id);
  boot_id++;
  EEPROM.put(0, boot_id);
  Serial.begin(BAUD);
  rg_block_init(&block, RG_TYPE_EMG, 0, N_CH, SPF);
  rg_cmd_init(&cmd);
  send_hello();
  noInterrupts();
  TCCR1A = 0;
  TCCR1B = _BV(WGM12) | _BV(CS11) | _BV(CS10);  /* CTC, prescaler 64 -> 250 kHz */
  OCR1A = (uint16_t)(250000UL / FS_HZ - 1);      /* 249 -> 1000.0 Hz */
  TCNT1 = 0;
  TIMSK1 = _BV(OCIE1A);
  interrupts();
}

void loop() {
  while (Serial.available() > 0) {
    uint8_t id = rg_cmd_feed(&cmd, (uint8_t)Serial.read());
    if (id == RG_CMD_WHORU) send_hello();
    else if (id == RG_CMD_START) { streaming = 1; send_hello(); }
    else if (id == RG_CMD_STOP) { streaming = 0; send_status(""); }
    else if (id == RG_CMD_STATUS) send_status("");
    else if (id == RG_CMD_UNKNOWN) send_status("error=unknown_command");
  }
  /* At most one ring's worth per pass: when sampling outpaces the CPU or the link, the ring never empties,
   * and an unbounded drain would never get back to the commands above or report the overrun (measured). */
  for (uint8_t k = 0; k < RING && tail != head; k++) {
    int16_t v[N_CH];
    uint8_t t = tail;
    for (uint8_t c = 0; c < N_CH; c++) v[c] = ring_v[t][c];
    /* A dropped sample breaks contiguity: close the block so each frame's samples are consecutive. */
    if (block.n && ring_i[t] != block.first_index + block.n) {
      uint16_t n = rg_block_seal(&block, seq++);
      Serial.write(block.buf, n);
    }
    uint8_t full = rg_block_push(&block, v, ring_i[t], ring_t[t]);
    tail = (uint8_t)((t + 1) & (RING - 1));
    if (full) {
      uint16_t n = rg_block_seal(&block, seq++);
      Serial.write(block.buf, n);
    }
  }
  if (overrun) send_status("");
  if (streaming && millis() - last_hello >= HELLO_EVERY_MS) send_hello();
}
