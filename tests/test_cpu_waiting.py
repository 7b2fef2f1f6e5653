"""How torch's CPU threads wait: spinning on free cores, sleeping on shared ones (core/cpu_waiting.py)."""

from core import cpu_waiting


def sampled(busy_jiffies: float, cores: int = 2):
    """A /proc/stat that shows `busy_jiffies` of other work over 100 jiffies per core."""
    readings = iter([(1000.0, 10_000.0), (1000.0 + busy_jiffies, 10_000.0 + 100 * cores)])
    return lambda: next(readings)


def test_the_busy_cores_are_measured_while_this_process_sleeps():
    slept = []
    assert cpu_waiting.busy_cores(sampled(100), slept.append, cores=2) == 1.0
    assert slept == [cpu_waiting.SAMPLE_S]
    assert cpu_waiting.busy_cores(lambda: None) is None


def test_free_cores_spin_a_while_and_shared_ones_sleep_at_once():
    free = cpu_waiting.choose({}, busy=0.1)
    assert "OMP_WAIT_POLICY" not in free and int(free["GOMP_SPINCOUNT"]) > 300_000  # longer than libgomp's own
    assert cpu_waiting.choose({}, busy=1.0) == {"OMP_WAIT_POLICY": "PASSIVE"}   # one other busy process
    assert cpu_waiting.choose({}, busy=None) == {"OMP_WAIT_POLICY": "PASSIVE"}  # a platform that does not say
    # torchrun's ranks on one machine share its cores with each other
    assert cpu_waiting.choose({"LOCAL_WORLD_SIZE": "2"}, busy=0.0) == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_a_setting_the_user_made_is_left_alone():
    for name in cpu_waiting.USER_SETTINGS:
        environ = {name: "1"}
        assert cpu_waiting.choose(environ, busy=0.0) == {}
        assert cpu_waiting.set_waiting(environ) == "as set in the environment" and environ == {name: "1"}


def test_decoding_beside_the_model_follows_the_choice():
    assert cpu_waiting.threads_sleep({"OMP_WAIT_POLICY": "passive"})
    assert not cpu_waiting.threads_sleep({"GOMP_SPINCOUNT": cpu_waiting.IDLE_SPINS})
