/*
 * reengage: Arduino Nano 33 BLE Sense Rev2 + up to 4 MyoWare 2.0 (RAW) + BMI270 IMU, over BLE.
 * Board description: firmware_configs/nano33ble_myoware.toml. Protocol: firmware_configs/PROTOCOL.md.
 * Libraries: ArduinoBLE, Arduino_BMI270_BMM150 (Rev2; a Rev1 board has an LSM9DS1 and needs Arduino_LSM9DS1).
 *
 * Wiring: MyoWare RAW -> A0 glute_max, A1 glute_med, A2 hamstrings, A3 erector_spinae; power at 3.3 V.
 * Timing: on the mbed core analogRead() takes a mutex and must not run in an ISR, so loop() samples on a
 * micros() schedule; SAMPLE_INDEX is derived from that schedule, so a late loop shows up as timing jitter
 * (measured by the host's clock fit), and a sample the loop could not take at all is skipped with its
 * index counted, never spliced. One frame per notification: 28 samples x 4 ch = 224 B (needs MTU 247).
 */
#include <ArduinoBLE.h>
#include <Arduino_BMI270_BMM150.h>
#include "reengage_protocol.h"

#define FW_VERSION "1.0.0"
#define FS_HZ 1000
#define N_CH 4
#define SPF 28
#define IMU_SPF 10
#define HELLO_EVERY_MS 5000UL

static const uint8_t PINS[N_CH] = {A0, A1, A2, A3};

BLEService service("6e0f0001-5c3b-4a5e-9b1f-7265656e6761");
BLECharacteristic dataChar("6e0f0002-5c3b-4a5e-9b1f-7265656e6761", BLERead | BLENotify, RG_MAX_FRAME);
BLECharacteristic controlChar("6e0f0003-5c3b-4a5e-9b1f-7265656e6761", BLEWrite | BLEWriteWithoutResponse, 20);

static rg_block_t emg, imu;
static uint8_t tx[RG_MAX_FRAME];
static uint16_t seq = 0;
static uint32_t sample_index = 0, imu_index = 0, next_us = 0, overrun = 0;
static unsigned long last_hello = 0;
static uint8_t streaming = 1, imu_ok = 0;
static uint16_t boot_id;

static void send(const uint8_t *buf, uint16_t n) {
  if (BLE.connected() && dataChar.subscribed()) dataChar.writeValue(buf, n);
}

static void send_text(uint8_t type, const char *text) {
  uint16_t n = rg_frame_encode(tx, type, seq++, 0, micros(), 0, 0, (const uint8_t *)text, (uint8_t)strlen(text));
  send(tx, n);
}

static void send_hello() {
  char text[160];
  snprintf(text, sizeof text, "proto=1;board=nano33ble_myoware;fw=" FW_VERSION ";boot=%u;emg=0,%d,%d;imu=1,6,100;adc=12;vref_mv=3300;spf=%d",
           boot_id, N_CH, FS_HZ, SPF);
  send_text(RG_TYPE_HELLO, text);
  last_hello = millis();
}

static void send_status(const char *extra) {
  char text[96];
  snprintf(text, sizeof text, "state=%s;overrun=%lu%s%s%s", streaming ? "streaming" : "stopped",
           (unsigned long)overrun, imu_ok ? "" : ";imu=absent", extra[0] ? ";" : "", extra);
  overrun = 0;
  send_text(RG_TYPE_STATUS, text);
}

static void on_control(BLEDevice, BLECharacteristic c) {
  rg_cmd_parser_t p;
  rg_cmd_init(&p);
  const uint8_t *v = c.value();
  for (int i = 0; i < c.valueLength(); i++) {
    uint8_t id = rg_cmd_feed(&p, v[i]);
    if (id == RG_CMD_WHORU) send_hello();
    else if (id == RG_CMD_START) { streaming = 1; send_hello(); }
    else if (id == RG_CMD_STOP) { streaming = 0; send_status(""); }
    else if (id == RG_CMD_STATUS) send_status("");
    else if (id == RG_CMD_UNKNOWN) send_status("error=unknown_command");
  }
}

void setup() {
  analogReadResolution(12);
  boot_id = (uint16_t)(NRF_FICR->DEVICEADDR[0] ^ micros());
  imu_ok = IMU.begin();
  if (!BLE.begin()) {
    while (1) delay(1000);  /* no radio: nothing useful to do; the LED stays off */
  }
  BLE.setLocalName("reengage-nano33");
  BLE.setDeviceName("reengage-nano33");
  BLE.setConnectionInterval(6, 12);  /* 7.5-15 ms: room for 1 kHz x 4 ch (acquisition.md BLE budget) */
  BLE.setAdvertisedService(service);
  service.addCharacteristic(dataChar);
  service.addCharacteristic(controlChar);
  BLE.addService(service);
  controlChar.setEventHandler(BLEWritten, on_control);
  BLE.advertise();
  rg_block_init(&emg, RG_TYPE_EMG, 0, N_CH, SPF);
  rg_block_init(&imu, RG_TYPE_IMU, 1, 6, IMU_SPF);
  next_us = micros();
}

void loop() {
  BLE.poll();
  uint32_t now = micros();
  /* Sample every 1000 us on schedule; if the loop was late by more than 2 samples, skip them (counted). */
  while ((int32_t)(now - next_us) >= 0) {
    if ((int32_t)(now - next_us) > 2000) {
      if (emg.n) send(emg.buf, rg_block_seal(&emg, seq++));
      overrun++;
      sample_index++;
      next_us += 1000000UL / FS_HZ;
      continue;
    }
    int16_t v[N_CH];
    for (uint8_t c = 0; c < N_CH; c++) v[c] = (int16_t)analogRead(PINS[c]);
    if (streaming && rg_block_push(&emg, v, sample_index, next_us)) send(emg.buf, rg_block_seal(&emg, seq++));
    sample_index++;
    next_us += 1000000UL / FS_HZ;
  }
  if (imu_ok && IMU.accelerationAvailable() && IMU.gyroscopeAvailable()) {
    float ax, ay, az, gx, gy, gz;
    IMU.readAcceleration(ax, ay, az);
    IMU.readGyroscope(gx, gy, gz);
    /* TOML scale: 4 g / 32768 per LSB and 2000 dps / 32768 per LSB */
    int16_t v[6] = {(int16_t)(ax * 8192), (int16_t)(ay * 8192), (int16_t)(az * 8192),
                    (int16_t)(gx * 16.384f), (int16_t)(gy * 16.384f), (int16_t)(gz * 16.384f)};
    if (streaming && rg_block_push(&imu, v, imu_index, micros())) send(imu.buf, rg_block_seal(&imu, seq++));
    imu_index++;
  }
  if (overrun >= 100) send_status("");
  if (streaming && millis() - last_hello >= HELLO_EVERY_MS) send_hello();
}
