/* esp32_myoware: what this sketch announces in HELLO; must match firmware_configs/esp32_myoware.toml
 * (tests/firmware/test_host_boards.py checks the HELLO built from it against the TOML). */
#ifndef RG_BOARD_CONFIG_H
#define RG_BOARD_CONFIG_H
#include "reengage_board.h"

static const rg_board_config_t RG_BOARD_CONFIG = {
    "esp32_myoware", /* board */
    "1.1.0",         /* fw */
    4,               /* n_ch: GPIO36/39/34/35 (ADC1) */
    1000,            /* fs_hz: one sample per FreeRTOS tick */
    28,              /* spf: 241 B frame, one notification at MTU 247 */
    0,               /* imu_hz: no IMU */
    0,               /* imu_spf */
    0.0f,            /* acc LSB per g */
    0.0f,            /* gyr LSB per deg/s */
    12,              /* adc_bits */
    3300,            /* vref_mv */
    2,               /* late_samples (unused: vTaskDelayUntil catches up instead of skipping) */
    50,              /* overrun_report */
};

#endif
