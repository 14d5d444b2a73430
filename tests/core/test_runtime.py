import platform

import pytest
import torch

from core.engine.runtime import configure_torch, keep_heap, torch_threads


def test_configure_torch_defaults_to_one_thread_and_env_overrides(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("GDSIM_TORCH_THREADS", raising=False)
        assert configure_torch() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("GDSIM_TORCH_THREADS", "2")
        assert configure_torch() == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("GDSIM_TORCH_THREADS", "banana")  # ignored, not a crash
        assert configure_torch() == 1
    finally:
        torch.set_num_threads(before)


def test_torch_threads_sets_the_count_inside_and_restores_it_after():
    before = torch.get_num_threads()
    other = 2 if before != 2 else 1
    try:
        with torch_threads(other):
            assert torch.get_num_threads() == other
        assert torch.get_num_threads() == before
        with torch_threads(other, torch.device("meta")):  # not the CPU: left alone
            assert torch.get_num_threads() == before
        with torch_threads(None):
            assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_keep_heap_sets_glibc_malloc_unless_the_user_set_it(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert keep_heap()  # glibc took both values
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not keep_heap()
