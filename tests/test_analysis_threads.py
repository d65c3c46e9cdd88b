"""analyze() processes channels in worker threads; the result must not depend on how many, and the process's
BLAS thread setting must be left as it was (a notebook keeps using numpy afterwards)."""

import json

from threadpoolctl import threadpool_info

from reengage.analysis import analyze
from reengage.validation.synthrec import session_recording
from reengage.synth import SubjectProfile, synthesize


def test_same_result_with_one_or_several_threads_and_blas_setting_restored():
    prof = SubjectProfile(onset_ms={"hamstrings": 0.0, "glute_max": 50.0, "glute_med": 20.0, "erector_spinae": -10.0},
                          pct_mvc={"hamstrings": 40.0, "glute_max": 30.0, "glute_med": 25.0, "erector_spinae": 20.0},
                          snr_db=12.0)
    rec = session_recording(synthesize(prof, duration_s=60.0, fs_hz=1000.0, imu_fs_hz=100.0, seed=3), adc_bits=10)
    before = sorted((i["filepath"], i["num_threads"]) for i in threadpool_info())
    one = analyze(rec, threads=1)
    four = analyze(rec, threads=4)
    assert sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()) == before
    assert json.dumps(one, sort_keys=True) == json.dumps(four, sort_keys=True)
    assert one["summary"]["reps_detected"] >= 5  # the comparison covers real reps


def test_single_threaded_blas_overlapping_in_two_threads_restores_the_setting():
    import threading

    from reengage.dsp import single_threaded_blas

    def blas_threads():
        return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")

    before = blas_threads()
    entered, release = threading.Event(), threading.Event()

    def worker():
        with single_threaded_blas():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    with single_threaded_blas():
        t.start()
        entered.wait(5)
        assert all(n == 1 for _, n in blas_threads())
        release.set()
        t.join(5)
        # the worker's nested block ended first: the setting belongs to the outer block, still one thread
        assert all(n == 1 for _, n in blas_threads())
    assert blas_threads() == before
