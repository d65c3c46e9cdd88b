/*
 * reengage: Arduino Nano 33 BLE Sense Rev2 + up to 4 MyoWare 2.0 (RAW) + BMI270 IMU, over BLE.
 * Board description: firmware_configs/nano33ble_myoware.toml. Protocol: firmware_configs/PROTOCOL.md.
 * Libraries: ArduinoBLE, Arduino_BMI270_BMM150 (Rev2; a Rev1 board has an LSM9DS1 and needs Arduino_LSM9DS1).
 *
 * Wiring: MyoWare RAW -> A0 glute_max, A1 glute_med, A2 hamstrings, A3 erector_spinae; power at 3.3 V.
 * This file holds only the board calls. What the sketch does (the micros() sampling schedule with
 * skipped samples counted, IMU scaling, frames, HELLO/STATUS, commands) is reengage_board.h, which the
 * tests run on the host with fake time and fake sensors (tests/firmware/test_host_boards.py); this
 * file itself is not compiled there (the mbed core is not packaged), see docs/hardware.md.
 * Everything runs in loop(): ArduinoBLE calls the control handler from BLE.poll(), so no locking.
 */
#include <ArduinoBLE.h>
#include <Arduino_BMI270_BMM150.h>
#include "reengage_protocol.h"
#include "reengage_board.h"
#include "board_config.h"

static const uint8_t PINS[4] = {A0, A1, A2, A3};

BLEService service("6e0f0001-5c3b-4a5e-9b1f-7265656e6761");
BLECharacteristic dataChar("6e0f0002-5c3b-4a5e-9b1f-7265656e6761", BLERead | BLENotify, RG_MAX_FRAME);
BLECharacteristic controlChar("6e0f0003-5c3b-4a5e-9b1f-7265656e6761", BLEWrite | BLEWriteWithoutResponse, 20);

static rg_board_t board;

static void read_emg(void *, int16_t *v) {
  for (uint8_t c = 0; c < RG_BOARD_CONFIG.n_ch; c++) v[c] = (int16_t)analogRead(PINS[c]);
}

/* Arduino_BMI270_BMM150 reports g and deg/s; the logic scales them to the TOML's LSB. */
static uint8_t read_imu(void *, float acc[3], float gyr[3]) {
  if (!IMU.accelerationAvailable() || !IMU.gyroscopeAvailable()) return 0;
  IMU.readAcceleration(acc[0], acc[1], acc[2]);
  IMU.readGyroscope(gyr[0], gyr[1], gyr[2]);
  return 1;
}

/* Not connected or not subscribed: the logic does not build frames then (set_connected below). */
static uint8_t notify(void *, const uint8_t *frame, uint16_t len) {
  dataChar.writeValue(frame, len);
  return 1;
}

static void on_control(BLEDevice, BLECharacteristic c) {
  rg_board_command(&board, c.value(), (uint16_t)c.valueLength(), micros());
}

void setup() {
  analogReadResolution(12);
  uint8_t imu_ok = IMU.begin() ? 1 : 0;
  rg_board_io_t io = {NULL, read_emg, read_imu, notify};
  rg_board_init(&board, &RG_BOARD_CONFIG, &io, (uint16_t)(NRF_FICR->DEVICEADDR[0] ^ micros()), imu_ok, micros());
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
}

void loop() {
  BLE.poll();
  rg_board_set_connected(&board, BLE.connected() && dataChar.subscribed());
  rg_board_tick(&board, micros());
}
