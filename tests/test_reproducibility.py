"""Counter-based streams: replicate i depends only on (params, seed, i)."""

import numpy as np

import stability
from stability import params as P
from stability.model import rng as R
from stability.model.simulate import run_batch
from stability.reference import Stream

PARAMS = {"polarity": "multipolar", "doctrine": "offensive"}


def records(ds):
    return {k: ds[k].values for k in ("hegemony", "hegemony_time", "hegemon_rank", "wars",
                                      "final_max_share", "balancing")}


def test_same_seed_same_records():
    a = records(stability.simulate(PARAMS, 200, seed=5))
    b = records(stability.simulate(PARAMS, 200, seed=5))
    for k in a:
        assert a[k].tobytes() == b[k].tobytes()


def test_other_seed_other_records():
    a = stability.simulate(PARAMS, 200, seed=5)
    b = stability.simulate(PARAMS, 200, seed=6)
    assert not np.array_equal(a.final_max_share.values, b.final_max_share.values)


def test_replicate_unchanged_when_more_are_asked_for():
    small = records(stability.simulate(PARAMS, 50, seed=9))
    large = records(stability.simulate(PARAMS, 300, seed=9))
    for k in small:
        assert small[k].tobytes() == large[k][:50].tobytes()


def test_batch_order_and_company_do_not_matter():
    v = P.pack(P.resolve(PARAMS))[None, :]
    reps = np.arange(100)
    whole = run_batch(v, 3, reps)
    shuffled = np.random.default_rng(0).permutation(reps)
    parts = run_batch(v, 3, shuffled)
    back = np.argsort(shuffled)
    for k in whole:
        assert whole[k].tobytes() == parts[k][back].tobytes()
    alone = run_batch(v, 3, np.array([77]))
    for k in whole:
        assert alone[k][0] == whole[k][77]


def test_reference_stream_equals_kernel_stream():
    reps = np.arange(5, dtype=np.int64)
    kernel = R.randomize_uniforms(42, reps, 3, 6)
    for k, rep in enumerate(reps):
        s = Stream(42, int(rep))
        s.phase(3, R.PH_RANDOMIZE)
        assert [s.uniform() for _ in range(6)] == list(kernel[k])


def test_uniforms_are_uniform():
    u = R.randomize_uniforms(1, np.arange(20000, dtype=np.int64), 0, 10).ravel()
    n = u.size
    assert 0.0 <= u.min() and u.max() < 1.0
    # mean 1/2 with sd sqrt(1/12 n); variance 1/12 with sd sqrt(1/180 n)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    # neighbouring counters and neighbouring replicates are uncorrelated
    grid = u.reshape(20000, 10)
    for a, b in ((grid[:, 0], grid[:, 1]), (grid[:-1, 0], grid[1:, 0])):
        r = np.corrcoef(a, b)[0, 1]
        assert abs(r) < 5 / np.sqrt(a.size)


def test_concurrent_batches_in_threads_match_serial():
    # run_batch releases the GIL: batches in several threads at once must each give what
    # they give alone. (A batch's working memory was once freed while the kernel still wrote
    # into it; another thread's batch was handed the same memory, and their records mixed.)
    from concurrent.futures import ThreadPoolExecutor

    v = P.pack(P.resolve(PARAMS))[None, :]
    seeds = list(range(8))
    reps = np.arange(60)
    alone = [run_batch(v, s, reps) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            together = list(pool.map(lambda s: run_batch(v, s, reps), seeds))
            for a, b in zip(alone, together, strict=True):
                for k in a:
                    assert a[k].tobytes() == b[k].tobytes(), k
