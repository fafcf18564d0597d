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
