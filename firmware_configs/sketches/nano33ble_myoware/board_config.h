/* nano33ble_myoware: what this sketch announces in HELLO; must match firmware_configs/nano33ble_myoware.toml
 * (tests/firmware/test_host_boards.py checks the HELLO built from it against the TOML). */
#ifndef RG_BOARD_CONFIG_H
#define RG_BOARD_CONFIG_H
#include "reengage_board.h"

static const rg_board_config_t RG_BOARD_CONFIG = {
    "nano33ble_myoware", /* board */
    "1.1.0",             /* fw */
    4,                   /* n_ch: A0..A3 */
    1000,                /* fs_hz */
    28,                  /* spf: 4 ch x 28 x 2 B = 224 B payload, 241 B frame: one notification at MTU 247 */
    100,                 /* imu_hz: BMI270 at 99.84 Hz (the TOML's figure; HELLO carries whole Hz) */
    10,                  /* imu_spf */
    8192.0f,             /* acc LSB per g: +-4 g over int16 (TOML scale 1/8192 g) */
    16.384f,             /* gyr LSB per deg/s: +-2000 deg/s over int16 (TOML scale 2000/32768) */
    12,                  /* adc_bits: analogReadResolution(12) */
    3300,                /* vref_mv */
    2,                   /* late_samples: later than 2 ms, a sample is skipped */
    100,                 /* overrun_report */
};

#endif
