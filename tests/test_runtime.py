import pytest
import torch

from brushwork import runtime
from brushwork.errors import BrushworkError


def test_resolve_device():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    auto = runtime.resolve_device("auto")
    assert auto.type in ("cpu", "cuda", "mps")
    with pytest.raises(BrushworkError, match="unknown device"):
        runtime.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BrushworkError, match="no CUDA GPU"):
            runtime.resolve_device("cuda")


def test_generator_is_seeded():
    a = torch.rand(5, generator=runtime.make_generator(3))
    b = torch.rand(5, generator=runtime.make_generator(3))
    c = torch.rand(5, generator=runtime.make_generator(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_precision_and_autocast():
    assert runtime.resolve_dtype("bf16") == torch.bfloat16
    with pytest.raises(BrushworkError, match="unknown precision"):
        runtime.resolve_dtype("fp8")
    x = torch.rand(4, 4)
    with runtime.autocast(torch.device("cpu"), "fp32"):
        assert (x @ x).dtype == torch.float32
    with runtime.autocast(torch.device("cpu"), "bf16"):
        assert (x @ x).dtype == torch.bfloat16


def test_ctrl_c_waits_for_the_block_says_so_and_a_second_one_stops_at_once(capsys):
    """The first SIGINT inside the block is held until it ends (then KeyboardInterrupt), with a line saying so;
    a second stops at once; an error raised in the block is not turned into an interrupt."""
    import os
    import signal

    import pytest

    from brushwork.runtime import interrupts_deferred

    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred("step"):
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"] and "stopping after this step" in capsys.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            done.append("never")
    assert "never" not in done
    with pytest.raises(ValueError):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            raise ValueError("the block's own error")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
