/*
 * reengage: ESP32 DevKit (or MyoWare Wireless Shield) + 4 MyoWare 2.0 (RAW) on ADC1, over BLE.
 * Board description: firmware_configs/esp32_myoware.toml. Protocol: firmware_configs/PROTOCOL.md.
 * Core: arduino-esp32 (Bluedroid BLE library shipped with it).
 *
 * Wiring: RAW -> GPIO36 glute_max, GPIO39 glute_med, GPIO34 hamstrings, GPIO35 erector_spinae, at 3.3 V.
 * ADC1 pins only: ADC2 cannot be read while the radio runs (ESP-IDF ADC docs). 11 dB attenuation
 * covers ~0-3.1 V; the ESP32 ADC is non-linear near the rails, fine for EMG riding on mid-rail REF.
 *
 * This file holds only the board calls. The logic (frames, the queue of whole frames between the
 * sampler and loop() and what happens when it is full, HELLO/STATUS, commands) is reengage_board.h,
 * run on the host by tests/firmware/test_host_boards.py; this file itself is not compiled there (the
 * ESP32 core is not packaged), see docs/hardware.md.
 * Timing: a FreeRTOS task pinned to core 1 samples every 1 ms with vTaskDelayUntil (tick = 1 kHz on
 * arduino-esp32) and queues whole frames; loop() sends one frame per notification. The BLE callbacks
 * run in the Bluedroid task, so every call into the logic holds `lock`; the ADC reads and the
 * notify happen outside it.
 */
#include <BLEDevice.h>
#include <BLEServer.h>
#include <BLE2902.h>
#include "reengage_protocol.h"
#include "reengage_board.h"
#include "board_config.h"

static const uint8_t PINS[4] = {36, 39, 34, 35};
static const char *SERVICE = "6e0f0001-5c3b-4a5e-9b1f-7265656e6761";
static const char *DATA = "6e0f0002-5c3b-4a5e-9b1f-7265656e6761";
static const char *CONTROL = "6e0f0003-5c3b-4a5e-9b1f-7265656e6761";

static rg_board_t board;
static rg_ring_t ring;  /* 16 frames = 448 ms of EMG: rides out a slow connection event or two */
static SemaphoreHandle_t lock;
static BLECharacteristic *dataChar;
static volatile bool link_up = false;

static void read_emg(void *, int16_t *v) {
  for (uint8_t c = 0; c < RG_BOARD_CONFIG.n_ch; c++) v[c] = (int16_t)analogRead(PINS[c]);
}

class ServerCallbacks : public BLEServerCallbacks {
  void onConnect(BLEServer *) override { link_up = true; }  /* frames flow once it subscribes, too */
  void onDisconnect(BLEServer *s) override {
    link_up = false;  /* the BLE2902 keeps its notify bit over a disconnect */
    xSemaphoreTake(lock, portMAX_DELAY);
    rg_board_set_connected(&board, 0);
    xSemaphoreGive(lock);
    s->startAdvertising();
  }
};

class ControlCallbacks : public BLECharacteristicCallbacks {
  void onWrite(BLECharacteristic *c) override {
    auto v = c->getValue();  /* String on arduino-esp32 3.x, std::string on 2.x: both have c_str(), length() */
    xSemaphoreTake(lock, portMAX_DELAY);
    rg_board_command(&board, (const uint8_t *)v.c_str(), (uint16_t)v.length(), micros());
    xSemaphoreGive(lock);
  }
};

static void sampler(void *) {
  TickType_t wake = xTaskGetTickCount();
  int16_t v[RG_BOARD_MAX_CH];
  for (;;) {
    vTaskDelayUntil(&wake, pdMS_TO_TICKS(1000 / RG_BOARD_CONFIG.fs_hz));
    uint32_t t = micros();
    read_emg(NULL, v);
    xSemaphoreTake(lock, portMAX_DELAY);
    rg_board_push_emg(&board, v, t);  /* streaming or not, connected or not, the index advances */
    xSemaphoreGive(lock);
  }
}

void setup() {
  analogReadResolution(12);
  analogSetAttenuation(ADC_11db);
  lock = xSemaphoreCreateMutex();
  rg_ring_init(&ring);
  rg_board_io_t io = {&ring, read_emg, NULL, rg_ring_push};
  rg_board_init(&board, &RG_BOARD_CONFIG, &io, esp_random(), 0, micros());
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
  static uint8_t frame[RG_MAX_FRAME];
  BLE2902 *cccd = (BLE2902 *)dataChar->getDescriptorByUUID(BLEUUID((uint16_t)0x2902));
  uint8_t subscribed = link_up && cccd != NULL && cccd->getNotifications();
  uint16_t len;
  xSemaphoreTake(lock, portMAX_DELAY);
  rg_board_set_connected(&board, subscribed);
  len = rg_ring_pop(&ring, frame);
  xSemaphoreGive(lock);
  if (len) {
    dataChar->setValue(frame, len);
    dataChar->notify();
    return;  /* drain the queue before the slower duties */
  }
  xSemaphoreTake(lock, portMAX_DELAY);
  rg_board_service(&board, micros());
  xSemaphoreGive(lock);
  delay(1);
}
