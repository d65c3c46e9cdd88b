/*
 * reengage: ESP32 DevKit (or MyoWare Wireless Shield) + 4 MyoWare 2.0 (RAW) on ADC1, over BLE.
 * Board description: firmware_configs/esp32_myoware.toml. Protocol: firmware_configs/PROTOCOL.md.
 * Core: arduino-esp32 (Bluedroid BLE library shipped with it).
 *
 * Wiring: RAW -> GPIO36 glute_max, GPIO39 glute_med, GPIO34 hamstrings, GPIO35 erector_spinae, at 3.3 V.
 * ADC1 pins only: ADC2 cannot be read while the radio runs (ESP-IDF ADC docs). 11 dB attenuation
 * covers ~0-3.1 V; the ESP32 ADC is non-linear near the rails, fine for EMG riding on mid-rail REF.
 * Timing: a FreeRTOS task pinned to core 1 samples every 1 ms with vTaskDelayUntil (tick = 1 kHz on
 * arduino-esp32) and queues whole frames; loop() on the same core sends one frame per notification.
 */
#include <BLEDevice.h>
#include <BLEServer.h>
#include <BLE2902.h>
#include "reengage_protocol.h"

#define FW_VERSION "1.0.0"
#define FS_HZ 1000
#define N_CH 4
#define SPF 28
#define HELLO_EVERY_MS 5000UL

static const uint8_t PINS[N_CH] = {36, 39, 34, 35};
static const char *SERVICE = "6e0f0001-5c3b-4a5e-9b1f-7265656e6761";
static const char *DATA = "6e0f0002-5c3b-4a5e-9b1f-7265656e6761";
static const char *CONTROL = "6e0f0003-5c3b-4a5e-9b1f-7265656e6761";

typedef struct { uint8_t len; uint8_t buf[RG_MAX_FRAME]; } frame_t;

static QueueHandle_t frames;
static BLECharacteristic *dataChar;
static volatile bool connected = false, streaming = true;
static volatile uint32_t overrun = 0;
static uint16_t seq = 0;  /* only the sampling task and send_text (under seq_lock) touch it */
static portMUX_TYPE seq_lock = portMUX_INITIALIZER_UNLOCKED;
static uint32_t boot_id;
static unsigned long last_hello = 0;

static uint16_t next_seq() {
  portENTER_CRITICAL(&seq_lock);
  uint16_t s = seq++;
  portEXIT_CRITICAL(&seq_lock);
  return s;
}

static void enqueue(const uint8_t *buf, uint16_t n) {
  frame_t f;
  f.len = (uint8_t)n;
  memcpy(f.buf, buf, n);
  if (xQueueSend(frames, &f, 0) != pdTRUE) overrun++;
}

static void send_text(uint8_t type, const char *text) {
  static uint8_t tx[RG_MAX_FRAME];
  uint16_t n = rg_frame_encode(tx, type, next_seq(), 0, micros(), 0, 0, (const uint8_t *)text, (uint8_t)strlen(text));
  enqueue(tx, n);
}

static void send_hello() {
  char text[160];
  snprintf(text, sizeof text, "proto=1;board=esp32_myoware;fw=" FW_VERSION ";boot=%lu;emg=0,%d,%d;adc=12;vref_mv=3300;spf=%d",
           (unsigned long)boot_id, N_CH, FS_HZ, SPF);
  send_text(RG_TYPE_HELLO, text);
  last_hello = millis();
}

static void send_status(const char *extra) {
  char text[96];
  snprintf(text, sizeof text, "state=%s;overrun=%lu%s%s", streaming ? "streaming" : "stopped",
           (unsigned long)overrun, extra[0] ? ";" : "", extra);
  overrun = 0;
  send_text(RG_TYPE_STATUS, text);
}

class ServerCallbacks : public BLEServerCallbacks {
  void onConnect(BLEServer *) override { connected = true; }
  void onDisconnect(BLEServer *s) override { connected = false; s->startAdvertising(); }
};

class ControlCallbacks : public BLECharacteristicCallbacks {
  void onWrite(BLECharacteristic *c) override {
    rg_cmd_parser_t p;
    rg_cmd_init(&p);
    String v = c->getValue();
    for (size_t i = 0; i < v.length(); i++) {
      uint8_t id = rg_cmd_feed(&p, (uint8_t)v[i]);
      if (id == RG_CMD_WHORU) send_hello();
      else if (id == RG_CMD_START) { streaming = true; send_hello(); }
      else if (id == RG_CMD_STOP) { streaming = false; send_status(""); }
      else if (id == RG_CMD_STATUS) send_status("");
      else if (id == RG_CMD_UNKNOWN) send_status("error=unknown_command");
    }
  }
};

static void sampler(void *) {
  static rg_block_t emg;
  rg_block_init(&emg, RG_TYPE_EMG, 0, N_CH, SPF);
  uint32_t index = 0;
  TickType_t wake = xTaskGetTickCount();
  for (;;) {
    vTaskDelayUntil(&wake, pdMS_TO_TICKS(1000 / FS_HZ));
    uint32_t t = micros();
    int16_t v[N_CH];
    for (uint8_t c = 0; c < N_CH; c++) v[c] = (int16_t)analogRead(PINS[c]);
    /* Streaming or not, connected or not, the index advances: the host sees every outage as a gap. */
    if (streaming && connected && rg_block_push(&emg, v, index, t)) {
      uint16_t n = rg_block_seal(&emg, next_seq());
      enqueue(emg.buf, n);
    } else if (!(streaming && connected) && emg.n) {
      emg.n = 0;
    }
    index++;
  }
}

void setup() {
  boot_id = esp_random();
  analogReadResolution(12);
  analogSetAttenuation(ADC_11db);
  frames = xQueueCreate(16, sizeof(frame_t));
  BLEDevice::init("reengage-esp32");
  BLEDevice::setMTU(247);
  BLEServer *server = BLEDevice::createServer();
  server->setCallbacks(new ServerCallbacks());
  BLEService *service = server->createService(SERVICE);
  dataChar = service->createCharacteristic(DATA, BLECharacteristic::PROPERTY_NOTIFY | BLECharacteristic::PROPERTY_READ);
  dataChar->addDescriptor(new BLE2902());
  BLECharacteristic *control = service->createCharacteristic(
      CONTROL, BLECharacteristic::PROPERTY_WRITE | BLECharacteristic::PROPERTY_WRITE_NR);
  control->setCallbacks(new ControlCallbacks());
  service->start();
  BLEAdvertising *adv = BLEDevice::getAdvertising();
  adv->addServiceUUID(SERVICE);
  adv->setMinPreferred(0x06);  /* 7.5 ms connection interval preferred */
  adv->setMaxPreferred(0x0C);
  BLEDevice::startAdvertising();
  xTaskCreatePinnedToCore(sampler, "sampler", 4096, NULL, 3, NULL, 1);
}

void loop() {
  frame_t f;
  while (xQueueReceive(frames, &f, pdMS_TO_TICKS(5)) == pdTRUE) {
    if (connected) {
      dataChar->setValue(f.buf, f.len);
      dataChar->notify();
    }
  }
  if (overrun >= 50) send_status("");
  if (connected && streaming && millis() - last_hello >= HELLO_EVERY_MS) send_hello();
}
